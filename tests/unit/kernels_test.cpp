// Every optimized kernel against its scalar reference on awkward sizes
// (1, odd, tails, large), both transposes, 1 and 2 threads, with guard
// values after each output to catch out-of-bounds writes.
#include <bit>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/softmax.h"
#include "kernels/activation.h"
#include "kernels/llm_ops.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;

namespace {

constexpr float kGuard = 12345.f;

std::vector<float> random_vec(size_t n, uint32_t seed) { return pareto::testing::uniform(n, seed); }

// Relative error scaled by the magnitude of the accumulated terms.
void expect_close(const float* want, const float* got, size_t n, double tol, const std::string& what) {
  double max_err = 0;
  for (size_t i = 0; i < n; ++i) max_err = std::max(max_err, double(std::abs(want[i] - got[i])) / (1.0 + std::abs(want[i])));
  EXPECT_LE(max_err, tol) << what;
}

struct GemmVariant {
  const char* name;
  GemmFn fn;
  IsaLevel level;
};

std::vector<GemmVariant> gemm_variants() {
  std::vector<GemmVariant> v;
#if defined(__x86_64__)  // each architecture's kernels are built for it only
  if (best_isa_level() >= IsaLevel::avx2) v.push_back({"avx2", avx2::f32_gemm_blocked, IsaLevel::avx2});
  if (best_isa_level() >= IsaLevel::avx512) v.push_back({"avx512", avx512::f32_gemm_blocked, IsaLevel::avx512});
#elif defined(__aarch64__)
  if (best_isa_level() == IsaLevel::neon) v.push_back({"neon", neon::f32_gemm_blocked, IsaLevel::neon});
#endif
  return v;
}

}  // namespace

TEST(Gemm, VariantsMatchReference) {
  const int64_t sizes[] = {1, 2, 4, 5, 7, 16, 31, 33, 65, 255};  // 1-4 rows times a transposed B take the dot-product path
  auto variants = gemm_variants();
  if (variants.empty()) GTEST_SKIP() << "no SIMD GEMM variant for this CPU (only the reference)";
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const GemmVariant& var : variants)
      for (int64_t m : sizes)
        for (int64_t n : {int64_t(1), int64_t(17), int64_t(64), int64_t(257)})
          for (int64_t k : {int64_t(1), int64_t(3), int64_t(31), int64_t(300)})
            for (int t = 0; t < 4; ++t) {
              GemmArgs g;
              g.trans_a = t & 1;
              g.trans_b = t & 2;
              g.m = m;
              g.n = n;
              g.k = k;
              g.lda = (g.trans_a ? m : k) + 3;  // padded rows
              g.ldb = (g.trans_b ? k : n) + 1;
              g.ldc = n + 2;
              g.alpha = 0.75f;
              g.beta = (m + n) % 3 == 0 ? 0.f : 0.5f;
              auto a = random_vec(size_t((g.trans_a ? k : m) * g.lda), 1);
              auto b = random_vec(size_t((g.trans_b ? n : k) * g.ldb), 2);
              auto c0 = random_vec(size_t(m * g.ldc) + 16, 3);
              for (size_t i = size_t(m * g.ldc); i < c0.size(); ++i) c0[i] = kGuard;
              auto c1 = c0;
              g.a = a.data();
              g.b = b.data();
              g.c = c0.data();
              f32_gemm_ref(g);
              g.c = c1.data();
              var.fn(g);
              std::string what = std::string(var.name) + " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" +
                                 std::to_string(k) + " t=" + std::to_string(t) + " threads=" + std::to_string(threads);
              for (int64_t i = 0; i < m; ++i) expect_close(&c0[size_t(i * g.ldc)], &c1[size_t(i * g.ldc)], size_t(n), 1e-4, what);
              // padding between rows and guards after C stay untouched
              for (int64_t i = 0; i < m; ++i)
                for (int64_t j = n; j < g.ldc; ++j) ASSERT_EQ(c0[size_t(i * g.ldc + j)], c1[size_t(i * g.ldc + j)]) << what;
              for (size_t i = size_t(m * g.ldc); i < c1.size(); ++i) ASSERT_EQ(c1[i], kGuard) << what;
            }
  }
  set_num_threads(1);
}

// A packed once (as a conv's constant weights are) and reused: the product
// equals the reference, with A transposed or not, alpha folded into the
// packing, at every kernel level this CPU has, 1 and 2 threads.
TEST(Gemm, PrepackedAMatchesReference) {
  for (IsaLevel level : {IsaLevel::ref, IsaLevel::avx2, IsaLevel::avx512, IsaLevel::neon}) {
    if (!kernel_table_for(level)) continue;  // a level this CPU (or this build's architecture) lacks
    const KernelTable& table = *kernel_table_for(level);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (int64_t m : {int64_t(1), int64_t(8), int64_t(24), int64_t(131), int64_t(480)})
        for (int64_t n : {int64_t(1), int64_t(31), int64_t(600)})
          for (int64_t k : {int64_t(1), int64_t(27), int64_t(257), int64_t(864)})
            for (bool trans_a : {false, true}) {
              GemmArgs g;
              g.trans_a = trans_a;
              g.m = m;
              g.n = n;
              g.k = k;
              g.lda = (trans_a ? m : k) + 2;
              g.ldb = n;
              g.ldc = n;
              g.alpha = 1.5f;
              g.beta = n % 2 ? 0.f : 1.f;
              auto a = random_vec(size_t((trans_a ? k : m) * g.lda), 4);
              auto b = random_vec(size_t(k * n), 5);
              auto c0 = random_vec(size_t(m * n), 6), c1 = c0;
              c1.resize(c1.size() + 16, kGuard);
              g.a = a.data();
              g.b = b.data();
              g.c = c0.data();
              f32_gemm_ref(g);
              std::vector<float> packed(table.packed_a_floats(m, k));
              table.pack_a(g, packed.data());
              GemmArgs h = g;
              h.a = nullptr;  // not read
              h.c = c1.data();
              table.f32_gemm_packed(h, packed.data());
              const std::string what = std::string(isa_level_name(level)) + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                       " k=" + std::to_string(k) + (trans_a ? " trans_a" : "") + " threads=" + std::to_string(threads);
              expect_close(c0.data(), c1.data(), c0.size(), 1e-4, what);
              for (size_t i = c0.size(); i < c1.size(); ++i) ASSERT_EQ(c1[i], kGuard) << what;
            }
    }
  }
  set_num_threads(1);
}

TEST(Gemm, LargeProblemMatchesReference) {
  for (const GemmVariant& var : gemm_variants()) {
    GemmArgs g;
    g.m = 300;
    g.n = 1000;
    g.k = 700;
    g.lda = g.k;
    g.ldb = g.n;
    g.ldc = g.n;
    auto a = random_vec(size_t(g.m * g.k), 4), b = random_vec(size_t(g.k * g.n), 5);
    std::vector<float> c0(size_t(g.m * g.n)), c1(c0.size());
    g.a = a.data();
    g.b = b.data();
    g.c = c0.data();
    f32_gemm_ref(g);
    g.c = c1.data();
    set_num_threads(2);
    var.fn(g);
    set_num_threads(1);
    expect_close(c0.data(), c1.data(), c0.size(), 1e-4, var.name);
  }
}

TEST(Gemm, DispatchPicksBestLevel) {
  EXPECT_EQ(kernel_table().level, best_isa_level());
  EXPECT_NE(kernel_summary().find(isa_level_name(best_isa_level())), std::string::npos);
}

namespace {

const ConvCase kConvCases[] = {
    {1, 3, 17, 19, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // plain 3x3 same
    {2, 4, 9, 7, 6, 3, 3, 2, 2, 2, 1, 1, 1, 0, 1, 0},       // grouped, strided, asymmetric pads
    {1, 8, 11, 13, 8, 3, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1},     // depthwise
    {1, 8, 12, 12, 16, 5, 5, 8, 2, 2, 1, 1, 2, 2, 2, 2},    // depthwise, multiplier 2, stride 2
    {1, 5, 10, 10, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     // 1x1 direct GEMM path
    {1, 4, 15, 15, 3, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2},     // dilated
    {1, 1, 1, 300, 4, 1, 7, 1, 1, 3, 1, 1, 0, 3, 0, 3},     // 1-D style, stride 3
    {1, 16, 6, 5, 32, 3, 2, 4, 1, 2, 1, 1, 0, 1, 1, 0},     // rectangular kernel, groups
    {1, 64, 50, 50, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // im2col split into column blocks
    {1, 128, 45, 47, 5, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 1},   // blocks that end mid-row, stride (2,1)
    {1, 3, 10, 75, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},    // stem-like stride 2: the lowering's even-column copy, odd width
    // Depthwise shapes of PP-OCR (5x5, stride (2,1)) and awkward widths
    // around the 16-lane blocks of the AVX-512 plane kernel.
    {1, 6, 12, 80, 6, 5, 5, 6, 1, 1, 1, 1, 2, 2, 2, 2},
    {2, 5, 11, 33, 5, 5, 5, 5, 2, 1, 1, 1, 2, 2, 2, 2},
    {1, 3, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},       // 1x1 plane
    {1, 4, 7, 16, 8, 3, 3, 4, 1, 1, 2, 1, 2, 1, 2, 1},      // width 16 exactly, dilation_h 2, multiplier 2
    {1, 2, 9, 17, 2, 7, 7, 2, 1, 1, 1, 1, 3, 0, 3, 6},      // 7x7, asymmetric pads
    {1, 3, 3, 300, 3, 1, 5, 3, 1, 1, 1, 1, 0, 2, 0, 2},     // a long row
    {1, 4, 8, 15, 4, 3, 3, 4, 1, 2, 1, 1, 1, 1, 1, 1},      // stride_w 2: even/odd phases
    {1, 3, 9, 70, 3, 5, 5, 3, 2, 2, 1, 1, 2, 2, 2, 2},      // 5x5 stride 2 (PP-OCR det), rows longer than 4 blocks
    {1, 2, 5, 33, 2, 4, 4, 2, 1, 2, 1, 1, 1, 2, 2, 1},      // even kernel width, stride_w 2
    {1, 2, 6, 20, 2, 3, 3, 2, 1, 3, 1, 1, 1, 1, 1, 1},      // stride_w 3: the generic loop
    {1, 3, 7, 161, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},     // stride 2 over long odd rows: the vector deinterleave and its tail
    {1, 2, 5, 64, 2, 3, 3, 2, 2, 2, 1, 1, 0, 0, 1, 1},      // stride 2, no left pad, a row of exactly 4 blocks
    {1, 4, 2, 96, 4, 5, 5, 4, 1, 1, 1, 1, 2, 2, 2, 2},      // 5x5 over 2 rows (PP-OCR cls): 3 of 5 kernel rows on the border
    {1, 3, 3, 37, 3, 5, 5, 3, 2, 1, 1, 1, 2, 2, 2, 2},      // 5x5 stride (2,1) over 3 rows: border rows below and above
    // Stride 1, output as wide as the input: whole rows lowered as one shifted
    // copy (openWakeWord's 1x3 / 3x1 convs), and blocks that are not whole rows.
    {1, 24, 74, 32, 24, 1, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1},   // 1x3, pads left and right
    {1, 960, 1, 12, 60, 1, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1},   // PP-OCRv4 rec's neck on a short line: a 12-column lowered panel read in place
    {1, 150, 3, 7, 11, 1, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1},    // 21 columns: a whole vector and a ragged one, k = 450
    {1, 24, 74, 32, 24, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   // 3x1, no pads: 72 rows out
    {1, 48, 37, 16, 40, 1, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1},   // lowered depth 144: the packed GEMM path
    {1, 6, 11, 20, 4, 5, 1, 1, 1, 1, 2, 1, 4, 0, 4, 0},     // 5x1, dilation_h 2, pads top and bottom
    {1, 3, 8, 19, 5, 1, 5, 1, 1, 1, 1, 2, 0, 4, 0, 4},      // 1x5, dilation_w 2, odd width
    {2, 5, 9, 13, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // 3x3 "same", batch 2, width 13 (blocks mid-row)
    {1, 4, 1, 7, 3, 1, 3, 1, 1, 1, 1, 1, 0, 2, 0, 0},       // one row, pad left only: output narrower (generic path)
    {1, 2, 5, 1, 3, 1, 3, 1, 1, 1, 1, 1, 0, 0, 0, 2},       // width 1, both pads right: shifts past the row and the plane
    {1, 2, 4, 2, 3, 1, 5, 1, 1, 1, 1, 1, 0, 4, 0, 0},       // width 2, pad left 4: shifts wider than the row
};

}  // namespace

TEST(Conv, MatchesDirectReference) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : kConvCases) {
      ConvParams p = params_of(c);
      auto x = random_vec(size_t(c.n * c.cin * c.h * c.w), 7);
      auto w = random_vec(size_t(c.cout * (c.cin / c.group) * c.kh * c.kw), 8);
      auto b = random_vec(size_t(c.cout), 9);
      size_t out = size_t(p.n * p.c_out * p.out_h * p.out_w);
      std::vector<float> y0(out), y1(out + 16, kGuard);
      f32_conv2d_ref(p, x.data(), w.data(), b.data(), y0.data());
      f32_conv2d(p, x.data(), w.data(), b.data(), y1.data());
      expect_close(y0.data(), y1.data(), out, 1e-4, "conv cin=" + std::to_string(c.cin) + " group=" + std::to_string(c.group));
      for (size_t i = out; i < y1.size(); ++i) ASSERT_EQ(y1[i], kGuard);
      // and without bias
      f32_conv2d_ref(p, x.data(), w.data(), nullptr, y0.data());
      f32_conv2d(p, x.data(), w.data(), nullptr, y1.data());
      expect_close(y0.data(), y1.data(), out, 1e-4, "conv without bias");
      if (c.group == 1) {  // with the weights packed once, as the runtime does for constant weights
        GemmArgs g;
        g.m = c.cout;
        g.k = c.cin * c.kh * c.kw;
        g.a = w.data();
        g.lda = g.k;
        std::vector<float> packed(f32_gemm_packed_a_floats(g.m, g.k));
        f32_gemm_pack_a(g, packed.data());
        ConvParams q = p;
        q.packed_weights = packed.data();
        f32_conv2d(q, x.data(), w.data(), b.data(), y1.data());
        f32_conv2d_ref(p, x.data(), w.data(), b.data(), y0.data());
        expect_close(y0.data(), y1.data(), out, 1e-4, "conv with packed weights cin=" + std::to_string(c.cin));
      }
    }
  }
  set_num_threads(1);
}

// 1x1 convs with few input channels take the unpacked pointwise kernel
// (AVX-512 8 x 32 tiles, NEON 8 x 8): channel and pixel tails of its
// tile, planes whose size is a multiple of 4 KiB (the rows are copied
// apart), batch 2, the fused residual and activation, 1 and 2 threads.
TEST(Conv, PointwiseKernelMatchesDirectReference) {
  if (kernel_table().level != IsaLevel::avx512 && kernel_table().level != IsaLevel::neon)
    GTEST_SKIP() << "this CPU has neither AVX-512 nor NEON: the pointwise kernels are built but not run";
  struct Shape1x1 {
    int64_t n, cin, cout, h, w;
  };
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Shape1x1& c : {Shape1x1{1, 1, 1, 1, 1}, Shape1x1{1, 3, 5, 3, 11}, Shape1x1{2, 16, 32, 32, 32}, Shape1x1{1, 17, 13, 7, 9},
                              Shape1x1{1, 128, 9, 5, 40}, Shape1x1{1, 24, 96, 64, 64}})
      for (bool fused : {false, true}) {
        ConvParams p = params_of({c.n, c.cin, c.h, c.w, c.cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});
        ASSERT_TRUE(pointwise_applicable(p));
        const size_t out = size_t(c.n * c.cout * c.h * c.w);
        auto x = random_vec(size_t(c.n * c.cin * c.h * c.w), 17);
        auto w = random_vec(size_t(c.cout * c.cin), 18);
        auto b = random_vec(size_t(c.cout), 19);
        auto residual = random_vec(out, 20);
        if (fused) {
          p.epilogue.act.kind = ActKind::relu;
          p.epilogue.residual = residual.data();
        }
        std::vector<float> want(out), got(out + 16, kGuard);
        f32_conv2d_ref(p, x.data(), w.data(), b.data(), want.data());
        if (fused) apply_activation_generic(p.epilogue.act, want.data(), residual.data(), int64_t(out));
        f32_conv2d(p, x.data(), w.data(), b.data(), got.data());
        expect_close(want.data(), got.data(), out, 1e-4, "pointwise cin=" + std::to_string(c.cin) + " cout=" + std::to_string(c.cout));
        for (size_t i = out; i < got.size(); ++i) ASSERT_EQ(got[i], kGuard) << "write past the output";
      }
  }
  set_num_threads(1);
}

// A conv with no input channels (weights [c_out, 0, kh, kw]) is the bias:
// no kernel divides by its empty k.
TEST(Conv, ZeroInputChannelsGiveTheBias) {
  for (int64_t k : {1, 3}) {
    ConvParams p = params_of({1, 0, 5, 7, 3, k, k, 1, 1, 1, 1, 1, k / 2, k / 2, k / 2, k / 2});
    EXPECT_FALSE(pointwise_applicable(p));
    const std::vector<float> b = {1.f, -2.f, 0.5f};
    std::vector<float> y(size_t(3 * p.out_h * p.out_w), 99.f);
    f32_conv2d(p, nullptr, nullptr, b.data(), y.data());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], b[i / size_t(p.out_h * p.out_w)]) << i;
  }
}

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
// The AVX-512 (or NEON) depthwise plane kernel against its generic twin,
// plane by plane, with the output checked for writes past the plane.
TEST(Conv, DepthwisePlaneKernelMatchesGenericTwin) {
#if defined(__x86_64__)
  if (best_isa_level() != IsaLevel::avx512) GTEST_SKIP() << "this CPU has no AVX-512: the AVX-512 depthwise kernel is built but not run";
  namespace isa = avx512;
#else
  namespace isa = neon;
#endif
  for (const ConvCase& c : kConvCases) {
    if (c.group != c.cin || c.sw > 2 || c.dw != 1) continue;
    ConvParams p = params_of(c);
    auto x = random_vec(size_t(c.h * c.w), 3);
    auto k = random_vec(size_t(c.kh * c.kw), 4);
    const size_t out = size_t(p.out_h * p.out_w);
    // Scratch starts as NaN: a read of a row the kernel did not write shows up.
    std::vector<float> want(out), got(out + 16, kGuard), scratch(size_t(isa::depthwise_scratch_floats(p)), std::nanf(""));
    f32_depthwise_plane_generic(p, x.data(), k.data(), 0.25f, want.data());
    isa::depthwise_plane(p, x.data(), k.data(), 0.25f, got.data(), scratch.data());
    // Same operations in the same order (fp-contract off): the same bits.
    for (size_t i = 0; i < out; ++i)
      ASSERT_EQ(got[i], want[i]) << "depthwise plane " << c.kh << "x" << c.kw << " w=" << c.w << " stride_w=" << c.sw << " at " << i;
    for (size_t i = out; i < got.size(); ++i) ASSERT_EQ(got[i], kGuard);
  }
}
#endif

// The depthwise driver (f32_conv2d on a depthwise conv) with the fused
// residual and activation: small planes finished several at a time (a
// group spanning the batch's two images), planes of one row, multiplier
// 2, planes cut in strips and bands; 1 and 2 threads; against the direct
// loops with the epilogue after them.
TEST(Conv, DepthwiseDriverAppliesTheResidualToTheRightPlanes) {
  // n, cin, h, w, cout, kh, kw, group, strides, dilations, pads
  const ConvCase cases[] = {
      {2, 7, 3, 5, 7, 3, 3, 7, 1, 1, 1, 1, 1, 1, 1, 1},           // 15-value planes: groups across the two images
      {1, 200, 2, 96, 200, 5, 5, 200, 1, 1, 1, 1, 2, 2, 2, 2},    // PP-OCR cls's last depthwise
      {2, 6, 1, 9, 12, 1, 3, 6, 1, 1, 1, 1, 0, 1, 0, 1},          // one-row planes, multiplier 2
      {1, 3, 70, 90, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},         // 6300-value planes: strips and bands
      {1, 5, 12, 33, 5, 5, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},         // stride 2
  };
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : cases) {
      ConvParams p = params_of(c);
      ASSERT_TRUE(f32_conv_is_depthwise(p));
      const size_t out = size_t(c.n * c.cout * p.out_h * p.out_w);
      auto x = random_vec(size_t(c.n * c.cin * c.h * c.w), 31);
      auto w = random_vec(size_t(c.cout * c.kh * c.kw), 32);
      auto b = random_vec(size_t(c.cout), 33);
      auto residual = random_vec(out, 34);
      p.epilogue.act.kind = ActKind::relu;
      p.epilogue.residual = residual.data();
      std::vector<float> want(out), got(out + 16, kGuard);
      f32_conv2d_ref(p, x.data(), w.data(), b.data(), want.data());
      apply_activation_generic(p.epilogue.act, want.data(), residual.data(), int64_t(out));
      f32_conv2d(p, x.data(), w.data(), b.data(), got.data());
      expect_close(want.data(), got.data(), out, 1e-4,
                   "depthwise cout=" + std::to_string(c.cout) + " " + std::to_string(c.h) + "x" + std::to_string(c.w) + " threads=" + std::to_string(threads));
      for (size_t i = out; i < got.size(); ++i) ASSERT_EQ(got[i], kGuard) << "write past the output";
    }
  }
  set_num_threads(1);
}

// Winograd F(4x4, 3x3) against the direct reference: widths that are not a
// multiple of 4, more than one 32-tile chunk per row, pads 0/1/asymmetric,
// batch 2, the epilogue (residual + activation) on the written rows, the
// weights transformed once (as the runtime does) and per call, 1 and 2 threads.
// F(4x4, 3x3) in f32 rounds more than the direct sum: its transforms scale
// values by up to 5x before the channel sums, so the error is measured
// against the output's scale (largest |y|) rather than element by element.
void expect_close_to_scale(const float* want, const float* got, size_t n, double tol, const std::string& what) {
  double max_err = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    max_err = std::max(max_err, double(std::abs(want[i] - got[i])));
    scale = std::max(scale, double(std::abs(want[i])));
  }
  EXPECT_LE(max_err / scale, tol) << what << " (largest error " << max_err << ", output scale " << scale << ")";
}

TEST(Conv, WinogradMatchesDirectReference) {
  if (best_isa_level() != IsaLevel::avx512 && best_isa_level() != IsaLevel::neon)
    GTEST_SKIP() << "this CPU has neither AVX-512 nor NEON: the Winograd kernels are built but not run";
  const ConvCase cases[] = {
      {1, 16, 20, 50, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // out 20x50: last tile 2 columns wide
      {2, 24, 10, 131, 17, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0},   // no pads, 129 wide: 2 chunks, batch 2
      {1, 33, 13, 160, 24, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 1},   // asymmetric pads, 40 tiles: a 32 + an 8
      {1, 96, 8, 64, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // det-like channels
  };
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : cases) {
      ConvParams p = params_of(c);
      ASSERT_TRUE(winograd_applicable(p)) << "case cin=" << c.cin << " w=" << c.w << " does not reach the Winograd kernel";
      auto x = random_vec(size_t(c.n * c.cin * c.h * c.w), 21);
      auto w = random_vec(size_t(c.cout * c.cin * 9), 22);
      auto b = random_vec(size_t(c.cout), 23);
      const size_t out = size_t(p.n * p.c_out * p.out_h * p.out_w);
      auto res = random_vec(out, 24);
      std::vector<float> want(out), got(out + 16, kGuard);
      f32_conv2d_ref(p, x.data(), w.data(), b.data(), want.data());
      f32_conv2d(p, x.data(), w.data(), b.data(), got.data());
      expect_close_to_scale(want.data(), got.data(), out, 2e-5, "winograd, weights per call, cin=" + std::to_string(c.cin));
      for (size_t i = out; i < got.size(); ++i) ASSERT_EQ(got[i], kGuard);
      std::vector<float> u(winograd_weights_floats(p));
      winograd_transform_weights(p, w.data(), u.data());
      ConvParams q = p;
      q.winograd_weights = u.data();
      q.epilogue.act.kind = ActKind::relu;
      q.epilogue.residual = res.data();
      apply_activation_generic(q.epilogue.act, want.data(), res.data(), int64_t(out));
      f32_conv2d(q, x.data(), w.data(), b.data(), got.data());
      expect_close_to_scale(want.data(), got.data(), out, 2e-5, "winograd, packed weights + residual + relu, cin=" + std::to_string(c.cin));
    }
  }
  set_num_threads(1);
}

TEST(ConvTranspose, MatchesDirectReference) {
  struct Case {
    int64_t n, cin, h, w, cout, k, group, s, pad, out_pad;
  };
  // The first seven have kernel == stride and no pads: the disjoint
  // (upsampling) scatter, split over input rows (2x2 with one group: the
  // AVX-512 or NEON row kernel, channel pairs with an odd tail, rows of 1, 31, 33 and
  // 70 pixels); the rest accumulate. Each with a bias and without.
  const Case cases[] = {{1, 4, 5, 6, 3, 2, 1, 2, 0, 0}, {2, 6, 4, 3, 4, 2, 2, 2, 0, 0}, {1, 8, 9, 33, 1, 2, 1, 2, 0, 0},
                        {1, 24, 3, 70, 24, 2, 1, 2, 0, 0}, {2, 5, 2, 31, 7, 2, 1, 2, 0, 0}, {1, 3, 40, 1, 2, 2, 1, 2, 0, 0},
                        {1, 4, 5, 6, 3, 3, 1, 3, 0, 0},
                        {2, 6, 4, 3, 4, 3, 2, 2, 1, 1}, {1, 3, 7, 7, 5, 3, 1, 1, 1, 0}, {1, 2, 1, 9, 2, 4, 1, 3, 0, 2},
                        {1, 4, 5, 6, 3, 2, 1, 2, 0, 1}};
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      ConvParams p;
      p.n = c.n;
      p.c_in = c.cin;
      p.h = c.h;
      p.w = c.w;
      p.c_out = c.cout * c.group;
      p.group = c.group;
      p.kh = p.kw = c.k;
      p.stride_h = p.stride_w = c.s;
      p.pad_top = p.pad_left = c.pad;
      p.out_h = c.s * (c.h - 1) + c.out_pad + c.k - 2 * c.pad;
      p.out_w = c.s * (c.w - 1) + c.out_pad + c.k - 2 * c.pad;
      auto x = random_vec(size_t(c.n * c.cin * c.h * c.w), 10);
      auto w = random_vec(size_t(c.cin * c.cout * c.k * c.k), 11);
      auto b = random_vec(size_t(p.c_out), 12);
      size_t out = size_t(p.n * p.c_out * p.out_h * p.out_w);
      for (const float* bias : {static_cast<const float*>(b.data()), static_cast<const float*>(nullptr)})
        for (const bool fused : {false, true}) {  // FusedConvTranspose's activation: a leaky Relu and an affine after it
          p.epilogue.act = {};
          if (fused) {
            p.epilogue.act.kind = ActKind::leaky_relu;
            p.epilogue.act.alpha = 0.1f;
            p.epilogue.act.scale = 0.5f;
            p.epilogue.act.shift = 0.25f;
          }
          std::vector<float> y0(out), y1(out + 8, kGuard);
          f32_conv_transpose2d_ref(p, x.data(), w.data(), bias, y0.data());
          f32_conv_transpose2d(p, x.data(), w.data(), bias, y1.data());
          expect_close(y0.data(), y1.data(), out, 1e-4, fused ? "conv transpose + activation" : bias ? "conv transpose" : "conv transpose, no bias");
          for (size_t i = out; i < y1.size(); ++i) ASSERT_EQ(y1[i], kGuard);
        }
    }
  }
  set_num_threads(1);
}

// Softmax rows: the dispatched kernel (AVX-512 exp where the CPU has it)
// against the std::exp reference, on awkward lengths, large and tiny
// logits, 1 and 2 threads, with the output checked for writes past it.
TEST(Softmax, RowsMatchReference) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t len : {1, 2, 15, 16, 17, 33, 100, 6625}) {
      for (int64_t rows : {1, 3, 50}) {
        auto x = random_vec(size_t(rows * len), 21);
        for (size_t i = 0; i < x.size(); ++i) x[i] *= i % 7 == 0 ? 60.f : 8.f;  // spread out, with some dominant logits
        if (len > 2) x[1] = -200.f;                                          // underflows to 0
        const size_t n = size_t(rows * len);
        std::vector<float> want(n), got(n + 16, kGuard);
        f32_softmax_rows_ref(x.data(), want.data(), rows, len);
        f32_softmax_rows(x.data(), got.data(), rows, len);
        for (size_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], want[i], 2e-6f * std::max(1.f, want[i]) + 1e-7f) << "len " << len << " at " << i;
        for (size_t i = n; i < got.size(); ++i) ASSERT_EQ(got[i], kGuard);
        for (int64_t r = 0; r < rows; ++r) {
          double sum = 0;
          for (int64_t i = 0; i < len; ++i) sum += got[size_t(r * len + i)];
          EXPECT_NEAR(sum, 1.0, 1e-5);
        }
      }
    }
  }
  set_num_threads(1);
  // In place, as an optimized graph may run it.
  auto x = random_vec(40, 5), want = x;
  f32_softmax_rows_ref(want.data(), want.data(), 2, 20);
  f32_softmax_rows(x.data(), x.data(), 2, 20);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], want[i], 2e-6f);
}

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
// Epilogues: the AVX-512 (or NEON) loop against the generic twin for every
// kind it takes, with and without residual and affine, on awkward lengths:
// same operations in the same order, so the same bits.
TEST(Activation, VectorEpilogueMatchesGenericTwin) {
#if defined(__x86_64__)
  if (best_isa_level() != IsaLevel::avx512) GTEST_SKIP() << "this CPU has no AVX-512: the AVX-512 epilogue is built but not run";
  namespace isa = avx512;
#else
  namespace isa = neon;
#endif
  const ActKind kinds[] = {ActKind::none, ActKind::relu, ActKind::clip, ActKind::hard_sigmoid, ActKind::hard_swish, ActKind::leaky_relu};
  for (ActKind k : kinds)
    for (int64_t n : {1, 7, 16, 17, 100, 1000})
      for (bool residual : {false, true})
        for (int post = 0; post < 4; ++post) {  // bit 0: the affine, bit 1: the floor (a fused Max by a constant)
          Activation a;
          a.kind = k;
          a.alpha = k == ActKind::clip ? -0.5f : 0.2f;
          a.beta = k == ActKind::clip ? 0.7f : 0.5f;
          if (post & 1) {
            a.scale = 0.37f;
            a.shift = -0.11f;
          }
          if (post & 2) a.floor = -0.4f;
          auto x = random_vec(size_t(n), 31), res = random_vec(size_t(n), 32);
          for (float& v : x) v *= 8.f;  // past the activations' bends
          if (n > 2) x[2] = std::numeric_limits<float>::quiet_NaN();  // handled as std::min/std::max do
          std::vector<float> want = x, got = x;
          got.resize(size_t(n) + 16, kGuard);
          apply_activation_generic(a, want.data(), residual ? res.data() : nullptr, n);
          ASSERT_TRUE(isa::apply_activation(a, got.data(), residual ? res.data() : nullptr, n));
          for (int64_t i = 0; i < n; ++i) {
            if (std::isnan(want[size_t(i)])) ASSERT_TRUE(std::isnan(got[size_t(i)])) << act_kind_name(k) << " n=" << n << " at " << i;
            else ASSERT_EQ(got[size_t(i)], want[size_t(i)]) << act_kind_name(k) << " n=" << n << " at " << i;
          }
          for (size_t i = size_t(n); i < got.size(); ++i) ASSERT_EQ(got[i], kGuard);
        }
  // HardSwish (ONNX's x * max(0, min(1, x / 6 + 0.5)) with the 1/6 a
  // multiply, in both). Every 61st bit pattern of all 2^32 (normals,
  // subnormals, infinities, NaNs), bit for bit.
  if (best_isa_level() == IsaLevel::avx512) {
    Activation a;
    a.kind = ActKind::hard_swish;
    std::vector<float> want(1 << 16), got(want.size());
    for (uint64_t base = 0; base < (uint64_t(1) << 32); base += uint64_t(want.size()) * 61) {
      for (size_t i = 0; i < want.size(); ++i) want[i] = std::bit_cast<float>(uint32_t(base + i * 61));
      got = want;
      apply_activation_generic(a, want.data(), nullptr, int64_t(want.size()));
      ASSERT_TRUE(isa::apply_activation(a, got.data(), nullptr, int64_t(got.size())));
      for (size_t i = 0; i < want.size(); ++i) {
        if (std::isnan(want[i]) && std::isnan(got[i])) continue;
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i])) << "HardSwish of bits " << uint32_t(base + i * 61);
      }
    }
  }
  // The floor as the unfused Max computes it: max(-0, +0) is +0 and NaN stays, in both twins.
  {
    Activation a;
    a.floor = 0.f;
    std::vector<float> want = {-0.f, std::numeric_limits<float>::quiet_NaN(), -3.f, 2.f}, got = want;
    apply_activation_generic(a, want.data(), nullptr, 4);
    ASSERT_TRUE(isa::apply_activation(a, got.data(), nullptr, 4));
    for (const auto* y : {&want, &got}) {
      EXPECT_FALSE(std::signbit((*y)[0]));
      EXPECT_TRUE(std::isnan((*y)[1]));
      EXPECT_EQ((*y)[2], 0.f);
      EXPECT_EQ((*y)[3], 2.f);
    }
  }
  // Sigmoid and SiLU through the polynomial exp: within 1e-6 relative of
  // std::exp's results (tiny outputs included), saturating at both ends, NaN kept.
  for (ActKind k : {ActKind::sigmoid, ActKind::silu})
    for (int64_t n : {1, 17, 1000}) {
      Activation a;
      a.kind = k;
      auto x = random_vec(size_t(n), 33), res = random_vec(size_t(n), 34);
      for (float& v : x) v *= 30.f;
      if (n > 4) {
        x[1] = 200.f;
        x[2] = std::numeric_limits<float>::quiet_NaN();
        x[3] = -200.f;
        x[4] = 0.f;
      }
      std::vector<float> want = x, got = x;
      got.resize(size_t(n) + 16, kGuard);
      apply_activation_generic(a, want.data(), res.data(), n);
      ASSERT_TRUE(isa::apply_activation(a, got.data(), res.data(), n));
      for (int64_t i = 0; i < n; ++i) {
        const float w = want[size_t(i)], g = got[size_t(i)];
        if (std::isnan(w)) ASSERT_TRUE(std::isnan(g)) << act_kind_name(k) << " at " << i;
        // relative; 1e-30 absolute: SiLU(-200) is -0 in the twin, x * 2.9e-39 here (exp clamped at 88.7)
        else ASSERT_NEAR(g, w, 1e-6f * std::abs(w) + 1e-30f) << act_kind_name(k) << " at " << i << " x=" << x[size_t(i)];
      }
      for (size_t i = size_t(n); i < got.size(); ++i) ASSERT_EQ(got[i], kGuard);
    }
  Activation tanh_act;
  tanh_act.kind = ActKind::tanh;
  float v = 0.3f;
  EXPECT_FALSE(isa::apply_activation(tanh_act, &v, nullptr, 1)) << "tanh is left to the generic loop";
}
#endif

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
// The LLM feed-forward's gate: the AVX-512 (or NEON) silu(gate) * up against
// the scalar twin on awkward lengths (1, a tail, exact vectors, a large FFN
// row), within the polynomial exp's 1e-6 relative, nothing written past n.
TEST(Activation, VectorSiluMulMatchesReference) {
#if defined(__x86_64__)
  if (best_isa_level() != IsaLevel::avx512) GTEST_SKIP() << "this CPU has no AVX-512: the AVX-512 silu_mul is built but not run";
  namespace isa = avx512;
#else
  namespace isa = neon;
#endif
  for (int64_t n : {1, 15, 16, 33, 5632}) {
    auto gate = random_vec(size_t(n), 51), up = random_vec(size_t(n), 52);
    for (float& v : gate) v *= 12.f;
    std::vector<float> want = gate, got = gate;
    got.resize(size_t(n) + 16, kGuard);
    f32_silu_mul_ref(want.data(), up.data(), n);
    isa::silu_mul(got.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(got[size_t(i)], want[size_t(i)], 1e-6f * std::abs(want[size_t(i)]) + 1e-30f) << "n=" << n << " at " << i;
    for (size_t i = size_t(n); i < got.size(); ++i) ASSERT_EQ(got[i], kGuard) << "wrote past n=" << n;
  }
}
#endif
