// Fusions made where the compiler did not know the sizes (a model compiled
// for any input size, as the OCR pipeline's det, cls and rec): FusedAdd
// (fuse_upsample's broadcast_fallback) and a conv's fused residual
// (fuse_activation's residual_broadcast) take a run whose shapes are not
// their fused form as the nodes they replaced compute it, broadcasting;
// without the mark, the same run is refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "frontend/onnx/onnx_loader.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"
#include "runtime/executor.h"

using namespace pareto;
using namespace pareto::test;

namespace {

Msg graph_of(const Msg& node, const std::vector<Msg>& inits, const std::vector<Msg>& ins) {
  Msg g;
  g.m(1, node);
  g.s(2, "dynamic");
  for (const Msg& t : inits) g.m(5, t);
  for (const Msg& i : ins) g.m(11, i);
  g.m(12, value_info("y", 1, {}));
  return g;
}

// The graph's output, or the error's message in *error.
Tensor run(const Msg& graph, const std::vector<Tensor>& inputs, std::string* error) {
  try {
    const std::string bytes = model(graph).bytes;
    ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "dynamic.onnx", "");
    runtime::Executor ex(m.opset(), {});
    return ex.run_graph(*m.graph, inputs, nullptr).at(0);
  } catch (const Error& e) {
    *error = e.what();
  }
  return {};
}

Tensor ramp(const Shape& shape, float step) {
  Tensor t = Tensor::empty(DType::f32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = step * float(i % 13) - 1.f;
  return t;
}

}  // namespace

// a [1, 2, 1, 4] + up2x2(b [1, 2, 2, 2]) = [1, 2, 4, 4]: the Add broadcasts a's one row.
TEST(DynamicFusion, FusedAddBroadcastsWhereTheRunIsNotItsForm) {
  const Tensor a = ramp({1, 2, 1, 4}, 0.25f), b = ramp({1, 2, 2, 2}, 0.5f), g = ramp({1, 2, 1, 1}, 0.75f);
  for (const bool gated : {false, true}) {
    std::vector<Msg> attrs = {attr_ints("upsample", {2, 2}), attr_int("broadcast_fallback", 1)};
    const std::vector<std::string> ins = gated ? std::vector<std::string>{"a", "b", "g"} : std::vector<std::string>{"a", "b"};
    std::vector<Msg> vis = {value_info("a", 1, {1, 2, 1, 4}), value_info("b", 1, {1, 2, 2, 2})};
    if (gated) vis.push_back(value_info("g", 1, {1, 2, 1, 1}));
    std::vector<Tensor> inputs = {a, b};
    if (gated) inputs.push_back(g);
    std::string error;
    const Tensor y = run(graph_of(node("FusedAdd", ins, {"y"}, "fadd", attrs), {}, vis), inputs, &error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_EQ(y.shape(), (Shape{1, 2, 4, 4}));
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t col = 0; col < 4; ++col) {
          const float av = a.data<float>()[c * 4 + col];
          const float left = gated ? av + av * g.data<float>()[c] : av;
          const float want = left + b.data<float>()[(c * 2 + r / 2) * 2 + col / 2];
          ASSERT_EQ(y.data<float>()[(c * 4 + r) * 4 + col], want) << "gated=" << gated << " c=" << c << " r=" << r << " col=" << col;
        }
    // Not marked (shapes were known when it fused): the same run is refused.
    attrs.pop_back();
    error.clear();
    run(graph_of(node("FusedAdd", ins, {"y"}, "fadd", attrs), {}, vis), inputs, &error);
    EXPECT_NE(error.find("fadd"), std::string::npos) << error;
  }
}

// A 1x1 conv [1, 2, 3, 3] whose fused residual is [1, 2, 1, 3]: conv + r broadcast over rows, then Relu.
TEST(DynamicFusion, ConvResidualBroadcastsWhereTheRunIsNotItsForm) {
  const Tensor x = ramp({1, 2, 3, 3}, 0.3f), r = ramp({1, 2, 1, 3}, 0.4f);
  const std::vector<float> w = {0.5f, -1.f, 2.f, 0.25f};  // [2, 2, 1, 1]
  std::vector<Msg> attrs = {attr_string("activation", "Relu"), attr_int("residual_broadcast", 1)};
  const std::vector<Msg> vis = {value_info("x", 1, {1, 2, 3, 3}), value_info("r", 1, {1, 2, 1, 3})};
  std::string error;
  const Tensor y = run(graph_of(node("FusedConv", {"x", "w", "", "r"}, {"y"}, "conv", attrs), {tensor_f32("w", {2, 2, 1, 1}, w)}, vis), {x, r}, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 3}));
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t p = 0; p < 9; ++p) {
      const float conv = w[size_t(o * 2)] * x.data<float>()[p] + w[size_t(o * 2 + 1)] * x.data<float>()[9 + p];
      const float want = std::max(0.f, conv + r.data<float>()[o * 3 + p % 3]);
      ASSERT_NEAR(y.data<float>()[o * 9 + p], want, 1e-6f) << "channel " << o << " pixel " << p;
    }
  attrs.pop_back();
  error.clear();
  run(graph_of(node("FusedConv", {"x", "w", "", "r"}, {"y"}, "conv", attrs), {tensor_f32("w", {2, 2, 1, 1}, w)}, vis), {x, r}, &error);
  EXPECT_NE(error.find("residual"), std::string::npos) << error;
}

namespace {

// An FPN-like graph on x [1, 4, H, W] whose H and W the file leaves open
// (dim_params): a 1x1 conv and Relu plus the nearest 2x upsample of a
// stride-2 conv (FusedAdd), a conv with a residual and Relu (FusedConv), a squeeze-excite
// gate (FusedSqueezeExcite), two 2x2 stride-2 transposed convs
// (FusedConvTransposePair).
struct Graph {
  Msg g;
  std::mt19937 rng{3};
  int counter = 0;
  std::string weight(const std::vector<int64_t>& dims) {
    const std::string name = "w" + std::to_string(counter++);
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::uniform_real_distribution<float> d(-0.5f, 0.5f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng);
    g.m(5, tensor_f32(name, dims, v));
    return name;
  }
  std::string op(const std::string& type, const std::vector<std::string>& ins, const std::vector<Msg>& attrs = {}) {
    const std::string out = "v" + std::to_string(counter++);
    g.m(1, node(type, ins, {out}, out, attrs));
    return out;
  }
  std::string conv(const std::string& x, int64_t cin, int64_t cout, int64_t k, int64_t stride = 1) {
    return op("Conv", {x, weight({cout, cin, k, k}), weight({cout})},
              {attr_ints("pads", {k / 2, k / 2, k / 2, k / 2}), attr_ints("strides", {stride, stride})});
  }
  std::string write() {
    g.m(5, tensor_f32("scales", {4}, {1.f, 1.f, 2.f, 2.f}));  // nearest (half_pixel, round_prefer_floor): rows and columns doubled
    // (A Relu after the 1x1 conv: a conv's output added straight would be its fused residual instead.)
    const std::string sum = op("Add", {op("Relu", {conv("x", 4, 4, 1)}), op("Resize", {conv("x", 4, 4, 3, 2), "", "scales"})});
    const std::string res = op("Relu", {op("Add", {conv(sum, 4, 4, 3), sum})});
    const std::string gate = op("HardSigmoid", {conv(op("Relu", {conv(op("GlobalAveragePool", {res}), 4, 2, 1)}), 2, 4, 1)});
    const std::string se = op("Mul", {res, gate});
    const std::vector<Msg> up = {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2})};
    const std::string y = op("Sigmoid", {op("ConvTranspose", {op("Relu", {op("ConvTranspose", {se, weight({4, 3, 2, 2})}, up)}), weight({3, 1, 2, 2})}, up)});
    g.s(2, "dynamic");
    Msg shape;
    shape.m(1, Msg().i(1, 1)).m(1, Msg().i(1, 4)).m(1, Msg().s(2, "H")).m(1, Msg().s(2, "W"));
    Msg type;
    type.i(1, 1).m(2, shape);
    g.m(11, Msg().s(1, "x").m(2, Msg().m(1, type)));
    g.m(12, Msg().s(1, y).m(2, Msg().m(1, Msg().i(1, 1))));
    const std::string path = ::testing::TempDir() + "/dynamic_fusion.onnx";
    std::ofstream(path, std::ios::binary) << model(g, 13).bytes;
    return path;
  }
};

}  // namespace

// Compiled without bound sizes, the graph gets every fused op it gets at a
// bound size, and its outputs match the plain graph's at sizes that fit the
// fused forms and at one that does not (H = 1: the upsampled operand has 2
// rows, the Add broadcasts the 1x1 conv's one row over them).
TEST(DynamicFusion, FusionsWithoutBoundSizesMatchThePlainGraph) {
  Graph builder;
  const std::string path = builder.write();
  SessionOptions plain, opt;
  opt.optimize = true;
  auto a = Session::open(path, plain);
  auto b = Session::open(path, opt);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  const std::map<std::string, int>& ops = b.value()->summary().op_histogram;
  for (const char* fused : {"FusedAdd", "FusedConvTransposePair", "FusedSqueezeExcite"})
    EXPECT_EQ(ops.count(fused), 1u) << fused << " not formed without bound sizes";
  EXPECT_EQ(ops.count("Add"), 0u) << "an Add left unfused";
  for (const Shape& shape : {Shape{1, 4, 8, 12}, Shape{1, 4, 6, 16}, Shape{1, 4, 1, 10}}) {
    Tensor x = Tensor::empty(DType::f32, shape);
    std::mt19937 rng(9);
    std::normal_distribution<float> d(0.f, 1.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(rng);
    auto ya = a.value()->run({{"x", x}});
    auto yb = b.value()->run({{"x", x}});
    ASSERT_TRUE(ya.ok()) << ya.status().to_string();
    ASSERT_TRUE(yb.ok()) << "H=" << shape[2] << ": " << yb.status().to_string();
    const Tensor &p = ya.value()[0], &q = yb.value()[0];
    ASSERT_EQ(p.shape(), q.shape()) << "H=" << shape[2];
    for (int64_t i = 0; i < p.numel(); ++i)
      ASSERT_NEAR(q.data<float>()[i], p.data<float>()[i], 1e-5f) << "H=" << shape[2] << " at " << i;
  }
}
