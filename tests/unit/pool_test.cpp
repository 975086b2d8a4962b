// MaxPool: the row-maximum kernel against its tap-by-tap reference twin on
// awkward geometries (1x1 planes, odd sizes, windows wider than the input,
// padding on every side, strides, dilation, ceil-mode-like extra columns),
// 1 and 2 threads; results must be identical (a maximum has no rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/conv.h"

using namespace pareto;

TEST(MaxPool, RowKernelMatchesReference) {
  struct Case {
    int64_t c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  };
  const Case cases[] = {
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    {3, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   {16, 24, 96, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {2, 9, 13, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1},   {4, 6, 5, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},   {1, 3, 2, 3, 4, 1, 1, 1, 1, 1, 2, 1, 2},
      {5, 17, 31, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2}, {7, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {3, 33, 129, 1, 5, 1, 3, 1, 1, 0, 2, 0, 0},
      // 2x2 stride 2 without padding (its own loop): PP-OCR cls's, odd sizes (last row and column unused), one output
      {200, 2, 96, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0}, {3, 7, 13, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0}, {2, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0}};
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      kernels::PoolParams p;
      p.n = 2, p.c = c.c, p.h = c.h, p.w = c.w, p.kh = c.kh, p.kw = c.kw, p.stride_h = c.sh, p.stride_w = c.sw, p.dil_h = c.dh, p.dil_w = c.dw;
      p.pad_top = c.pt, p.pad_left = c.pl, p.pad_bottom = c.pb, p.pad_right = c.pr;
      p.out_h = (c.h + c.pt + c.pb - ((c.kh - 1) * c.dh + 1)) / c.sh + 1;
      p.out_w = (c.w + c.pl + c.pr - ((c.kw - 1) * c.dw + 1)) / c.sw + 1;
      ASSERT_GT(p.out_h, 0);
      ASSERT_GT(p.out_w, 0);
      const auto x = pareto::testing::uniform(size_t(p.n * p.c * p.h * p.w), uint32_t(c.h * 131 + c.w));
      const size_t n_out = size_t(p.n * p.c * p.out_h * p.out_w);
      std::vector<float> want(n_out, 7.f), got(n_out, 9.f);
      kernels::f32_maxpool2d_ref(p, x.data(), want.data(), nullptr);
      kernels::f32_maxpool2d(p, x.data(), got.data(), nullptr);
      for (size_t i = 0; i < n_out; ++i)
        ASSERT_EQ(got[i], want[i]) << "c" << c.c << " " << c.h << "x" << c.w << " k" << c.kh << "x" << c.kw << " s" << c.sh << c.sw << " d" << c.dh
                                   << c.dw << " threads " << threads << " at " << i;
    }
  }
  set_num_threads(1);
}

// Signed zeros and infinities: each tap is kept only when greater, in the
// reference's order, so the 2x2 stride-2 loop gives its bits (-0 before +0
// stays -0, +0 before -0 stays +0). (A NaN tap is never kept by the
// vector loops, general or 2x2, while the reference keeps a window's
// first tap whatever it is: they differ on NaN, as they did before.)
TEST(MaxPool, TwoByTwoKeepsTheReferencesBits) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {-0.f, 0.f, 0.f, -0.f, -inf, -inf, 3.f, -inf,  //
                                0.f, -0.f, -0.f, 0.f, -inf, -inf, -inf, inf};
  kernels::PoolParams p;
  p.n = 1, p.c = 1, p.h = 2, p.w = 8, p.kh = p.kw = 2, p.stride_h = p.stride_w = 2, p.out_h = 1, p.out_w = 4;
  std::vector<float> want(4, 7.f), got(4, 9.f);
  kernels::f32_maxpool2d_ref(p, x.data(), want.data(), nullptr);
  kernels::f32_maxpool2d(p, x.data(), got.data(), nullptr);
  EXPECT_EQ(std::memcmp(got.data(), want.data(), sizeof(float) * 4), 0) << got[0] << " " << got[1] << " " << got[2] << " " << got[3];
  EXPECT_TRUE(std::signbit(got[0]) && !std::signbit(got[1]));
}
