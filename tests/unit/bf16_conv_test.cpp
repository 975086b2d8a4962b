// The bf16 convolution (im2col + AVX512-BF16 GEMM + epilogue) against its
// direct-loop twin on bf16-rounded operands, the GEMM and pair packing
// against their scalar twins, on awkward sizes and 1 and 2 threads; and a
// compiled PP-OCR model in bf16 against the same model in fp32.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include <cmath>
#include <fstream>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/bf16_conv.h"
#include "kernel_test_util.h"
#include "precision_test_util.h"
#include "pareto/dtype.h"
#include "pareto/pareto.hpp"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;
using pareto::testing::randn;

namespace pareto::kernels::amx_emulated {
void bf16_gemm_tiles(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate);
}

namespace {

[[maybe_unused]] bool has_bf16() {  // x86-64 tests only
  const CpuFeatures& f = cpu_features();
  return f.avx512bf16 && f.avx512bw && f.avx512vl;
}

[[maybe_unused]] std::vector<uint16_t> bf16_of(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = float_to_bf16(v[i]);
  return out;
}

// The tile GEMM the conv takes while it lives (restored however the test ends).
struct TileGemmScope {
  explicit TileGemmScope(Bf16TileGemm gemm) { set_bf16_tile_gemm(gemm); }
  ~TileGemmScope() { reset_bf16_tile_gemm(); }
};

// The emulated tile build is compiled with AVX-512 flags.
[[maybe_unused]] bool can_emulate_amx() {  // x86-64 tests only
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl;
}

}  // namespace

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
TEST(Bf16Gemm, NativeMatchesReference) {
#if defined(__x86_64__)
  if (!has_bf16()) GTEST_SKIP() << "this CPU has no AVX512-BF16: the kernel is built but not run";
  const auto native = avx512bf16::bf16_gemm;
#else
  if (!cpu_features().arm_bf16) GTEST_SKIP() << "this CPU has no FEAT_BF16: the BFDOT kernel is built but not run";
  const auto native = armbf16::bf16_gemm;
#endif
  for (int64_t m : {1, 3, 8, 13, 24})
    for (int64_t k2 : {1, 5, 150})
      for (int64_t n : {1, 15, 16, 17, 33, 100})
        for (bool accumulate : {false, true}) {
          const int64_t n16 = (n + 15) / 16 * 16, lda = 2 * k2 + 2, ldc = n + 3;
          auto a = bf16_of(randn(size_t(m * lda), 1));
          auto b = bf16_of(randn(size_t(k2 * n16 * 2), 2));
          for (int64_t p = 0; p < k2; ++p)  // the panel's padding columns are zero, as the conv leaves them
            for (int64_t j = n; j < n16; ++j) b[size_t((p * n16 + j) * 2)] = b[size_t((p * n16 + j) * 2 + 1)] = 0;
          std::vector<float> want = randn(size_t(m * ldc), 3), got = want;
          bf16_gemm_ref(a.data(), lda, m, k2, b.data(), n, want.data(), ldc, accumulate);
          native(a.data(), lda, m, k2, b.data(), n, got.data(), ldc, accumulate);
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < ldc; ++j) {
              const size_t i = size_t(r * ldc + j);
              if (j >= n) {
                ASSERT_EQ(got[i], want[i]) << "wrote past column " << n;
                continue;
              }
              // Exact products, sums in another order: |error| <= k * eps * Σ|terms| (with margin).
              ASSERT_NEAR(got[i], want[i], 1e-5 * double(2 * k2 + 1) * 4.0) << "m=" << m << " k2=" << k2 << " n=" << n << " r=" << r << " j=" << j;
            }
        }
}
#endif

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
TEST(Bf16Gemm, PairPackingMatchesReference) {
#if defined(__x86_64__)
  if (!has_bf16()) GTEST_SKIP() << "this CPU has no AVX512-BF16: the kernel is built but not run";
  const auto pack = avx512bf16::bf16_pack_pair;
#else
  if (!cpu_features().arm_bf16) GTEST_SKIP() << "this CPU has no FEAT_BF16: the packing kernel is built but not run";
  const auto pack = armbf16::bf16_pack_pair;
#endif
  for (int64_t count : {1, 7, 16, 17, 40})
    for (bool second : {true, false}) {
      const int64_t n16 = (count + 15) / 16 * 16;
      auto r0 = randn(size_t(count), 4), r1 = randn(size_t(count), 5);
      r0[0] = 1.00390625f;  // halfway between two bf16 values: rounds to even
      if (count > 3) {
        // NaNs stay NaN: one whose payload lies below the 16 bits kept must
        // not truncate to infinity (the quiet bit is set on the way).
        const uint32_t low_payload_nan = 0x7f800001u;
        std::memcpy(&r0[1], &low_payload_nan, 4);
        r0[2] = std::nanf("");
        r0[3] = -std::numeric_limits<float>::infinity();
      }
      std::vector<uint16_t> want(size_t(2 * n16), 0xffff), got = want;
      bf16_pack_pair_ref(r0.data(), second ? r1.data() : nullptr, count, n16, want.data());
      pack(r0.data(), second ? r1.data() : nullptr, count, n16, got.data());
      EXPECT_EQ(got, want) << "count " << count;
      EXPECT_EQ(want[0], float_to_bf16(1.f)) << "round half to even";
    }
}
#endif

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(Bf16Gemm, AmxTilesMatchReference) {
  if (!can_emulate_amx()) GTEST_SKIP() << "the emulated AMX build needs AVX-512";
  for (int64_t m : {1, 3, 16, 17, 40})
    for (int64_t k2 : {1, 15, 16, 40})
      for (int64_t n : {1, 15, 16, 17, 33, 100})
        for (bool accumulate : {false, true}) {
          const int64_t n16 = (n + 15) / 16 * 16, k32 = (k2 + 15) / 16 * 16, ldc = n + 3;
          auto a = bf16_of(randn(size_t(m * 2 * k2), 1));
          std::vector<uint16_t> padded(size_t((m + 16) * 2 * k32), 0);
          auto spare = bf16_of(randn(size_t(16 * 2 * k2), 4));  // rows past m: read, never stored
          for (int64_t r = 0; r < m + 16; ++r)
            for (int64_t i = 0; i < 2 * k2; ++i) padded[size_t(r * 2 * k32 + i)] = r < m ? a[size_t(r * 2 * k2 + i)] : spare[size_t((r - m) * 2 * k2 + i)];
          auto b = bf16_of(randn(size_t(k32 * n16 * 2), 2));  // k-pairs past k2 need not be zero: a's are
          std::vector<float> want = randn(size_t(m * ldc), 3), got = want;
          bf16_gemm_ref(a.data(), 2 * k2, m, k2, b.data(), n, want.data(), ldc, accumulate);
          amx_emulated::bf16_gemm_tiles(padded.data(), 2 * k32, m, k32, b.data(), n, got.data(), ldc, accumulate);
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < ldc; ++j) {
              const size_t i = size_t(r * ldc + j);
              if (j >= n) ASSERT_EQ(got[i], want[i]) << "wrote past column " << n;
              else ASSERT_NEAR(got[i], want[i], 1e-5 * double(2 * k2 + 1) * 4.0) << "m=" << m << " k2=" << k2 << " n=" << n;
            }
        }
}
#endif  // x86-64

namespace {

// Geometry, padding, groups, odd k (a padded last pair), tails of the
// 8-row x 32-pixel tile, 1x1 convs read in place, the fused epilogue.
void check_against_direct_twin() {
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
        if (fused) {
          p.epilogue.act.kind = ActKind::relu;
          p.epilogue.residual = residual.data();
        }
        std::vector<float> want(static_cast<size_t>(out)), got(static_cast<size_t>(out), -99.f);
        bf16_conv2d_ref(p, x.data(), w.data(), bias.data(), want.data());
        bf16_conv2d(p, x.data(), pack_bf16_weights(w.data(), c.cout, k), bias.data(), got.data());
        for (int64_t i = 0; i < out; ++i)
          ASSERT_NEAR(got[size_t(i)], want[size_t(i)], 2e-5 * double(k + 4)) << "cin " << c.cin << " cout " << c.cout << " at " << i << " threads " << threads;
        // And it is bf16, not f32: the f32 conv (no epilogue in its
        // reference) differs by bf16's rounding.
        if (fused) continue;
        std::vector<float> f32(static_cast<size_t>(out));
        f32_conv2d_ref(p, x.data(), w.data(), bias.data(), f32.data());
        double worst = 0;
        for (int64_t i = 0; i < out; ++i) worst = std::max(worst, double(std::fabs(f32[size_t(i)] - got[size_t(i)])));
        if (k >= 9) {
          EXPECT_GT(worst, 1e-4) << "no bf16 rounding seen";
        }
        EXPECT_LT(worst, 0.05 * std::sqrt(double(k)) + 0.02);
      }
  }
  set_num_threads(1);
}

}  // namespace

// Without tiles: AVX512-BF16 (or the scalar twins), also on AMX machines.
TEST(Bf16Conv, MatchesDirectTwin) {
  TileGemmScope none(nullptr);
  check_against_direct_twin();
}

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
// Through the AMX-BF16 tile GEMM, its tiles emulated (tests/amx): the k
// padding to 16 pairs, the 2 x 2 tile passes, bias accumulation.
TEST(Bf16Conv, AmxTilePathMatchesDirectTwin) {
  if (!can_emulate_amx()) GTEST_SKIP() << "the emulated AMX build needs AVX-512";
  TileGemmScope emulated(&amx_emulated::bf16_gemm_tiles);
  check_against_direct_twin();
}
#endif  // x86-64

TEST(Bf16Conv, KeepsDepthwiseTinyAndWinogradConvsInF32) {
  ConvParams dw = params_of({1, 32, 20, 60, 32, 3, 3, 32, 1, 1, 1, 1, 1, 1, 1, 1});
  EXPECT_FALSE(bf16_conv_preferred(dw));
  ConvParams pw = params_of({1, 32, 20, 60, 64, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});
  EXPECT_TRUE(bf16_conv_preferred(pw));
  ConvParams s2 = params_of({1, 32, 20, 60, 64, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  EXPECT_TRUE(bf16_conv_preferred(s2));
  ConvParams tiny = params_of({1, 200, 1, 1, 50, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});  // squeeze-excite on one pixel
  EXPECT_FALSE(bf16_conv_preferred(tiny));
  ConvParams wino = params_of({1, 32, 20, 60, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  EXPECT_EQ(bf16_conv_preferred(wino), !winograd_applicable(wino));
}

// The session option end to end: the compiler marks the convs, the runtime
// runs them in bf16, and the recognizer's outputs stay close to fp32.
TEST(Bf16Conv, CompiledRecognizerStaysCloseToF32) {
  const std::string model = std::string(PARETO_SOURCE_DIR) + "/models/ocr/ch_PP-OCRv4_rec_infer.onnx";
  if (!std::ifstream(model)) GTEST_SKIP() << "PP-OCR models not found in models/ocr (run scripts/fetch-models.sh)";
  if (!bf16_conv_available()) GTEST_SKIP() << "this CPU has no AVX512-BF16 or AMX-BF16: bf16-marked layers run in f32";
  pareto::testing::RecognizerAtPrecision r;
  const std::string error = pareto::testing::run_recognizer_at(model, "bf16", r);
  ASSERT_EQ(error, "");
  const int marked = r.rewrites["conv -> bf16 compute"], matmuls = r.rewrites["matmul -> bf16 compute"];
  EXPECT_GT(marked, 20);
  EXPECT_GE(matmuls, 1) << "the classifier head (a MatMul by a constant)";
  const double rel = pareto::testing::relative_l2(r.f32, r.other);
  std::printf("[bf16] rec: %d convs and %d matmuls bf16, output relative L2 error %.3e against fp32\n", marked, matmuls, rel);
  EXPECT_GT(rel, 1e-5) << "bf16 rounding must show";
  EXPECT_LT(rel, 0.05);
}
