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

#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "../apps/scratch_dir.h"
#include "core/thread_pool.h"
#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernel_test_util.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"

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
// tile: taps in order, bias last; then the dispatched activation): the same
// bits, so a model's outputs do not move (openWakeWord's embedding,
// compared between its ONNX and TFLite files at 1e-4, moved past that when
// the bias came first). The kernel called itself, not through f32_conv2d,
// with each epilogue (in registers, after the stores, the affine-and-floor
// form), inputs holding NaN, infinities and negative zeros, 1 and 2 threads.
TEST(SmallCinConv, SameBitsAsTheLoweredGemm) {
  if (kernel_table().level != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 level here: stems are lowered to the GEMM";
  std::vector<ConvCase> cases(std::begin(kCases), std::end(kCases));
  cases.push_back({1, 2, 4, 10, 5, 3, 3, 1, 1, 1, 1, 1, 3, 1, 3, 1});   // pads of 3 over a 3-row kernel: rows of bias only
  cases.push_back({1, 3, 10, 20, 6, 1, 3, 1, 3, 2, 1, 1, 0, 1, 0, 1});  // stride (3, 2) over a 1x3 kernel
  cases.push_back({1, 2, 12, 40, 9, 8, 8, 1, 2, 2, 1, 1, 3, 3, 4, 4});  // 2 x 8 x 8: 128 products, the most
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : cases)
      for (int e = 0; e < 5; ++e) {  // none, HardSwish, sigmoid, relu + residual, hard sigmoid with affine and floor
        ConvParams p = params_of(c);
        ASSERT_TRUE(small_cin_direct_applicable(p));
        const int64_t plane = p.out_h * p.out_w, kdim = p.c_in * p.kh * p.kw;
        auto x = values(size_t(c.n * c.cin * c.h * c.w), 5);
        for (size_t i = 0; i < x.size(); i += 37) x[i] = i % 3 == 0 ? std::numeric_limits<float>::quiet_NaN() : i % 3 == 1 ? -0.f : -std::numeric_limits<float>::infinity();
        auto w = values(size_t(c.cout * kdim), 6);
        auto b = values(size_t(c.cout), 7);
        const size_t out = size_t(p.n * p.c_out * plane);
        auto residual = values(out, 8);
        Activation& act = p.epilogue.act;
        if (e == 1) act.kind = ActKind::hard_swish;
        if (e == 2) act.kind = ActKind::sigmoid;
        if (e == 3) act.kind = ActKind::relu, p.epilogue.residual = residual.data();
        if (e == 4) act.kind = ActKind::hard_sigmoid, act.alpha = 0.2f, act.beta = 0.5f, act.scale = 3.f, act.shift = -1.f, act.floor = 0.25f;
        std::vector<float> want(out), got(out);
        std::vector<float> col(size_t(kdim * plane + 16));
        for (int64_t n = 0; n < p.n; ++n) {
          f32_im2col_block(p, x.data() + n * p.c_in * p.h * p.w, p.c_in, 0, plane, col.data());
          small_k_gemm(col.data(), plane, kdim, w.data(), b.data(), p.c_out, want.data() + n * p.c_out * plane, plane, plane);
        }
        if (p.epilogue.active()) apply_activation(act, want.data(), p.epilogue.residual, int64_t(out));
        avx512::small_cin_conv(p, x.data(), w.data(), b.data(), got.data());
        ASSERT_EQ(0, std::memcmp(want.data(), got.data(), out * sizeof(float)))
            << "cin " << c.cin << " " << c.h << "x" << c.w << " k " << c.kh << "x" << c.kw << " epilogue " << e << " threads " << threads;
      }
  }
  set_num_threads(1);
}

// Past 2^18 outputs the stem stays on the lowered GEMM (det's 16 x 320 x 320
// streamed to memory either way, and the GEMM's tiles ran faster at 2 threads).
TEST(SmallCinConv, LargeOutputsStayOnTheGemm) {
  if (kernel_table().level != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 level here: no stem takes the direct kernel";
  ConvParams p = params_of({1, 3, 640, 640, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  EXPECT_FALSE(small_cin_direct_applicable(p));
  p = params_of({1, 8, 48, 192, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  EXPECT_FALSE(small_cin_direct_applicable(p)) << "8 input channels: not a stem";
  p = params_of({1, 3, 128, 128, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1});  // 16 x 128 x 128 = 2^18 outputs
  EXPECT_TRUE(small_cin_direct_applicable(p));
  p = params_of({1, 1, 1, 262145, 1, 1, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1});  // 2^18 + 1
  EXPECT_FALSE(small_cin_direct_applicable(p));
}

// In a model, a stem conv takes the direct kernel and the profile says so
// (ProfileEntry::kernel, the JSON's ops[].kernel): "f32 direct", or the
// lowered "f32" where the CPU has no AVX-512 level.
TEST(SmallCinConv, ProfileNamesTheDirectKernel) {
  namespace pb = pareto::test;
  pb::Msg g;
  g.m(5, pb::tensor_f32("w", {8, 3, 3, 3}, values(8 * 27, 9)));
  g.m(1, pb::node("Conv", {"x", "w"}, {"y"}, "stem",
                  {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("strides", {2, 2}), pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.s(2, "stem");
  g.m(11, pb::value_info("x", 1, {1, 3, 48, 192}));
  g.m(12, pb::value_info("y", 1, {}));
  const std::string path = pareto::testing::scratch_dir() + "/small_cin_stem.onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  SessionOptions o;
  o.profile = true;
  auto session = Session::open(path, o);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  auto y = session.value()->run({{"x", Tensor::from_vector<float>(values(3 * 48 * 192, 10), {1, 3, 48, 192})}});
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  const std::vector<ProfileEntry> prof = session.value()->take_profile();
  ASSERT_EQ(prof.size(), 1u);
  EXPECT_EQ(prof[0].kernel, kernel_table().level == IsaLevel::avx512 ? "f32 direct" : "f32");
}
