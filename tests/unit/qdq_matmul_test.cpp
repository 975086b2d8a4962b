// MatMul in QDQ files (pareto quantize's, ONNX Runtime's quantizer's):
// MatMul(DequantizeLinear(QuantizeLinear(x)), DequantizeLinear(w int8))
// runs on the int8 MatMul kernel (passes/fold_qdq.cpp). The optimized
// output must be the integer sum the QDQ graph defines, rounded once per
// element (kernels::int8_matmul_ref, bit for bit), and near the graph run
// as written (float sums of the dequantized values); forms the kernel
// does not take (uint8 weights, weight zero points) stay as they are and
// give the graph's own results.
// ctest runs this suite twice: as built, and with PARETO_ISA=ref, where the
// int8 MatMul runs as a float MatMul of its rounded input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../apps/scratch_dir.h"
#include "kernel_test_util.h"
#include "kernels/int8_conv.h"
#include "kernels/int8_matmul.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;
using pareto::testing::uniform;

namespace {

struct MatmulCase {
  std::vector<int64_t> a_shape;  // [..., k]
  int64_t n = 0;
  bool per_column = true;   // one weight scale per column, else one for all
  bool uint8_weights = false;
  int8_t weight_zero = 0;
  bool add_bias = false;    // y = MatMul + bias: the Add must stay after the int8 MatMul
  int64_t axis = 1;         // the weights' DequantizeLinear axis (per column: 1 or -1; 0 is per row)
  bool two_readers = false; // y = MatMul(xd, wd) + MatMul(xd, wd2): one activation Q/DQ for two MatMuls (Q/K/V)
};

struct Built {
  std::string path;
  std::vector<float> x;
  std::vector<int8_t> w, w2;  // w2: the second MatMul's (two_readers)
  std::vector<float> w_scales;
  std::vector<float> bias;
  float x_scale = 0.021f;
  uint8_t x_zero = 117;
};

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Built build(const MatmulCase& c, const std::string& name) {
  Built b;
  const int64_t k = c.a_shape.back(), n = c.n;
  b.x = uniform(size_t(numel(c.a_shape)), 7, -3.f, 3.f);  // past both ends of the uint8 range too
  b.w.resize(size_t(k * n));
  for (size_t i = 0; i < b.w.size(); ++i) b.w[i] = int8_t(int32_t((i * 37 + 11) % 256) - 128);
  b.w2.resize(b.w.size());
  for (size_t i = 0; i < b.w2.size(); ++i) b.w2[i] = int8_t(int32_t((i * 53 + 5) % 256) - 128);
  b.w_scales = c.per_column ? uniform(size_t(n), 9, 1e-3f, 4e-2f) : std::vector<float>{0.017f};
  b.bias = uniform(size_t(n), 10, -1.f, 1.f);
  Msg g;
  g.s(2, name);
  g.m(5, pb::tensor_f32("sx", {}, {b.x_scale}));
  g.m(5, pb::byte_scalar("zx", 2, b.x_zero));
  const int64_t scales = c.per_column ? (c.axis == 0 ? k : n) : 1;
  if (scales != int64_t(b.w_scales.size())) b.w_scales = uniform(size_t(scales), 9, 1e-3f, 4e-2f);
  const std::vector<int64_t> scale_dims = c.per_column ? std::vector<int64_t>{scales} : std::vector<int64_t>{};
  g.m(5, pb::tensor_f32("ws", scale_dims, b.w_scales));
  if (c.uint8_weights) {
    std::vector<int8_t> shifted(b.w.size());
    for (size_t i = 0; i < b.w.size(); ++i) shifted[i] = int8_t(uint8_t(int32_t(b.w[i]) + 128));
    g.m(5, pb::tensor_i8("wq", {k, n}, shifted, 2));
    g.m(5, pb::tensor_i8("wz", {scales}, std::vector<int8_t>(size_t(scales), int8_t(-128)), 2));  // 128 as uint8
  } else {
    g.m(5, pb::tensor_i8("wq", {k, n}, b.w));
    if (c.per_column) g.m(5, pb::tensor_i8("wz", {scales}, std::vector<int8_t>(size_t(scales), c.weight_zero)));
    else g.m(5, pb::byte_scalar("wz", 3, uint8_t(c.weight_zero)));
  }
  g.m(5, pb::tensor_f32("bias", {n}, b.bias));
  g.m(1, pb::node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"}, "q"));
  g.m(1, pb::node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"}, "dq"));
  Msg dqw = pb::node("DequantizeLinear", {"wq", "ws", "wz"}, {"wd"}, "dqw");
  if (c.per_column) dqw.m(5, pb::attr_int("axis", c.axis));
  g.m(1, dqw);
  g.m(1, pb::node("MatMul", {"xd", "wd"}, {c.add_bias || c.two_readers ? "mm" : "y"}, "mm"));
  if (c.add_bias) g.m(1, pb::node("Add", {"mm", "bias"}, {"y"}, "add"));
  if (c.two_readers) {  // a second MatMul on the same DQ: other weights, the same scales
    g.m(5, pb::tensor_i8("wq2", {k, n}, b.w2));
    Msg dq2 = pb::node("DequantizeLinear", {"wq2", "ws", "wz"}, {"wd2"}, "dqw2");
    dq2.m(5, pb::attr_int("axis", c.axis));
    g.m(1, dq2);
    g.m(1, pb::node("MatMul", {"xd", "wd2"}, {"mm2"}, "mm2"));
    g.m(1, pb::node("Add", {"mm", "mm2"}, {"y"}, "sum"));
  }
  g.m(11, pb::value_info("x", 1, c.a_shape));
  g.m(12, pb::value_info("y", 1, {}));
  b.path = pareto::testing::scratch_dir() + "/" + name + ".onnx";
  std::ofstream(b.path, std::ios::binary) << pb::model(g, 13).bytes;
  return b;
}

int int8_matmuls(const Session& s) {
  int n = 0;
  for (const PassSummary& p : s.passes())
    for (const auto& [w, count] : p.rewrites) n += w.find("-> int8 MatMul") != std::string::npos ? count : 0;
  return n;
}

Tensor run(const Built& b, const MatmulCase& c, bool optimize, int threads, int* folded = nullptr) {
  SessionOptions o;
  o.optimize = optimize;
  o.threads = threads;
  auto s = Session::open(b.path, o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  if (!s.ok()) return Tensor();
  if (folded) *folded = int8_matmuls(*s.value());
  auto y = s.value()->run({{"x", Tensor::from_vector<float>(b.x, c.a_shape)}});
  EXPECT_TRUE(y.ok()) << y.status().to_string();
  return y.ok() ? y.value()[0] : Tensor();
}

// What the QDQ graph defines, each element's integer sum rounded once.
std::vector<float> exact(const Built& b, const MatmulCase& c) {
  const int64_t k = c.a_shape.back(), n = c.n, rows = numel(c.a_shape) / k;
  std::vector<float> scale(static_cast<size_t>(n)), y(static_cast<size_t>(rows * n));
  for (int64_t j = 0; j < n; ++j) scale[size_t(j)] = b.x_scale * b.w_scales[c.per_column ? size_t(j) : 0];
  kernels::int8_matmul_ref(b.x.data(), rows, k, n, b.w.data(), b.x_scale, b.x_zero, scale.data(), y.data());
  if (c.add_bias)
    for (int64_t i = 0; i < rows * n; ++i) y[size_t(i)] += b.bias[size_t(i % n)];
  if (c.two_readers) {
    std::vector<float> y2(y.size());
    kernels::int8_matmul_ref(b.x.data(), rows, k, n, b.w2.data(), b.x_scale, b.x_zero, scale.data(), y2.data());
    for (size_t i = 0; i < y.size(); ++i) y[i] += y2[i];
  }
  return y;
}

void expect_near_graph(const Tensor& got, const Tensor& graph, const std::string& what) {
  ASSERT_EQ(got.shape(), graph.shape()) << what;
  double peak = 0;
  for (int64_t i = 0; i < graph.numel(); ++i) peak = std::max(peak, std::abs(double(graph.data<float>()[i])));
  for (int64_t i = 0; i < graph.numel(); ++i)
    ASSERT_NEAR(got.data<float>()[i], graph.data<float>()[i], 1e-5 * peak) << what << " at " << i;
}

}  // namespace

TEST(QdqMatmul, RunsOnTheInt8KernelWithTheGraphsIntegers) {
  const std::vector<MatmulCase> cases = {
      {{40, 120}, 200, true},            // PP-OCR rec's head, fewer columns
      {{2, 5, 33}, 65, true, false, 0, true},  // batch dims, odd k, a tail past one 64-column panel, bias after
      {{1, 1, 1}, 1, false},             // one of everything, one scale for all
      {{3, 130, 7}, 16, true},           // more rows than one row block
      {{9}, 10, true},                   // a 1-D A: y is [n]
      {{5, 12}, 33, false},              // one scale for all of many columns
      {{4, 20}, 24, true, false, 0, false, -1},  // axis -1 names the columns too
      {{6, 16}, 40, true, false, 0, false, 1, true},  // one activation Q/DQ read by two MatMuls
  };
  for (size_t i = 0; i < cases.size(); ++i)
    for (int threads : {1, 2}) {
      const MatmulCase& c = cases[i];
      const std::string what = "case " + std::to_string(i) + " threads " + std::to_string(threads);
      const Built b = build(c, "qdq_matmul_" + std::to_string(i));
      int folded = -1;
      const Tensor got = run(b, c, true, threads, &folded);
      EXPECT_EQ(folded, c.two_readers ? 2 : 1) << what;
      const std::vector<float> want = exact(b, c);
      ASSERT_EQ(got.numel(), int64_t(want.size())) << what;
      // Where no vector int8 GEMM runs (PARETO_ISA=ref, the ctest case
      // QdqMatmul.FloatFallback) the runtime computes the QDQ graph in
      // float on the rounded input: near the integers, not their bits.
      if (kernels::int8_matmul_fast()) {
        EXPECT_EQ(std::memcmp(got.raw(), want.data(), want.size() * sizeof(float)), 0) << what;
      }
      expect_near_graph(got, run(b, c, false, 1), what);
    }
}

TEST(QdqMatmul, FormsTheKernelDoesNotTakeKeepTheGraphsResults) {
  const std::vector<MatmulCase> cases = {
      {{4, 9}, 10, true, true},         // uint8 weights (zero point 128)
      {{4, 9}, 10, true, false, 3},     // an int8 weight zero point that is not 0
      {{4, 10}, 10, true, false, 0, false, 0},  // per-row scales (axis 0) with k == n: as many as columns, but not theirs
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const MatmulCase& c = cases[i];
    const Built b = build(c, "qdq_matmul_kept_" + std::to_string(i));
    int folded = -1;
    const Tensor got = run(b, c, true, 1, &folded);
    EXPECT_EQ(folded, 0) << "case " << i;
    expect_near_graph(got, run(b, c, false, 1), "case " + std::to_string(i));
  }
}
