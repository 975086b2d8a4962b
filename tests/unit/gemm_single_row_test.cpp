// Gemm with one row of A (a classifier head after a global pool) takes a
// path of its own where small enough on AVX-512 (runtime/ops/nn.cpp
// gemm_single_row; elsewhere the blocked GEMM): against a double-precision
// reference of ONNX Gemm, Y = alpha * A B' + beta * C, with B as [k, n] or
// transposed, C absent, [n], [1, n] or one value, alpha and beta not 1,
// and widths around the kernel's 16 lanes and 4 rows. The ONNX conformance
// cases all have several rows.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "../apps/scratch_dir.h"
#include "kernel_test_util.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;
using pareto::testing::uniform;

namespace {

struct Shape2 {
  int64_t k, n;
};

}  // namespace

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
