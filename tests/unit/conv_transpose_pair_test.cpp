// Two 2x2 stride-2 transposed convs fused row by row
// (kernels::f32_conv_transpose2x2_pair) against the two convs one after the
// other (f32_conv_transpose2d: the same row kernels, so the same bits) and
// against the direct-loop twins (within float rounding), on awkward widths
// (the row kernel's 32-pixel stretches and their tails), channel counts
// that leave a single channel for the two-channel blocks, batch 2, with and
// without biases and activations, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "pareto/error.h"
#include "kernels/conv.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;

// PP-OCR det's head's form (kernels::upsampling_2x2).
ConvParams upsampling(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out) { return upsampling_2x2(n, c_in, h, w, c_out); }

TEST(ConvTransposePair, MatchesTheTwoConvsApart) {
  // Without a row kernel the pair is the two convs apart by construction: nothing to compare.
  if (!conv_transpose2x2_row_kernel(upsampling(1, 2, 2, 2, 2))) GTEST_SKIP() << "no AVX-512 or NEON row kernel for 2x2 transposed convs here";
  struct Case {
    int64_t n, c, h, w, mid, out;
  };
  const Case cases[] = {{1, 24, 5, 40, 24, 1},  // PP-OCR det's head, narrow: 40 -> 80 -> 160 columns
                        {2, 3, 3, 1, 5, 2},     // one-pixel-wide rows, an odd channel count in the middle
                        {1, 7, 4, 17, 3, 3},    // 17 and 34 columns: stretch tails
                        {1, 16, 2, 33, 1, 1},   // one channel in the middle
                        {1, 2, 1, 70, 4, 5}};   // one input row
  constexpr float kGuard = 12345.f;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      ConvParams a = upsampling(c.n, c.c, c.h, c.w, c.mid);
      ConvParams b = upsampling(c.n, c.mid, a.out_h, a.out_w, c.out);
      ASSERT_TRUE(conv_transpose2x2_pair_fits(a, b));
      const auto x = pareto::testing::uniform(size_t(c.n * c.c * c.h * c.w), 1);
      const auto wa = pareto::testing::uniform(size_t(c.c * c.mid * 4), 2), ba = pareto::testing::uniform(size_t(c.mid), 3);
      const auto wb = pareto::testing::uniform(size_t(c.mid * c.out * 4), 4), bb = pareto::testing::uniform(size_t(c.out), 5);
      const size_t mid_n = size_t(c.n * c.mid * a.out_h * a.out_w), out_n = size_t(c.n * c.out * b.out_h * b.out_w);
      for (int form = 0; form < 4; ++form) {  // biases, activations: both, neither, one each
        const bool biases = form != 1, acts = form == 0 || form == 2;
        a.epilogue.act = {};
        b.epilogue.act = {};
        if (acts) {
          a.epilogue.act.kind = ActKind::relu;
          b.epilogue.act.kind = ActKind::sigmoid;
        }
        const float* pba = biases ? ba.data() : nullptr;
        const float* pbb = biases && form != 3 ? bb.data() : nullptr;
        std::vector<float> mid(mid_n), apart(out_n), fused(out_n + 16, kGuard), mid_ref(mid_n), ref(out_n);
        f32_conv_transpose2d(a, x.data(), wa.data(), pba, mid.data());
        f32_conv_transpose2d(b, mid.data(), wb.data(), pbb, apart.data());
        f32_conv_transpose2x2_pair(a, x.data(), wa.data(), pba, b, wb.data(), pbb, fused.data());
        const std::string what = "case c=" + std::to_string(c.c) + " w=" + std::to_string(c.w) + " form=" + std::to_string(form) +
                                 " threads=" + std::to_string(threads);
        ASSERT_EQ(std::memcmp(fused.data(), apart.data(), out_n * sizeof(float)), 0) << what << ": not the two convs' bits";
        for (size_t i = out_n; i < fused.size(); ++i) ASSERT_EQ(fused[i], kGuard) << what << ": write past the output";
        f32_conv_transpose2d_ref(a, x.data(), wa.data(), pba, mid_ref.data());
        f32_conv_transpose2d_ref(b, mid_ref.data(), wb.data(), pbb, ref.data());
        for (size_t i = 0; i < out_n; ++i) ASSERT_NEAR(fused[i], ref[i], 1e-4 * (1 + std::fabs(ref[i]))) << what << " at " << i;
      }
    }
  }
  set_num_threads(1);
}

TEST(ConvTransposePair, RefusesShapesThatDoNotChain) {
  const ConvParams a = upsampling(1, 4, 3, 5, 6);
  EXPECT_FALSE(conv_transpose2x2_pair_fits(a, upsampling(1, 5, 6, 10, 1))) << "b's input channels are not a's outputs";
  EXPECT_FALSE(conv_transpose2x2_pair_fits(a, upsampling(1, 6, 6, 9, 1))) << "b's input is not a's output size";
  ConvParams padded = upsampling(1, 6, 6, 10, 1);
  padded.pad_top = 1;
  EXPECT_FALSE(conv_transpose2x2_pair_fits(a, padded)) << "not the 2x2 form";
  const std::vector<float> x(60), w(96), y(16);
  EXPECT_THROW(f32_conv_transpose2x2_pair(a, x.data(), w.data(), nullptr, padded, w.data(), nullptr, const_cast<float*>(y.data())),
               pareto::Error);
}
