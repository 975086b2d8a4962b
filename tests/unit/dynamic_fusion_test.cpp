// Fusions made where the compiler did not know the sizes (a model compiled
// for any input size, as the OCR pipeline's det, cls and rec): FusedAdd
// (fuse_upsample's broadcast_fallback) and a conv's fused residual
// (fuse_activation's residual_broadcast) take a run whose shapes are not
// their fused form as the nodes they replaced compute it, broadcasting;
// without the mark, the same run is refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "frontend/onnx/onnx_loader.h"
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
