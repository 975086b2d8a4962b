// Static shape inference: symbolic dims resolve once inputs are bound, and
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains fold statically.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "frontend/onnx/onnx_loader.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"
#include "runtime/shape_infer.h"

using namespace pareto;
using namespace pareto::test;

namespace {

std::string reshape_chain_model() {
  Msg g;
  Msg x_type;  // x: float[batch, 3, 4] with a symbolic first dim
  Msg shape;
  shape.m(1, Msg().s(2, "batch")).m(1, Msg().i(1, 3)).m(1, Msg().i(1, 4));
  x_type.i(1, 1).m(2, shape);
  g.m(11, Msg().s(1, "x").m(2, Msg().m(1, x_type)));
  g.m(5, tensor_i64("zero", {1}, {0})).m(5, tensor_i64("minus_one", {1}, {-1}));
  g.m(1, node("Shape", {"x"}, {"s"}, "shape"));
  g.m(1, node("Gather", {"s", "zero"}, {"n"}, "gather"));
  g.m(1, node("Concat", {"n", "minus_one"}, {"target"}, "concat", {attr_int("axis", 0)}));
  g.m(1, node("Reshape", {"x", "target"}, {"y"}, "reshape"));
  g.m(1, node("Relu", {"y"}, {"z"}, "relu"));
  g.m(12, value_info("z", 1, {}));
  return model(g).bytes;
}

}  // namespace

TEST(ShapeInference, ReshapeChainResolvesWhenInputBound) {
  std::string bytes = reshape_chain_model();
  ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "chain", "");
  const ir::Graph& g = *m.graph;
  runtime::StaticInfo unbound = runtime::infer_static(g, m.opset(), {});
  int z = g.find_value("z"), target = g.find_value("target");
  EXPECT_TRUE(unbound.types[size_t(z)].rank_known);
  EXPECT_EQ(unbound.types[size_t(z)].dims, (Shape{-1, -1})) << "the rank is known before binding";
  runtime::StaticInfo bound = runtime::infer_static(g, m.opset(), {{"x", {5, 3, 4}}});
  EXPECT_EQ(bound.types[size_t(z)].dims, (Shape{5, 12}));
  ASSERT_TRUE(bound.values[size_t(target)].defined()) << "the shape computation folds to a constant";
  EXPECT_EQ(bound.values[size_t(target)].to_int_vector(), (std::vector<int64_t>{5, -1}));
}

TEST(ShapeInference, RealDetectorOutputShape) {
  std::string path = std::string(PARETO_SOURCE_DIR) + "/models/ocr/ch_PP-OCRv4_det_infer.onnx";
  if (!std::ifstream(path)) GTEST_SKIP() << "models not fetched (scripts/fetch-models.sh)";
  auto s = Session::open(path);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::vector<TensorInfo> out = s.value()->infer_outputs({{"x", {1, 3, 640, 640}}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dims, (Shape{1, 1, 640, 640}));
  std::string text = s.value()->graph_text({{"x", {1, 3, 640, 640}}});
  EXPECT_EQ(text.find("[...]"), std::string::npos) << "every value has a static shape";
}
