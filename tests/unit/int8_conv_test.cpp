// The integer convolution (im2col or shifted + VNNI GEMM + epilogues) against its
// direct-loop twin, and the VNNI GEMM against the reference GEMM, on awkward
// sizes, both operand signednesses, zero points, groups, 1 and 2 threads.
#include <algorithm>
#include <bit>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/int8_conv.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;
using pareto::testing::random_bytes;

namespace pareto::kernels::amx_emulated {
void int8_gemm_tiles(const int8_t* a, int64_t lda, int64_t m, int64_t k64, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
}

namespace {

[[maybe_unused]] bool has_vnni() {  // x86-64 tests only
  const CpuFeatures& f = cpu_features();
  return f.avx512vnni && f.avx512bw && f.avx512vbmi;
}

}  // namespace

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
TEST(Int8Gemm, IsaKernelMatchesReference) {
#if defined(__x86_64__)
  if (!has_vnni()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI: the kernel is built but not run";
  const std::vector<decltype(&avx512vnni::int8_gemm)> variants = {avx512vnni::int8_gemm};
#else
  if (!cpu_features().dotprod) GTEST_SKIP() << "this CPU has no dot product (FEAT_DotProd): the SDOT kernel is built but not run";
  std::vector<decltype(&dotprod::int8_gemm)> variants = {dotprod::int8_gemm};
  if (cpu_features().i8mm) variants.push_back(i8mm::int8_gemm);
  else std::printf("no i8mm on this CPU: the USMMLA kernel is built but not run\n");
#endif
  for (int64_t m : {1, 3, 6, 8, 13, 24})
    for (int64_t k4 : {4, 8, 12, 28, 64, 300})  // odd and even quad counts
      for (int64_t n : {1, 15, 16, 17, 33, 100}) {
        const int64_t n16 = (n + 15) / 16 * 16;
        auto a = random_bytes(size_t(m * k4), 1);
        auto b = random_bytes(size_t(k4 * n16), 2);
        // the panel's padding columns are zero, as the conv driver leaves them
        for (int64_t q = 0; q < k4 / 4; ++q)
          for (int64_t j = n; j < n16; ++j)
            for (int i = 0; i < 4; ++i) b[size_t((q * n16 + j) * 4 + i)] = 0;
        const int64_t ldc = n + 3;
        std::vector<int32_t> want(size_t(m * ldc), -7), got(size_t(m * ldc), -7);
        int8_gemm_ref(reinterpret_cast<const int8_t*>(a.data()), k4, m, k4, b.data(), n, want.data(), ldc);
        for (auto variant : variants) {
          std::fill(got.begin(), got.end(), -7);
          variant(reinterpret_cast<const int8_t*>(a.data()), k4, m, k4, b.data(), n, got.data(), ldc);
          ASSERT_EQ(got, want) << "m=" << m << " k4=" << k4 << " n=" << n;  // also: nothing written past n in a row
        }
      }
}
#endif

// QuantizeLinear to uint8, dispatched (VNNI or SDOT level where the CPU has
// it) against the scalar rule: ties to even, the zero point, saturation both
// ways, infinities, NaN to 0, lengths around the 8- and 16-wide loops.
TEST(Int8Gemm, QuantizeU8MatchesReference) {
  if (!int8_detail::fast_gemm()) GTEST_SKIP() << "no VNNI or SDOT level here: quantize_u8 is the reference itself";
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-40.f, 40.f);
  for (int64_t n : {1, 7, 8, 9, 16, 17, 33, 1000})
    for (int32_t zero : {0, 3, 128, 255}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (float& v : x) v = dist(rng);
      const float special[] = {0.25f, 0.75f, -0.25f, 1.25f, inf, -inf, nan, 1e30f, -1e30f, 63.75f, -32.25f};
      for (size_t i = 0; i < x.size() && i < std::size(special); ++i) x[i * 7 % x.size()] = special[i];
      const float scale = 0.5f;  // x / scale of the specials: exact halves (ties) and saturating values
      std::vector<uint8_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      quantize_u8_ref(x.data(), n, scale, zero, want.data());
      quantize_u8(x.data(), n, scale, zero, got.data());
      ASSERT_EQ(got, want) << "n=" << n << " zero=" << zero;
    }
}

// The vector form divides by multiplying with the reciprocal and divides
// only lanes near a half-integer: scales without an exact reciprocal, inputs
// at and one float either side of every (k + 0.5) * scale, where the product
// and the quotient can round apart, plus subnormal and huge scales (no
// usable reciprocal: every lane divided).
TEST(Int8Gemm, QuantizeU8NearHalvesUnderAwkwardScales) {
  if (!int8_detail::fast_gemm()) GTEST_SKIP() << "no VNNI or SDOT level here: quantize_u8 is the reference itself";
  for (float scale : {0.0862594f, 0.1211f, 1.f / 3.f, 0.07f, 1e-3f, 3.7e-7f, 1e-40f, 1e38f})
    for (int32_t zero : {0, 2, 113, 255}) {
      std::vector<float> x;
      for (int k = -2100; k <= 2100; ++k) {  // past |x / scale| = 1024, where the test's margin stops growing
        const float tie = float((k + 0.5) * double(scale));
        x.insert(x.end(), {std::nextafter(tie, -1e38f), tie, std::nextafter(tie, 1e38f), float(k * double(scale))});
      }
      const int64_t n = int64_t(x.size());
      std::vector<uint8_t> want(x.size()), got(x.size());
      quantize_u8_ref(x.data(), n, scale, zero, want.data());
      quantize_u8(x.data(), n, scale, zero, got.data());
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(int(got[i]), int(want[i])) << "scale=" << scale << " zero=" << zero << " x=" << x[i] << " (index " << i << ")";
    }
}

// Random bit patterns (every magnitude, subnormals, infinities, NaNs)
// under scales with and without an exact reciprocal.
TEST(Int8Gemm, QuantizeU8RandomBitPatterns) {
  if (!int8_detail::fast_gemm()) GTEST_SKIP() << "no VNNI or SDOT level here: quantize_u8 is the reference itself";
  std::mt19937 rng(11);
  std::vector<float> x(1 << 18);
  for (float& v : x) v = std::bit_cast<float>(uint32_t(rng()));
  for (float scale : {0.0862594f, 1.f / 3.f, 0.5f, 3.7e-7f, 1e-40f})
    for (int32_t zero : {0, 113, 255}) {
      std::vector<uint8_t> want(x.size()), got(x.size());
      quantize_u8_ref(x.data(), int64_t(x.size()), scale, zero, want.data());
      quantize_u8(x.data(), int64_t(x.size()), scale, zero, got.data());
      for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(int(got[i]), int(want[i])) << "scale=" << scale << " zero=" << zero << " x=" << x[i];
    }
}

// The product rounded in the same pass (the squeeze-excite's gated output)
// against the float products rounded by the scalar rule; random bit
// patterns among the inputs, lengths around the vector width.
TEST(Int8Gemm, QuantizeU8ScaledMatchesProductsThenReference) {
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> dist(-30.f, 30.f);
  for (int64_t n : {1, 15, 16, 17, 100, 4099})
    for (float factor : {0.73f, 1.f / 3.f, 0.f, -2.5f})
      for (float scale : {0.0431f, 0.5f}) {
        std::vector<float> x(static_cast<size_t>(n)), products(static_cast<size_t>(n));
        for (size_t i = 0; i < x.size(); ++i) x[i] = i % 13 == 5 ? std::bit_cast<float>(uint32_t(rng())) : dist(rng);
        for (size_t i = 0; i < x.size(); ++i) products[i] = x[i] * factor;
        std::vector<uint8_t> want(x.size()), got(x.size(), 0xEE);
        quantize_u8_ref(products.data(), n, scale, 9, want.data());
        quantize_u8_scaled(x.data(), n, factor, scale, 9, got.data());
        ASSERT_EQ(got, want) << "n=" << n << " factor=" << factor << " scale=" << scale;
      }
  // Inputs whose products lie at and a few floats around (k + 0.5) * scale
  // for a scale without an exact reciprocal: the lanes the vector form
  // divides after all.
  for (float factor : {0.73f, 0.3337f}) {
    const float scale = 0.0431f;
    std::vector<float> x, products;
    for (int k = -300; k <= 300; ++k) {
      float v = float((k + 0.5) * double(scale) / double(factor));
      for (int step = 0; step < 2; ++step) v = std::nextafter(v, -1e30f);
      for (int step = 0; step < 5; ++step, v = std::nextafter(v, 1e30f)) x.push_back(v);
    }
    for (float v : x) products.push_back(v * factor);
    std::vector<uint8_t> want(x.size()), got(x.size());
    quantize_u8_ref(products.data(), int64_t(x.size()), scale, 128, want.data());
    quantize_u8_scaled(x.data(), int64_t(x.size()), factor, scale, 128, got.data());
    ASSERT_EQ(got, want) << "near ties, factor=" << factor;
  }
}

// The float epilogue row of the int8 conv (AVX-512 on VNNI machines, NEON
// where SDOT is) against the scalar loop the driver runs otherwise: the
// same bits, with and without weight zero points, on lengths around the
// vector widths, large sums (float rounding of int32) and negative scales.
TEST(Int8Gemm, FloatEpilogueRowMatchesScalarLoop) {
  using RowFn = void (*)(const int32_t*, int64_t, int32_t, int32_t, const int32_t*, float, float, float*);
  RowFn row_fn = nullptr;
#if defined(__x86_64__)
  if (has_vnni()) row_fn = &avx512vnni::int8_f32_row;
#elif defined(__aarch64__)
  if (cpu_features().dotprod) row_fn = &dotprod::int8_f32_row;
#endif
  if (!row_fn) GTEST_SKIP() << "no VNNI or SDOT level here: the driver runs the scalar loop itself";
  std::mt19937 rng(13);
  std::uniform_int_distribution<int32_t> big(-(1 << 28), 1 << 28), small(0, 4000);
  for (int64_t n : {1, 3, 4, 5, 15, 16, 17, 100})
    for (int32_t w_zero : {0, 7, -3})
      for (float scale : {0.0123f, -3.5e-4f}) {
        std::vector<int32_t> acc(static_cast<size_t>(n)), sums(static_cast<size_t>(n));
        for (auto& v : acc) v = big(rng);
        for (auto& v : sums) v = small(rng);
        const int32_t base = -123457;
        const float bias = 0.3f;
        std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), -1.f);
        for (int64_t q = 0; q < n; ++q)
          want[size_t(q)] = scale * float(int64_t(acc[size_t(q)]) + base - int64_t(w_zero) * sums[size_t(q)]) + bias;
        row_fn(acc.data(), n, base, w_zero, w_zero ? sums.data() : nullptr, scale, bias, got.data());
        for (int64_t q = 0; q < n; ++q)
          ASSERT_EQ(std::memcmp(&got[size_t(q)], &want[size_t(q)], 4), 0) << "n=" << n << " w_zero=" << w_zero << " at " << q;
      }
}

// The epilogue in registers (VNNI machines) against the three passes it
// replaces: the float row, the dispatched activation (its vector exp for
// sigmoid and SiLU), the scalar QuantizeLinear. Every kind with a vector
// form, the affine and floor, residual or none, float or uint8 output, rows
// with and without a weight zero point, lengths around the vector width
// and rows further apart than they are long; nothing written between rows.
TEST(Int8Gemm, EpilogueInRegistersMatchesThePasses) {
#if defined(__x86_64__)
  if (!has_vnni()) GTEST_SKIP() << "no AVX-512 VNNI here: the int8 conv finishes its rows in passes";
  std::mt19937 rng(17);
  std::uniform_int_distribution<int32_t> sums(-400000, 400000), cols(0, 3000);
  const ActKind kinds[] = {ActKind::none, ActKind::relu, ActKind::clip, ActKind::hard_sigmoid, ActKind::hard_swish,
                           ActKind::sigmoid, ActKind::silu, ActKind::leaky_relu};
  constexpr int64_t rows = 3;
  for (ActKind kind : kinds)
    for (int64_t count : {1, 15, 16, 17, 33, 100})
      for (int variant = 0; variant < 4; ++variant) {  // bit 0: residual, bit 1: rounded to uint8
        const bool residual = variant & 1, rounded = variant & 2;
        const int64_t ld = count + 5, stride = count + 3;
        std::vector<int32_t> acc(size_t(rows * ld)), col_sums(static_cast<size_t>(count)), base = {-12345, 777, 0}, w_zero = {0, 3, -2};
        for (auto& v : acc) v = sums(rng);
        for (auto& v : col_sums) v = cols(rng);
        std::vector<float> scale = {1.3e-4f, 2.1e-5f, 7.7e-5f}, bias = {0.25f, -1.5f, 3.f}, res(size_t(rows * stride));
        for (size_t i = 0; i < res.size(); ++i) res[i] = float(int(i % 11) - 5) * 0.37f;
        Activation act;
        act.kind = kind;
        act.alpha = kind == ActKind::clip ? -2.f : 0.2f;
        act.beta = kind == ActKind::clip ? 6.f : 0.5f;
        if (count == 33) act.scale = 1.5f, act.shift = -0.25f, act.floor = -0.4f;
        const float u8_scale = 0.0431f;
        const int32_t u8_zero = 17;
        // The passes, row by row, into buffers filled with a marker.
        std::vector<float> want_f(size_t(rows * stride), -7.f), got_f(want_f);
        std::vector<uint8_t> want_u(size_t(rows * stride), 0xEE), got_u(want_u);
        for (int64_t r = 0; r < rows; ++r) {
          std::vector<float> row(static_cast<size_t>(count));
          for (int64_t q = 0; q < count; ++q)
            row[size_t(q)] = scale[size_t(r)] * float(int64_t(acc[size_t(r * ld + q)]) + base[size_t(r)] -
                                                    int64_t(w_zero[size_t(r)]) * col_sums[size_t(q)]) + bias[size_t(r)];
          apply_activation(act, row.data(), residual ? res.data() + r * stride : nullptr, count);
          if (rounded) quantize_u8_ref(row.data(), count, u8_scale, u8_zero, want_u.data() + r * stride);
          else std::copy(row.begin(), row.end(), want_f.begin() + r * stride);
        }
        Int8RowsEpilogue e;
        e.base = base.data();
        e.w_zero = w_zero.data();
        e.col_sums = col_sums.data();
        e.scale = scale.data();
        e.bias = bias.data();
        e.act = kind == ActKind::none && count != 33 ? nullptr : &act;
        e.residual = residual ? res.data() : nullptr;
        e.f32 = rounded ? nullptr : got_f.data();
        e.u8 = rounded ? got_u.data() : nullptr;
        e.stride = stride;
        e.u8_scale = u8_scale;
        e.u8_zero = u8_zero;
        ASSERT_TRUE(avx512vnni::int8_epilogue_rows(acc.data(), ld, rows, count, e));
        const std::string what = std::string(act_kind_name(kind)) + " count=" + std::to_string(count) + " variant=" + std::to_string(variant);
        ASSERT_EQ(got_u, want_u) << what;
        ASSERT_EQ(std::memcmp(got_f.data(), want_f.data(), got_f.size() * 4), 0) << what;
      }
  Activation tanh_act;
  tanh_act.kind = ActKind::tanh;  // no vector form: refused, nothing written
  Int8RowsEpilogue e;
  e.act = &tanh_act;
  EXPECT_FALSE(avx512vnni::int8_epilogue_rows(nullptr, 1, 1, 1, e));
#else
  GTEST_SKIP() << "an x86-64 kernel";
#endif
}

// The GEMM over per-quad offsets (the shifted conv's) against its twin:
// offsets out of order and overlapping, as the taps of a conv are.
// VNNI on x86-64, SDOT on AArch64.
TEST(Int8Gemm, OffsetsIsaKernelMatchesReference) {
  using OffsetsFn = void (*)(const int8_t*, int64_t, int64_t, int64_t, const uint8_t*, const int64_t*, int64_t, int32_t*, int64_t);
  OffsetsFn isa_fn = nullptr;
#if defined(__x86_64__)
  if (has_vnni()) isa_fn = &avx512vnni::int8_gemm_offsets;
#elif defined(__aarch64__)
  if (cpu_features().dotprod) isa_fn = &dotprod::int8_gemm_offsets;
#endif
  if (!isa_fn) GTEST_SKIP() << "this CPU has no AVX-512 VNNI or dot product: the kernel is built but not run";
  std::mt19937 rng(9);
  for (int64_t m : {1, 5, 8, 24, 33})
    for (int64_t quads : {1, 7, 54})
      for (int64_t n : {1, 16, 17, 31, 200}) {
        const int64_t span = 4 * (n + 16) + 64;  // each quad's row, 64 readable bytes past it
        auto b = random_bytes(size_t(span * 3), 4);
        std::vector<int64_t> off(static_cast<size_t>(quads));
        for (int64_t& o : off) o = int64_t(rng() % uint32_t(span * 2 - 4 * n - 64)) / 4 * 4 + int64_t(rng() % 4);
        auto a = random_bytes(size_t(m * quads * 4), 3);
        const int64_t ldc = n + 5;
        std::vector<int32_t> want(size_t(m * ldc), -7), got(size_t(m * ldc), -7);
        int8_gemm_offsets_ref(reinterpret_cast<const int8_t*>(a.data()), quads * 4, m, quads, b.data(), off.data(), n, want.data(), ldc);
        isa_fn(reinterpret_cast<const int8_t*>(a.data()), quads * 4, m, quads, b.data(), off.data(), n, got.data(), ldc);
        ASSERT_EQ(got, want) << "m=" << m << " quads=" << quads << " n=" << n;  // also: nothing written past n in a row
      }
}

// Every output kind (the float one also rounded to uint8), int8 and uint8 on both sides, zero points per tensor
// and per channel (the weight zero points exercise the column-sum
// correction), grouped and depthwise, exact integer agreement (the float
// outputs: the same float operations, so the same bits).
namespace {

void check_against_direct_twin(bool expect_shifted) {
  // n, cin, h, w, cout, kh, kw, group, strides, dilations, pads (top, left, bottom, right)
  const ConvCase cases[] = {
      {1, 3, 9, 11, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},      // stem-like, stride 2
      {1, 3, 7, 150, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},     // stride 2 on 150-wide rows: 32-byte pieces, a short last one
      {2, 5, 4, 129, 6, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},     // 1x1 stride 2, odd width, no padding: reads end at the row's end
      {1, 4, 6, 64, 5, 3, 3, 1, 1, 2, 1, 1, 1, 1, 1, 1},      // stride (1, 2), 64-wide rows
      {2, 16, 7, 5, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     // 1x1, batch 2
      {1, 8, 15, 20, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    // 1x1, whole 300-pixel planes finished 6 rows at a time
      {1, 10, 6, 13, 10, 3, 3, 10, 1, 1, 1, 1, 1, 1, 1, 1},   // depthwise
      {1, 12, 8, 8, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      // groups of 4 -> 3, k = 36
      {1, 5, 4, 40, 33, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // 1x3 kernel, k = 15 (padded to 16), 33 rows
      {1, 40, 5, 9, 20, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},     // k = 180 (three 64-byte AMX steps), groups of 10 rows
      // stride 1, one group: also the shifted form (channels not a multiple
      // of 4, odd widths, no padding, asymmetric padding, dilation, 5x5)
      {1, 7, 5, 37, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // 3x3 pad 1, 2 channel quads (one padded)
      {2, 9, 6, 19, 17, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0},     // no padding, batch 2, 9 rows of output per image less 2
      {1, 4, 9, 45, 8, 5, 5, 1, 1, 1, 2, 2, 3, 1, 5, 4},      // 5x5 dilation 2, asymmetric pads
      {1, 24, 3, 80, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // long rows (blocks of one row at 2 threads)
      {1, 6, 8, 40, 10, 3, 5, 1, 1, 1, 2, 1, 2, 2, 1, 3},     // 3x5 kernel, dilation (2, 1), uneven pads
      {3, 5, 7, 21, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // batch 3: a thread's band of rows starts inside an image (2 threads)
      // one pixel (squeeze-excite on a pooled vector)
      {3, 200, 1, 1, 50, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    // batch 3, k = 200 (a 8-byte tail past 3 x 64)
      {1, 50, 1, 1, 201, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    // k = 50 (padded to 52), rows not a multiple of 4
      {1, 300, 1, 1, 260, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   // large enough to split rows across threads
  };
  int64_t shifted_runs = 0;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : cases)
      for (int signs = 0; signs < 4; ++signs)
        for (int mode = 0; mode < 4; ++mode) {  // i32, q8, f32, f32 rounded to uint8 (Int8Epilogue::quant)
          const Int8Output kind = mode == 0 ? Int8Output::i32 : mode == 1 ? Int8Output::q8 : Int8Output::f32;
          const bool rounded = mode == 3;
          const bool x_signed = signs & 1, w_signed = signs & 2;
          Int8ConvParams p;
          p.geo = params_of(c);
          p.x_signed = x_signed;
          p.x_zero = x_signed ? -3 : 131;
          const int64_t k = c.cin / c.group * c.kh * c.kw;
          auto x = random_bytes(size_t(c.n * c.cin * c.h * c.w), 5);
          auto w = random_bytes(size_t(c.cout * k), 6);
          std::vector<int32_t> w_zero(size_t(c.cout));
          for (int64_t i = 0; i < c.cout; ++i) w_zero[size_t(i)] = w_signed ? int32_t(i % 5) - 2 : 120 + int32_t(i % 7);
          std::vector<float> scale(size_t(c.cout)), bias_f(size_t(c.cout));
          std::vector<int32_t> bias_i(size_t(c.cout));
          for (int64_t i = 0; i < c.cout; ++i) {
            scale[size_t(i)] = 1e-4f * float(i + 1);
            bias_f[size_t(i)] = 0.25f * float(i) - 1.f;
            bias_i[size_t(i)] = int32_t(i * 37) - 400;
          }
          p.out.kind = kind;
          p.out.scale = scale.data();
          p.out.bias_i32 = bias_i.data();
          p.out.y_zero = x_signed ? 5 : 128;
          p.out.y_signed = x_signed;
          p.out.bias_f32 = bias_f.data();
          p.out.act.act.kind = ActKind::relu;
          if (rounded) {  // the fused rounding's activations (AVX-512: in registers), tanh through the passes
            const size_t pick = size_t(&c - cases + signs) % 5;
            const ActKind kinds[] = {ActKind::relu, ActKind::hard_swish, ActKind::hard_sigmoid, ActKind::clip, ActKind::tanh};
            p.out.act.act.kind = kinds[pick];
            p.out.act.act.alpha = kinds[pick] == ActKind::clip ? -1.f : 0.2f;
            p.out.act.act.beta = kinds[pick] == ActKind::clip ? 40.f : 0.5f;
            if (kinds[pick] == ActKind::clip) p.out.act.act.scale = 2.f, p.out.act.act.shift = 0.25f, p.out.act.act.floor = 1.5f;
          }
          p.out.quant.scale = 0.37f;  // about the relu output's step: values across the uint8 range and saturating
          p.out.quant.zero = 3;
          // A residual on the float outputs (odd signs: it moves values across relu's edge).
          std::vector<float> residual(size_t(c.n * c.cout * p.geo.out_h * p.geo.out_w));
          for (size_t i = 0; i < residual.size(); ++i) residual[i] = float(int(i % 7) - 3) * 0.5f;
          p.out.act.residual = kind == Int8Output::f32 && signs == 1 ? residual.data() : nullptr;
          for (int zero_mode : {0, 1, 2}) {  // weight zero points absent (0), one, one per channel
            const bool per_channel = zero_mode == 2;
            const int32_t* wz = zero_mode == 0 ? nullptr : w_zero.data();
            const int64_t wz_count = per_channel ? c.cout : zero_mode;
            const size_t out = size_t(p.geo.n * p.geo.c_out * p.geo.out_h * p.geo.out_w);
            const size_t es = kind == Int8Output::q8 || rounded ? 1 : 4;
            std::vector<uint8_t> want(out * es);
            p.out.quant.data = rounded ? want.data() : nullptr;
            int8_conv2d_ref(p, x.data(), w.data(), w_signed, wz, wz_count, want.data());
            // im2col; then the shifted weights through int8_conv2d's own
            // choice; then the shifted driver called directly (so the test
            // also fails if the dispatch stopped taking it).
            for (int form : {0, 1, 2}) {
              Int8Weights packed = pack_int8_weights(w.data(), w_signed, c.cout, k, wz, wz_count);
              if (form > 0) {
                prepare_shifted_weights(packed, p.geo);
                // Made where the shifted form may serve (this machine, no
                // tile GEMM) and no weight zero point is set.
                const bool expect = int8_conv_takes_shifted(p.geo) && !packed.any_zero;
                ASSERT_EQ(!packed.shifted.empty(), expect) << "case cin=" << c.cin << " kh=" << c.kh;
                if (!expect) continue;
                shifted_runs += form == 2;
              }
              std::vector<uint8_t> got(out * es + 64, 0xEE);
              p.out.quant.data = rounded ? got.data() : nullptr;
              if (form == 2) int8_detail::conv2d_shifted(p, x.data(), packed, got.data());
              else int8_conv2d(p, x.data(), packed, got.data());
              for (size_t i = 0; i < out * es; ++i)
                ASSERT_EQ(got[i], want[i]) << "case cin=" << c.cin << " group=" << c.group << " signs=" << signs << " mode=" << mode
                                           << " zero_mode=" << zero_mode << " threads=" << threads << " form=" << form << " byte " << i;
              for (size_t i = out * es; i < got.size(); ++i) ASSERT_EQ(got[i], 0xEE) << "write past the output";
            }
          }
        }
  }
  // With VNNI and no tile GEMM: the seven stride-1 one-group cases, the 2
  // signednesses with int8 weights (uint8 weights carry a zero point once
  // shifted to signed), 4 output modes, no weight zero points, 2 thread counts.
  EXPECT_EQ(shifted_runs, expect_shifted ? 7 * 2 * 4 * 2 : 0);
  set_num_threads(1);
}

// The tile GEMM the conv takes while it lives (restored however the test ends).
struct TileGemmScope {
  explicit TileGemmScope(Int8TileGemm gemm) { set_int8_tile_gemm(gemm); }
  ~TileGemmScope() { reset_int8_tile_gemm(); }
};

// The emulated tile build is compiled with AVX-512 flags.
[[maybe_unused]] bool can_emulate_amx() {  // x86-64 tests only
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl;
}

}  // namespace

// Without tiles: the VNNI or SDOT path (or the scalar GEMM), also on AMX machines.
TEST(Int8Conv, MatchesDirectTwin) {
  TileGemmScope none(nullptr);
  check_against_direct_twin(int8_detail::fast_gemm());
}

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
// The same cases through the AMX tile GEMM, its tiles emulated in software
// (tests/amx): the k padding to 64, the 2 x 2 tile passes with their row
// and pixel tails, the spare weight rows. The hardware build of the same
// source runs where the CPU has AMX-INT8 (the automatic choice there).
TEST(Int8Conv, AmxTilePathMatchesDirectTwin) {
  if (!can_emulate_amx()) GTEST_SKIP() << "the emulated AMX build needs AVX-512";
  TileGemmScope emulated(&amx_emulated::int8_gemm_tiles);
  check_against_direct_twin(false);  // with tiles the shifted form is not prepared
}
#endif  // x86-64

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(Int8Gemm, AmxTilesMatchReference) {
  if (!can_emulate_amx()) GTEST_SKIP() << "the emulated AMX build needs AVX-512";
  for (int64_t m : {1, 3, 16, 17, 40})
    for (int64_t k : {4, 60, 64, 200})
      for (int64_t n : {1, 15, 16, 17, 33, 100}) {
        const int64_t n16 = (n + 15) / 16 * 16, k4 = (k + 3) / 4 * 4, k64 = (k + 63) / 64 * 64;
        auto a4 = random_bytes(size_t(m * k4), 1);
        std::vector<int8_t> a64(size_t((m + 16) * k64), 0);
        auto spare = random_bytes(size_t(16 * k64), 3);  // rows past m: read, never stored
        for (int64_t r = 0; r < m; ++r)
          for (int64_t i = 0; i < k4; ++i) a64[size_t(r * k64 + i)] = int8_t(i < k ? a4[size_t(r * k4 + i)] : 0);
        for (int64_t i = 0; i < 16 * k64; ++i) a64[size_t(m * k64 + i)] = int8_t(i % k64 < k ? spare[size_t(i)] : 0);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t i = k; i < k4; ++i) a4[size_t(r * k4 + i)] = 0;
        auto b = random_bytes(size_t(k64 * n16), 2);  // the padding k-quads need not be zero: a's are
        const int64_t ldc = n + 3;
        std::vector<int32_t> want(size_t(m * ldc), -7), got(size_t(m * ldc), -7);
        int8_gemm_ref(reinterpret_cast<const int8_t*>(a4.data()), k4, m, k4, b.data(), n, want.data(), ldc);
        amx_emulated::int8_gemm_tiles(a64.data(), k64, m, k64, b.data(), n, got.data(), ldc);
        ASSERT_EQ(got, want) << "m=" << m << " k=" << k << " n=" << n;  // also: nothing written past n in a row
      }
}
#endif  // x86-64

// The split of an int8 conv's pixels (or the shifted form's rows) over
// threads: few tasks whose static split leaves one thread more are re-cut
// (at most twice the block) when that lowers the largest share by 5% or
// more; otherwise unchanged.
TEST(Int8Conv, BalancedBlocksEvenOutFewTasks) {
  EXPECT_EQ(balanced_block(480, 96, 16, 1, 2), 80);    // 5 tasks: 288 -> 4 of 128: 256 -> 6 of 80: 240
  EXPECT_EQ(balanced_block(1600, 272, 16, 1, 2), 272);  // 816 / 784: 4 of 400 (800) is not 5% better
  EXPECT_EQ(balanced_block(400, 128, 16, 1, 2), 208);   // 4 tasks, 256 / 144 -> 2 of 208: 208 / 192
  EXPECT_EQ(balanced_block(40, 8, 1, 1, 2), 10);        // 5 rows of 8 -> 4 of 10
  EXPECT_EQ(balanced_block(3, 1, 1, 1, 2), 1);          // 3 rows: 2 of 2 would not lower the share (2)
  EXPECT_EQ(balanced_block(480, 96, 16, 1, 1), 96);     // one thread
  EXPECT_EQ(balanced_block(100000, 272, 16, 1, 2), 272);  // many tasks: the remainder is small
  EXPECT_EQ(balanced_block(480, 96, 16, 3, 2), 80);     // 3 images x 5 = 15 tasks -> 3 x 6: shares 8 x 96 = 768 -> 9 x 80 = 720
}
