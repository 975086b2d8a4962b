// The matrix-vector products of one-pixel convs and one-row Gemms
// (kernels::f32_dot_rows, where small enough on AVX-512; elsewhere the
// GEMM and pointwise kernels): the conv against the direct loops, the Gemm
// against a double-precision reference of ONNX Gemm.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "../apps/scratch_dir.h"
#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernel_test_util.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;
using pareto::testing::uniform;

using namespace pareto::kernels;
using pareto::testing::params_of;

namespace {

constexpr float kGuard = 12345.f;

std::vector<float> random_vec(size_t n, uint32_t seed) { return uniform(n, seed); }

// Largest |want - got| / (1 + |want|).
void expect_close(const float* want, const float* got, size_t n, double tol, const std::string& what) {
  double max_err = 0;
  for (size_t i = 0; i < n; ++i) max_err = std::max(max_err, double(std::abs(want[i] - got[i])) / (1.0 + std::abs(want[i])));
  EXPECT_LE(max_err, tol) << what;
}

struct Shape2 {
  int64_t k, n;
};

}  // namespace

// A conv of one pixel in, one out (squeeze-excite convs after a global
// pool) runs as dot products of the weight rows with the input
// (f32_dot_rows, AVX-512 where present): against the direct loops, with
// input and output channel tails of its 16 lanes and 4 rows, batch 2, the
// fused residual and activation, 1 and 2 threads; the dot-product kernel
// alone against its portable twin.
TEST(Conv, SinglePixelConvIsDotProducts) {
  struct Case {
    int64_t n, cin, cout;
  };
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : {Case{1, 1, 1}, Case{1, 7, 3}, Case{2, 16, 50}, Case{1, 17, 200}, Case{1, 200, 50}, Case{1, 1001, 5}})
      for (bool fused : {false, true}) {
        ConvParams p = params_of({c.n, c.cin, 1, 1, c.cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});
        // The dot-product path on AVX-512 (elsewhere the GEMM or pointwise kernels, checked the same way).
        ASSERT_EQ(f32_conv_is_single_pixel(p), f32_dot_rows_fast(c.cin, c.cout));
        if (f32_conv_is_single_pixel(p)) {
          EXPECT_FALSE(f32_conv_uses_packed_weights(p));
        }
        const size_t out = size_t(c.n * c.cout);
        auto x = random_vec(size_t(c.n * c.cin), 21);
        auto w = random_vec(size_t(c.cout * c.cin), 22);
        auto b = random_vec(size_t(c.cout), 23);
        auto residual = random_vec(out, 24);
        if (fused) {
          p.epilogue.act.kind = ActKind::hard_sigmoid;
          p.epilogue.act.alpha = 0.2f;
          p.epilogue.act.beta = 0.5f;
          p.epilogue.residual = residual.data();
        }
        std::vector<float> want(out), got(out + 16, kGuard);
        f32_conv2d_ref(p, x.data(), w.data(), b.data(), want.data());
        if (fused) apply_activation_generic(p.epilogue.act, want.data(), residual.data(), int64_t(out));
        f32_conv2d(p, x.data(), w.data(), b.data(), got.data());
        const std::string what = "single pixel cin=" + std::to_string(c.cin) + " cout=" + std::to_string(c.cout);
        expect_close(want.data(), got.data(), out, 1e-4, what);
        for (size_t i = out; i < got.size(); ++i) ASSERT_EQ(got[i], kGuard) << "write past the output: " << what;
        std::vector<float> dot_want(size_t(c.cout)), dot_got(size_t(c.cout) + 16, kGuard);
        f32_dot_rows_ref(w.data(), c.cin, x.data(), b.data(), c.cout, dot_want.data());
        f32_dot_rows(w.data(), c.cin, x.data(), b.data(), c.cout, dot_got.data());
        expect_close(dot_want.data(), dot_got.data(), size_t(c.cout), 1e-5, "dot rows " + what);
        for (size_t i = size_t(c.cout); i < dot_got.size(); ++i) ASSERT_EQ(dot_got[i], kGuard) << "dot rows wrote past y: " << what;
      }
  }
  set_num_threads(1);
  // k = 0: the bias alone (no lane of x or w read).
  {
    const std::vector<float> b = {0.5f, -2.f, 3.f};
    std::vector<float> y(3, 9.f), y_ref(3, 9.f);
    f32_dot_rows(nullptr, 0, nullptr, b.data(), 3, y.data());
    f32_dot_rows_ref(nullptr, 0, nullptr, b.data(), 3, y_ref.data());
    EXPECT_EQ(y, b);
    EXPECT_EQ(y_ref, b);
  }
  // Heads too large for one thread keep the threaded GEMM.
  EXPECT_FALSE(f32_conv_is_single_pixel(params_of({1, 1280, 1, 1, 1000, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0})));
  EXPECT_FALSE(f32_dot_rows_fast(1280, 1000));
  // Not single-pixel: padding, a 3x3 kernel, two pixels, groups.
  EXPECT_FALSE(f32_conv_is_single_pixel(params_of({1, 4, 1, 1, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})));
  EXPECT_FALSE(f32_conv_is_single_pixel(params_of({1, 4, 3, 3, 4, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0})));
  EXPECT_FALSE(f32_conv_is_single_pixel(params_of({1, 4, 1, 2, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0})));
  EXPECT_FALSE(f32_conv_is_single_pixel(params_of({1, 4, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0})));
}

// Gemm with one row of A (a classifier head after a global pool), the
// dot-product path where it applies: Y = alpha * A B' + beta * C, with B as
// [k, n] or transposed, C absent, [n], [1, n] or one value, alpha and beta
// not 1, widths around the kernel's 16 lanes and 4 rows. The ONNX
// conformance cases all have several rows.

TEST(GemmSingleRow, MatchesOnnxGemm) {
  for (const Shape2 s : {Shape2{1, 1}, Shape2{7, 3}, Shape2{200, 2}, Shape2{33, 17}, Shape2{200, 50}})
    for (int trans_b : {0, 1})
      for (int c_form = 0; c_form < 4; ++c_form)  // 0 none, 1 [n], 2 [1, n], 3 [1]
        for (float alpha : {1.f, 0.5f})
          for (float beta : {1.f, 2.f}) {
            const std::vector<float> a = uniform(size_t(s.k), 41), b = uniform(size_t(s.k * s.n), 42);
            const std::vector<float> c = uniform(c_form == 3 ? 1 : size_t(s.n), 43);
            Msg g;
            g.m(5, pb::tensor_f32("B", trans_b ? std::vector<int64_t>{s.n, s.k} : std::vector<int64_t>{s.k, s.n}, b));
            std::vector<std::string> ins = {"A", "B"};
            if (c_form) {
              const std::vector<int64_t> c_dims = c_form == 1 ? std::vector<int64_t>{s.n} : c_form == 2 ? std::vector<int64_t>{1, s.n} : std::vector<int64_t>{1};
              g.m(5, pb::tensor_f32("C", c_dims, c));
              ins.push_back("C");
            }
            g.m(1, pb::node("Gemm", ins, {"Y"}, "head",
                            {pb::attr_int("transB", trans_b), pb::attr_float("alpha", alpha), pb::attr_float("beta", beta)}));
            g.s(2, "gemm_one_row");
            g.m(11, pb::value_info("A", 1, {1, s.k}));
            g.m(12, pb::value_info("Y", 1, {}));
            const std::string path = pareto::testing::scratch_dir() + "/gemm.onnx";
            std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
            auto session = Session::open(path);
            ASSERT_TRUE(session.ok()) << session.status().to_string();
            auto y = session.value()->run({{"A", Tensor::from_vector<float>(a, {1, s.k})}});
            ASSERT_TRUE(y.ok()) << y.status().to_string();
            const Tensor& out = y.value().at(0);
            ASSERT_EQ(out.numel(), s.n);
            const std::string what = "k=" + std::to_string(s.k) + " n=" + std::to_string(s.n) + " transB=" + std::to_string(trans_b) +
                                     " C form " + std::to_string(c_form) + " alpha " + std::to_string(alpha) + " beta " + std::to_string(beta);
            for (int64_t j = 0; j < s.n; ++j) {
              double sum = 0, mag = 0;
              for (int64_t i = 0; i < s.k; ++i) {
                const double p = double(a[size_t(i)]) * b[size_t(trans_b ? j * s.k + i : i * s.n + j)];
                sum += p;
                mag += std::abs(p);
              }
              const double want = alpha * sum + (c_form ? beta * double(c[c_form == 3 ? 0 : size_t(j)]) : 0.0);
              ASSERT_NEAR(out.data<float>()[j], want, 1e-5 * (1.0 + alpha * mag + beta)) << what << " at " << j;
            }
          }
}
