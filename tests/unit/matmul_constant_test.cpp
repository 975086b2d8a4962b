// MatMul by a constant B: the small-k path (k <= 128, at most 256 rows: B
// as a 1x1 conv's input, A as its weights, on AVX-512), the packed, transposed path (few
// rows, many columns: C^T = B^T A^T with B^T packed once) and the plain
// path give the same products as direct loops, for batched and 2-D A, 1 and
// 2 threads, and on repeated runs (the packed B is cached per executor).
#include <gtest/gtest.h>

#include <cmath>

#include "core/thread_pool.h"
#include "frontend/onnx/onnx_loader.h"
#include "kernel_test_util.h"
#include "proto_builder.h"
#include "runtime/executor.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;

TEST(MatMulConstant, PackedTransposedPathMatchesDirectLoops) {
  struct Case {
    std::vector<int64_t> a_shape;
    int64_t k, n;
  };
  // [batch, m, k] x [k, n]: k <= 128 and n >= 64 the small-k path (PP-OCR
  // rec's head shape among them), wider k the packed path, narrow outputs
  // the plain one.
  const Case cases[] = {{{2, 40, 120}, 120, 700}, {{7, 33}, 33, 300}, {{1, 1, 5}, 5, 257}, {{64, 16}, 16, 40},
                        {{1, 40, 120}, 120, 6625}, {{3, 9, 128}, 128, 97}, {{5, 200}, 200, 520}, {{2, 3, 129}, 129, 300},
                        {{300, 64}, 64, 80}};  // more rows than the small-k path takes
  for (const Case& c : cases) {
    const int64_t k = c.k, n = c.n;
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < c.a_shape.size(); ++i) rows *= c.a_shape[i];
    const auto a = pareto::testing::uniform(size_t(rows * k), 1), b = pareto::testing::uniform(size_t(k * n), 2);
    Msg g;
    g.m(1, pb::node("MatMul", {"x", "w"}, {"y"}, "mm"));
    g.s(2, "mm");
    g.m(5, pb::tensor_f32("w", {k, n}, b));
    std::vector<int64_t> y_shape = c.a_shape;
    y_shape.back() = n;
    g.m(11, pb::value_info("x", 1, c.a_shape));
    g.m(12, pb::value_info("y", 1, y_shape));
    const std::string bytes = pb::model(g, 13).bytes;
    const ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mm.onnx", "");
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      runtime::Executor ex(m.opset(), runtime::ExecOptions{false, threads});
      for (int repeat = 0; repeat < 2; ++repeat) {
        const std::vector<Tensor> out = ex.run_graph(*m.graph, {Tensor::from_vector(a, c.a_shape)}, nullptr);
        ASSERT_EQ(out[0].shape(), Shape(y_shape.begin(), y_shape.end()));
        const float* y = out[0].data<float>();
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < n; ++j) {
            double want = 0;
            for (int64_t i = 0; i < k; ++i) want += double(a[size_t(r * k + i)]) * double(b[size_t(i * n + j)]);
            ASSERT_NEAR(y[r * n + j], want, 1e-4 * std::sqrt(double(k))) << "k " << k << " n " << n << " row " << r << " col " << j;
          }
      }
    }
  }
  set_num_threads(1);
}
