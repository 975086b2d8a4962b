// The depthwise conv on the uint8 grid (ConvParams::quant_in: a QDQ model's
// Q -> DQ -> depthwise Conv, fold_qdq) against its twin: the input
// dequantized by the scalar rule, then the same conv in float. Input stored
// as uint8 or given as floats rounded on the way; output float or rounded
// to uint8 (quant_out); awkward shapes, strides, multipliers, batch 2,
// 1 and 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/int8_conv.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;
using pareto::testing::uniform;

namespace {

// n, cin, h, w, cout, kh, kw, group, strides, dilations, pads (top, left, bottom, right)
const ConvCase kDepthwiseCases[] = {
    {1, 16, 20, 37, 16, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1},  // PP-OCR-like 3x3, odd width
    {2, 5, 11, 33, 10, 5, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},    // 5x5 stride 2, multiplier 2, batch 2
    {1, 3, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},       // 1x1 plane
    {1, 4, 9, 70, 4, 5, 5, 4, 2, 1, 1, 1, 2, 2, 2, 2},      // stride (2, 1): rows of the one-row path
    {1, 2, 7, 17, 2, 3, 3, 2, 1, 3, 1, 2, 1, 0, 1, 2},      // stride_w 3, dilation_w 2: the generic loop
    {1, 3, 30, 600, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // wide rows: strips of 4 rows (the last of 2)
    {1, 2, 21, 1030, 4, 5, 5, 2, 2, 2, 1, 1, 2, 2, 2, 2},   // wide, stride 2, multiplier 2: strips of 4 rows
};

std::vector<uint8_t> random_u8(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t s = seed;
  for (uint8_t& b : v) b = uint8_t((s = s * 1664525u + 1013904223u) >> 24);
  return v;
}

}  // namespace

TEST(QuantizedDepthwise, ReadsTheUint8GridAsItsTwin) {
  const float x_scale = 0.0672525f, out_scale = 0.0862594f;
  const int32_t x_zero = 113, out_zero = 2;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : kDepthwiseCases) {
      const ConvParams base = params_of(c);
      ASSERT_TRUE(f32_conv_is_depthwise(base));
      const size_t in_n = size_t(c.n * c.cin * c.h * c.w), out_n = size_t(c.n * c.cout * base.out_h * base.out_w);
      const std::vector<uint8_t> q = random_u8(in_n, 7);
      const std::vector<float> w = uniform(size_t(c.cout * c.kh * c.kw), 8), b = uniform(size_t(c.cout), 9);
      // Floats off the grid that round to q: a quarter step either side.
      std::vector<float> x_near(in_n), x_grid(in_n);
      dequantize_u8_ref(q.data(), int64_t(in_n), x_scale, x_zero, x_grid.data());
      for (size_t i = 0; i < in_n; ++i) x_near[i] = x_grid[i] + (i % 2 ? 0.25f : -0.25f) * x_scale;
      const std::string what = "case cin=" + std::to_string(c.cin) + " w=" + std::to_string(c.w) + " k=" + std::to_string(c.kh) +
                               " threads=" + std::to_string(threads);
      // The twin: the float conv of the dequantized input (the grid values).
      ConvParams twin = base;
      twin.epilogue.act.kind = ActKind::relu;
      std::vector<float> want(out_n);
      f32_conv2d(twin, x_grid.data(), w.data(), b.data(), want.data());
      std::vector<float> want_ref(out_n);
      f32_conv2d_ref(twin, x_grid.data(), w.data(), b.data(), want_ref.data());
      for (size_t i = 0; i < out_n; ++i)  // the direct loops leave the activation out
        ASSERT_NEAR(want[i], std::max(want_ref[i], 0.f), 1e-5f * (1.f + std::abs(want[i]))) << what << " (dispatch vs direct loops) at " << i;
      std::vector<uint8_t> want_u8(out_n);
      quantize_u8_ref(want.data(), int64_t(out_n), out_scale, out_zero, want_u8.data());
      for (bool stored : {true, false})
        for (bool rounded_out : {false, true}) {
          ConvParams p = twin;
          p.quant_in.scale = x_scale;
          p.quant_in.zero = x_zero;
          p.quant_in.data = stored ? q.data() : nullptr;
          const float* x = stored ? nullptr : x_near.data();
          const std::string mode = what + (stored ? " stored" : " rounded on the way") + (rounded_out ? " -> uint8" : " -> float");
          if (rounded_out) {
            std::vector<uint8_t> got(out_n + 64, 0xEE);
            p.quant_out.data = got.data();
            p.quant_out.scale = out_scale;
            p.quant_out.zero = out_zero;
            f32_conv2d(p, x, w.data(), b.data(), nullptr);
            for (size_t i = 0; i < out_n; ++i) ASSERT_EQ(int(got[i]), int(want_u8[i])) << mode << " at " << i;
            for (size_t i = out_n; i < got.size(); ++i) ASSERT_EQ(got[i], 0xEE) << mode << ": write past the output";
          } else {
            std::vector<float> got(out_n, -7.f);
            f32_conv2d(p, x, w.data(), b.data(), got.data());
            ASSERT_EQ(std::memcmp(got.data(), want.data(), out_n * sizeof(float)), 0) << mode;
          }
        }
    }
  }
  set_num_threads(1);
}

TEST(QuantizedDepthwise, DequantizeU8MatchesReference) {
  for (int64_t n : {1, 15, 16, 17, 100, 1000})
    for (int32_t zero : {0, 113, 255}) {
      const std::vector<uint8_t> q = random_u8(size_t(n), uint32_t(n + zero));
      std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n) + 16, -9.f);
      dequantize_u8_ref(q.data(), n, 0.0862594f, zero, want.data());
      dequantize_u8(q.data(), n, 0.0862594f, zero, got.data());
      ASSERT_EQ(std::memcmp(got.data(), want.data(), size_t(n) * sizeof(float)), 0) << "n=" << n << " zero=" << zero;
      for (size_t i = size_t(n); i < got.size(); ++i) ASSERT_EQ(got[i], -9.f) << "write past the output";
    }
}

#if defined(__x86_64__)
// The AVX-512 plane kernel over output rows in pieces (as the strip walk
// calls it, and at odd boundaries: single rows, pieces shorter than its
// 4-row groups) gives the whole plane's bits; the uint8 source equals the
// float source holding the dequantized values.
TEST(QuantizedDepthwise, RowPiecesEqualTheWholePlane) {
  if (best_isa_level() != IsaLevel::avx512) GTEST_SKIP() << "this CPU has no AVX-512: the AVX-512 depthwise kernel is built but not run";
  for (const ConvCase& c : kDepthwiseCases) {
    if (c.sw > 2 || c.dw != 1) continue;  // the plane kernel's forms
    ConvCase one = c;
    one.n = 1;
    one.cin = one.cout = one.group = 1;
    const ConvParams p = params_of(one);
    const std::vector<uint8_t> q = random_u8(size_t(c.h * c.w), 11);
    std::vector<float> x(q.size()), row(size_t(c.w));
    dequantize_u8_ref(q.data(), int64_t(q.size()), 0.05f, 17, x.data());
    const std::vector<float> k = uniform(size_t(c.kh * c.kw), 12);
    const size_t out = size_t(p.out_h * p.out_w);
    std::vector<float> whole(out), scratch(size_t(avx512::depthwise_scratch_floats(p)), std::nanf(""));
    avx512::depthwise_plane(p, x.data(), k.data(), 0.5f, whole.data(), scratch.data());
    for (int64_t piece : {1, 3, 4, 7}) {
      DepthwiseSource src;
      src.q = q.data();
      src.scale = 0.05f;
      src.zero = 17;
      src.row = row.data();
      std::vector<float> got(out, -3.f), scratch2(scratch.size(), std::nanf(""));
      for (int64_t oh = 0; oh < p.out_h; oh += piece)
        avx512::depthwise_plane_rows(p, src, k.data(), 0.5f, got.data(), scratch2.data(), oh, std::min(p.out_h, oh + piece));
      ASSERT_EQ(std::memcmp(got.data(), whole.data(), out * sizeof(float)), 0) << "w=" << c.w << " k=" << c.kh << " piece=" << piece;
    }
  }
}
#endif
