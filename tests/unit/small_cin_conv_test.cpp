// The direct conv for few input channels (kernels/conv.h,
// avx512::small_cin_conv: image stems) against the direct loops of
// f32_conv2d_ref with the generic activation after them: output widths
// around its 16-pixel vectors and 48-pixel blocks (1, 15-17, 47-49, 97),
// channel counts around its groups of 8 (1, 7-9, 17), strides 1 and 2,
// kernels 1x3 to 7x7 with asymmetric pads and pads wider than the row,
// batch 2, the activation in registers (HardSwish), after the stores (a
// residual; tanh, which has no vector form), 1 and 2 threads; nothing
// written past the output.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;

namespace {

constexpr float kGuardValue = -12345.f;

std::vector<float> values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1u;
  for (float& f : v) {
    s = s * 1664525u + 1013904223u;
    f = float(int32_t(s >> 8) % 2001 - 1000) / 500.f;
  }
  return v;
}

// n, cin, h, w, cout, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr
const ConvCase kCases[] = {
    {1, 3, 48, 192, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},   // PP-OCR cls's stem
    {1, 3, 9, 2, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},     // out_w 1
    {2, 3, 7, 31, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // stride 1, out_w 31, 9 channels, batch 2
    {1, 1, 5, 33, 7, 3, 3, 1, 2, 2, 1, 1, 0, 0, 1, 1},     // stride 2 without left pads: out_w 17
    {1, 4, 6, 96, 17, 5, 5, 1, 1, 2, 1, 1, 2, 2, 2, 2},    // 5x5, stride (1,2): out_w 48
    {1, 2, 11, 97, 1, 7, 7, 1, 2, 2, 1, 1, 3, 3, 3, 3},    // 7x7 (98 products), out_w 49
    {1, 3, 4, 47, 8, 1, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1},     // 1x3, out_w 47
    {1, 2, 3, 15, 5, 3, 1, 1, 2, 1, 1, 1, 1, 0, 1, 0},     // 3x1, stride (2,1): out_w 15
    {1, 3, 8, 16, 8, 3, 3, 1, 1, 2, 1, 1, 1, 4, 1, 4},     // pads wider than the taps reach
    {1, 2, 4, 2, 3, 1, 5, 1, 1, 1, 1, 1, 0, 4, 0, 0},      // width 2, pad left 4
    {1, 3, 20, 193, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 0, 0},  // odd width, 97 outputs per row
    {1, 1, 76, 32, 24, 3, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1},   // openWakeWord embedding's first conv: pads left and right only
};

}  // namespace

TEST(SmallCinConv, MatchesDirectReferenceWithEpilogues) {
  if (kernel_table().level != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 level here: stems are lowered to the GEMM";
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : kCases)
      for (int e = 0; e < 4; ++e) {  // none, HardSwish in registers, relu with a residual, tanh after the stores
        ConvParams p = params_of(c);
        ASSERT_TRUE(small_cin_direct_applicable(p)) << "case cin " << c.cin << " w " << c.w;
        const size_t out = size_t(p.n * p.c_out * p.out_h * p.out_w);
        auto x = values(size_t(c.n * c.cin * c.h * c.w), 1);
        auto w = values(size_t(c.cout * c.cin * c.kh * c.kw), 2);
        auto b = values(size_t(c.cout), 3);
        auto residual = values(out, 4);
        if (e == 1) p.epilogue.act.kind = ActKind::hard_swish;
        if (e == 2) {
          p.epilogue.act.kind = ActKind::relu;
          p.epilogue.residual = residual.data();
        }
        if (e == 3) p.epilogue.act.kind = ActKind::tanh;
        std::vector<float> want(out), got(out + 16, kGuardValue);
        f32_conv2d_ref(p, x.data(), w.data(), e == 0 ? nullptr : b.data(), want.data());
        if (e > 0) apply_activation_generic(p.epilogue.act, want.data(), p.epilogue.residual, int64_t(out));
        f32_conv2d(p, x.data(), w.data(), e == 0 ? nullptr : b.data(), got.data());
        const std::string what = "cin " + std::to_string(c.cin) + " " + std::to_string(c.h) + "x" + std::to_string(c.w) + " cout " +
                                 std::to_string(c.cout) + " epilogue " + std::to_string(e) + " threads " + std::to_string(threads);
        for (size_t i = 0; i < out; ++i) ASSERT_NEAR(want[i], got[i], 1e-4f * (1.f + std::abs(want[i]))) << what << " at " << i;
        for (size_t i = out; i < got.size(); ++i) ASSERT_EQ(got[i], kGuardValue) << what << ": a write past the output";
      }
  }
  set_num_threads(1);
}

// The same sums as the lowered GEMM it replaces (im2col, then the small-k
// tile: taps in order, bias last): equal values, so a model's outputs do
// not move (openWakeWord's embedding, compared between its ONNX and
// TFLite files at 1e-4, moved past that when the bias came first).
TEST(SmallCinConv, SameSumsAsTheLoweredGemm) {
  if (kernel_table().level != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 level here: stems are lowered to the GEMM";
  for (const ConvCase& c : kCases) {
    const ConvParams p = params_of(c);
    const int64_t plane = p.out_h * p.out_w, kdim = p.c_in * p.kh * p.kw;
    auto x = values(size_t(c.n * c.cin * c.h * c.w), 5);
    auto w = values(size_t(c.cout * kdim), 6);
    auto b = values(size_t(c.cout), 7);
    const size_t out = size_t(p.n * p.c_out * plane);
    std::vector<float> want(out), got(out);
    std::vector<float> col(size_t(kdim * plane + 16));
    for (int64_t n = 0; n < p.n; ++n) {
      f32_im2col_block(p, x.data() + n * p.c_in * p.h * p.w, p.c_in, 0, plane, col.data());
      small_k_gemm(col.data(), plane, kdim, w.data(), b.data(), p.c_out, want.data() + n * p.c_out * plane, plane, plane);
    }
    f32_conv2d(p, x.data(), w.data(), b.data(), got.data());
    for (size_t i = 0; i < out; ++i) ASSERT_EQ(want[i], got[i]) << "cin " << c.cin << " " << c.h << "x" << c.w << " at " << i;
  }
}

// Past 2^18 outputs the stem stays on the lowered GEMM (det's 16 x 320 x 320
// streamed to memory either way, and the GEMM's tiles ran faster at 2 threads).
TEST(SmallCinConv, LargeOutputsStayOnTheGemm) {
  ConvParams p = params_of({1, 3, 640, 640, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  EXPECT_FALSE(small_cin_direct_applicable(p));
  p = params_of({1, 8, 48, 192, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  EXPECT_FALSE(small_cin_direct_applicable(p)) << "8 input channels: not a stem";
}
