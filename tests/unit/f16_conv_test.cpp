// The f16 convolution (Arm FEAT_FP16): the reference fused multiply-add's
// rounding on hand-made cases, the FMLA GEMM, panel packing and input
// magnitude against their scalar twins bit for bit (Arm with FP16 only),
// the whole conv against its scalar twin bit for bit and against the f32
// direct loops within f16's error on awkward shapes and 1-2 threads, the range scaling on inputs naive f16 would
// overflow or flush, the fallback on what it cannot scale, and a compiled
// PP-OCR recognizer with convs marked f16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/f16_conv.h"
#include "kernel_test_util.h"
#include "precision_test_util.h"
#include "pareto/dtype.h"
#include "pareto/pareto.hpp"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;
using pareto::testing::randn;

namespace {

uint16_t h(float v) { return float_to_half(v); }

}  // namespace

TEST(F16Gemm, ReferenceFmaRoundsOnceToNearestEven) {
  EXPECT_EQ(f16_fma_ref(h(1.f), h(1.f), 0), h(1.f));
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even one.
  EXPECT_EQ(f16_fma_ref(h(0x1p-11f), h(1.f), h(1.f)), h(1.f));
  EXPECT_EQ(f16_fma_ref(h(0x1p-11f), h(1.f), h(1.f + 0x1p-10f)), h(1.f + 0x1p-9f));
  // Fused: (1 + 2^-10)^2 - (1 + 2^-9) is 2^-20 (a subnormal); rounding the
  // product first would give 0.
  EXPECT_EQ(f16_fma_ref(h(1.f + 0x1p-10f), h(1.f + 0x1p-10f), h(-(1.f + 0x1p-9f))), uint16_t(0x0010));
  EXPECT_EQ(f16_fma_ref(h(0x1p-14f), h(0x1p-5f), 0), uint16_t(0x0020));  // 2^-19, subnormal
  EXPECT_EQ(f16_fma_ref(h(65504.f), h(1.f), h(16.f)), uint16_t(0x7c00));  // 65520 ties up to infinity
  EXPECT_EQ(f16_fma_ref(h(65504.f), h(1.f), h(15.f)), h(65504.f));
  EXPECT_EQ(f16_fma_ref(h(-1.f), h(0.f), 0), uint16_t(0));                   // -0 + +0 = +0
  EXPECT_EQ(f16_fma_ref(h(-0x1p-24f), h(0.25f), uint16_t(0x8000)), uint16_t(0x8000));  // a negative result rounding to zero keeps its sign
  // Just above the midpoint 2049 between 2048 and 2050: up.
  EXPECT_EQ(f16_fma_ref(h(1.f + 0x1p-10f), h(1.f + 0x1p-10f), h(2048.f)), h(2050.f));
  EXPECT_EQ(f16_fma_ref(h(1.f), h(1.f), h(2048.f)), h(2048.f));                // exactly on it: to even
  EXPECT_EQ(f16_fma_ref(h(0x1p-12f), h(0x1p-12f), h(2050.f)), h(2050.f));      // 2^-24 beside 2050: no effect
  EXPECT_EQ(f16_fma_ref(h(-0x1p-12f), h(0x1p-12f), h(2048.f)), h(2048.f));     // nor below it
}

#if defined(__aarch64__)

namespace {

// Values with few significant bits, so that sums land on f16 midpoints and
// exact zeros often, mixed with ordinary ones.
std::vector<uint16_t> coarse_halves(size_t n, unsigned seed) {
  std::vector<float> v = randn(n, seed);
  std::vector<uint16_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    float x = v[i];
    if (i % 3 == 0) x = std::ldexp(std::round(x * 4.f), int(i % 7) - 3);
    if (i % 11 == 0) x = std::ldexp(1.f, int(i % 13) - 6);
    out[i] = h(x);
  }
  return out;
}

}  // namespace

TEST(F16Gemm, ArmKernelEqualsReferenceBitForBit) {
  if (!cpu_features().fp16) GTEST_SKIP() << "this CPU has no FEAT_FP16: the FMLA .8h kernel is built but not run";
  for (int64_t m : {1, 3, 4, 5, 9})
    for (int64_t k8 : {8, 32, 40, 104})
      for (int64_t n : {1, 15, 16, 17, 50})
        for (bool accumulate : {false, true}) {
          const int64_t n16 = (n + 15) / 16 * 16, lda = k8 + 8, ldc = n + 3;
          const auto a = coarse_halves(size_t(m * lda), unsigned(m * 7 + k8));
          const auto b = coarse_halves(size_t(k8 * n16), unsigned(n * 5 + k8 + 1));
          std::vector<float> scale(static_cast<size_t>(m));
          for (int64_t r = 0; r < m; ++r) scale[size_t(r)] = std::ldexp(1.f, int(r % 5) - 2);
          std::vector<float> want = randn(size_t(m * ldc), 3), got = want;
          f16_gemm_ref(a.data(), lda, m, k8, b.data(), n, scale.data(), want.data(), ldc, accumulate);
          armfp16::f16_gemm(a.data(), lda, m, k8, b.data(), n, scale.data(), got.data(), ldc, accumulate);
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < ldc; ++j) {
              const size_t i = size_t(r * ldc + j);
              ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0)
                  << "m=" << m << " k8=" << k8 << " n=" << n << " row " << r << " column " << j << ": " << got[i] << " vs " << want[i]
                  << (j >= n ? " (past the last column)" : "");
            }
        }
}

TEST(F16Gemm, ArmPackingAndMagnitudeEqualReference) {
  if (!cpu_features().fp16) GTEST_SKIP() << "this CPU has no FEAT_FP16: the packing kernel is built but not run";
  for (int64_t k : {1, 7, 8, 27})
    for (int64_t count : {1, 7, 8, 9, 23})
      for (int exponent : {-20, -3, 0, 5}) {
        const int64_t k8 = (k + 7) / 8 * 8, n16 = (count + 15) / 16 * 16, ld = count + 2;
        std::vector<float> src = randn(size_t(k * ld), unsigned(k + count));
        src[0] = 0x1p-20f;                  // a subnormal in f16 once scaled down
        src[size_t(k * ld - 1)] = 3.0e-8f;  // rounds to f16's smallest subnormal or zero
        std::vector<uint16_t> want(size_t(k8 * n16), 0xffff), got(want);
        f16_pack_panel_ref(src.data(), ld, k, count, exponent, k8, n16, want.data());
        armfp16::f16_pack_panel(src.data(), ld, k, count, exponent, k8, n16, got.data());
        ASSERT_EQ(got, want) << "k=" << k << " count=" << count << " exponent " << exponent;
      }
  for (int64_t n : {0, 1, 7, 8, 9, 33}) {
    std::vector<float> v = randn(size_t(n) + 1, unsigned(n));
    EXPECT_EQ(armfp16::abs_max(v.data(), n), abs_max_ref(v.data(), n)) << n;
    for (int64_t at = 0; at < n; at += 4) {
      std::vector<float> w = v;
      w[size_t(at)] = std::numeric_limits<float>::quiet_NaN();
      EXPECT_TRUE(std::isnan(armfp16::abs_max(w.data(), n))) << "NaN at " << at << " of " << n;
    }
  }
}

#endif  // __aarch64__

namespace {

// f32 direct loops (double sums) and, per output, Σ|w||x| over its terms:
// the scale of the f16 error bound.
void f32_conv_and_magnitude(const ConvParams& p, const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& bias,
                            std::vector<float>& y, std::vector<double>& magnitude) {
  std::vector<float> ax(x.size()), aw(w.size());
  for (size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
  for (size_t i = 0; i < w.size(); ++i) aw[i] = std::fabs(w[i]);
  std::vector<float> zero(bias.size(), 0.f), mag(y.size());
  f32_conv2d_ref(p, x.data(), w.data(), bias.data(), y.data());
  f32_conv2d_ref(p, ax.data(), aw.data(), zero.data(), mag.data());
  magnitude.assign(mag.begin(), mag.end());
}

// The conv within f16's error of the f32 one: operands rounded to 11 bits
// (2^-11 each) and at most 32 f16 roundings per chunk bound the error by
// ~0.018 Σ|w||x|; a conv that mixed up a row, a pixel or a scale is off by
// the outputs' own size. The RMS error must also show f16 (not f32) and
// stay near what random rounding gives.
void check_conv(const ConvParams& p, const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& bias,
                const std::string& what) {
  const int64_t k = p.c_in / p.group * p.kh * p.kw, out = p.n * p.c_out * p.out_h * p.out_w;
  std::vector<float> want(static_cast<size_t>(out)), got(static_cast<size_t>(out), -99.f);
  std::vector<double> magnitude;
  f32_conv_and_magnitude(p, x, w, bias, want, magnitude);
  ASSERT_TRUE(f16_conv2d(p, x.data(), pack_f16_weights(w.data(), p.c_out, k), bias.data(), got.data())) << what;
  double err2 = 0, mag2 = 0;
  for (int64_t i = 0; i < out; ++i) {
    const double d = double(got[size_t(i)]) - double(want[size_t(i)]);
    ASSERT_LE(std::fabs(d), 0.018 * magnitude[size_t(i)] + 1e-30) << what << " at " << i << ": " << got[size_t(i)] << " vs " << want[size_t(i)];
    err2 += d * d;
    mag2 += magnitude[size_t(i)] * magnitude[size_t(i)];
  }
  const double rel = std::sqrt(err2 / mag2);
  EXPECT_LT(rel, 2e-3) << what;
  if (k >= 9) {
    EXPECT_GT(rel, 1e-6) << what << ": no f16 rounding seen";
  }
}

}  // namespace

TEST(F16Conv, MatchesF32WithinF16Error) {
  const std::vector<ConvCase> cases = pareto::testing::gemm_conv_cases();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : cases)
      for (bool fused : {false, true}) {
        ConvParams p = params_of(c);
        const int64_t k = c.cin / c.group * c.kh * c.kw, out = c.n * c.cout * p.out_h * p.out_w;
        auto x = randn(size_t(c.n * c.cin * c.h * c.w), 6);
        auto w = randn(size_t(c.cout * k), 7, 0.3f);
        auto bias = randn(size_t(c.cout), 8);
        auto residual = randn(size_t(out), 9);
        if (!fused) {
          check_conv(p, x, w, bias, "cin " + std::to_string(c.cin) + " cout " + std::to_string(c.cout) + " threads " + std::to_string(threads));
          continue;
        }
        // The epilogue on top: the same conv, then residual and ReLU, in f32.
        std::vector<float> plain(static_cast<size_t>(out)), got(static_cast<size_t>(out));
        ASSERT_TRUE(f16_conv2d(p, x.data(), pack_f16_weights(w.data(), c.cout, k), bias.data(), plain.data()));
        p.epilogue.act.kind = ActKind::relu;
        p.epilogue.residual = residual.data();
        ASSERT_TRUE(f16_conv2d(p, x.data(), pack_f16_weights(w.data(), c.cout, k), bias.data(), got.data()));
        for (int64_t i = 0; i < out; ++i) ASSERT_EQ(got[size_t(i)], std::max(0.f, plain[size_t(i)] + residual[size_t(i)])) << i;
      }
  }
  set_num_threads(1);
}

// Magnitudes naive f16 cannot hold: products up to ~3e6 (f16 overflows at
// 65504) and down to ~1e-11 (f16 flushes below 6e-8). The power-of-two
// scaling keeps both at f16's relative precision.
TEST(F16Conv, ScalingCoversLargeAndTinyMagnitudes) {
  const ConvParams p = params_of({1, 24, 6, 9, 20, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  const int64_t k = 24 * 9;
  for (float x_size : {3.0e4f, 1.0e-5f})
    for (float w_size : {100.f, 1.0e-5f}) {
      auto x = randn(size_t(24 * 6 * 9), 21, x_size);
      auto w = randn(size_t(20 * k), 22, w_size);
      std::vector<float> bias(20, 0.f);
      check_conv(p, x, w, bias, "x ~ " + std::to_string(x_size) + ", w ~ " + std::to_string(w_size));
    }
}

TEST(F16Conv, FallsBackToF32OnWhatItCannotScale) {
  const ConvParams p = params_of({1, 8, 5, 5, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  const int64_t k = 8 * 9, out = 16 * p.out_h * p.out_w;
  auto x = randn(size_t(8 * 25), 31);
  auto w = randn(size_t(16 * k), 32);
  std::vector<float> bias(16, 0.f);
  const F16Weights packed = pack_f16_weights(w.data(), 16, k);
  ASSERT_TRUE(packed.usable);
  for (float bad : {0x1p20f, -3.0e9f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    std::vector<float> xb = x, y(size_t(out), -7.f);
    xb[13] = bad;
    EXPECT_FALSE(f16_conv2d(p, xb.data(), packed, bias.data(), y.data())) << bad;
    EXPECT_EQ(y, std::vector<float>(size_t(out), -7.f)) << "left the output alone";
  }
  std::vector<float> xb = x, y(static_cast<size_t>(out));
  xb[13] = 0x1p20f * 0.99f;  // just inside
  EXPECT_TRUE(f16_conv2d(p, xb.data(), packed, bias.data(), y.data()));
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(), 1.0e-30f}) {
    std::vector<float> wb = w;
    for (int64_t i = 0; i < k; ++i) wb[size_t(k + i)] = bad;  // row 1: not finite, or too small to scale into f16's range
    EXPECT_FALSE(pack_f16_weights(wb.data(), 16, k).usable) << bad;
  }
}

namespace {

// The conv through the scalar twins, one whole plane per image and group:
// lowered, scaled and packed (f16_pack_panel_ref), multiplied
// (f16_gemm_ref) after the bias. Every output's f16 chain depends on k only,
// not on the tiling, so the driver (its tiles, groups, in-place 1x1 rows,
// per-row scales) must give the same bits, on Arm through the FMLA kernel.
std::vector<float> f16_conv_twin(const ConvParams& p, const std::vector<float>& x, const F16Weights& w, const std::vector<float>& bias) {
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group, plane = p.out_h * p.out_w, kdim = cin_g * p.kh * p.kw;
  const float largest = abs_max_ref(x.data(), int64_t(x.size()));
  int e = 0;
  std::frexp(largest, &e);
  const int x_exponent = largest > 0 ? std::min(-e, 20) : 20;
  const int64_t n16 = (plane + 15) / 16 * 16;
  std::vector<float> y(static_cast<size_t>(p.n * p.c_out * plane)), col(static_cast<size_t>(kdim * plane)), scale(size_t(p.c_out));
  std::vector<uint16_t> panel(static_cast<size_t>(w.k8 * n16));
  for (int64_t r = 0; r < p.c_out; ++r) scale[size_t(r)] = std::ldexp(1.f, -(x_exponent + w.exponent[size_t(r)]));
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t g = 0; g < p.group; ++g) {
      f32_im2col_block(p, x.data() + (n * p.c_in + g * cin_g) * p.h * p.w, cin_g, 0, plane, col.data());
      f16_pack_panel_ref(col.data(), plane, kdim, plane, x_exponent, w.k8, n16, panel.data());
      float* yg = y.data() + (n * p.c_out + g * cout_g) * plane;
      for (int64_t oc = 0; oc < cout_g; ++oc) std::fill_n(yg + oc * plane, plane, bias[size_t(g * cout_g + oc)]);
      f16_gemm_ref(w.data.data() + g * cout_g * w.k8, w.k8, cout_g, w.k8, panel.data(), plane, scale.data() + g * cout_g, yg, plane, true);
    }
  return y;
}

}  // namespace

// Weight rows 2^0 .. 2^12 apart in size (each row its own exponent), the
// geometry cases, 1 and 2 threads: the same bits as the twin.
TEST(F16Conv, EqualsScalarTwinBitForBit) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : pareto::testing::gemm_conv_cases()) {
      const ConvParams p = params_of(c);
      const int64_t k = c.cin / c.group * c.kh * c.kw, out = c.n * c.cout * p.out_h * p.out_w;
      const auto x = randn(size_t(c.n * c.cin * c.h * c.w), 16);
      auto w = randn(size_t(c.cout * k), 17, 0.3f);
      for (int64_t r = 0; r < c.cout; ++r)
        for (int64_t i = 0; i < k; ++i) w[size_t(r * k + i)] = std::ldexp(w[size_t(r * k + i)], int(3 * (r % 5)));
      const auto bias = randn(size_t(c.cout), 18);
      const F16Weights packed = pack_f16_weights(w.data(), c.cout, k);
      const std::vector<float> want = f16_conv_twin(p, x, packed, bias);
      std::vector<float> got(static_cast<size_t>(out), -99.f);
      ASSERT_TRUE(f16_conv2d(p, x.data(), packed, bias.data(), got.data()));
      for (int64_t i = 0; i < out; ++i)
        ASSERT_EQ(std::memcmp(&got[size_t(i)], &want[size_t(i)], 4), 0)
            << "cin " << c.cin << " cout " << c.cout << " threads " << threads << " at " << i << ": " << got[size_t(i)] << " vs " << want[size_t(i)];
    }
  }
  set_num_threads(1);
}

// The session option end to end: the compiler marks the convs; with FP16
// the runtime runs them in f16 and the recognizer stays close to fp32;
// without, the marked convs run in f32 and the outputs are fp32's exactly.
TEST(F16Conv, CompiledRecognizerStaysCloseToF32) {
  const std::string model = std::string(PARETO_SOURCE_DIR) + "/models/ocr/ch_PP-OCRv4_rec_infer.onnx";
  if (!std::ifstream(model)) GTEST_SKIP() << "PP-OCR models not found in models/ocr (run scripts/fetch-models.sh)";
  pareto::testing::RecognizerAtPrecision r;
  const std::string error = pareto::testing::run_recognizer_at(model, "f16", r);
  ASSERT_EQ(error, "");
  int marked = r.rewrites["conv -> f16 compute"], matmuls = 0;
  for (const auto& [what, n] : r.rewrites)
    if (what.find("matmul") != std::string::npos) matmuls += n;
  EXPECT_GT(marked, 20);
  EXPECT_EQ(matmuls, 0) << "f16 marks convs only";
  const double rel = pareto::testing::relative_l2(r.f32, r.other);
  std::printf("[f16] rec: %d convs marked f16 (%s), output relative L2 error %.3e against fp32\n", marked,
              f16_conv_available() ? "run in f16" : "no FEAT_FP16 here: run in f32", rel);
  if (!f16_conv_available()) {
    EXPECT_EQ(rel, 0.0) << "without FP16 kernels the marked convs must run exactly as fp32";
    return;
  }
  EXPECT_GT(rel, 1e-6) << "f16 rounding must show";
  EXPECT_LT(rel, 0.01);
}
