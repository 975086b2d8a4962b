// MatMul layers in ONNX quantization and tuning: `quantize_matmul` writes
// a MatMul by a constant weight as per-column int8 behind a
// DequantizeLinear on axis 1 with its input quantized per tensor; pareto
// runs it on the int8 MatMul kernel; tune lists MatMuls as layers beside
// the convs and writes the ones it picks in int8.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "frontend/onnx/onnx_loader.h"
#include "kernel_test_util.h"
#include "pareto/pareto.hpp"
#include "pareto/quantize_onnx.hpp"
#include "pareto/tune.hpp"
#include "proto_builder.h"
#include "tune_onnx_test_util.h"

using namespace pareto;
namespace pb = pareto::test;
using pareto::testing::uniform;

namespace {

// x [2, 6, 32] -> MatMul [32, 48] -> Relu -> MatMul [48, 10] -> y: a
// transformer block's projections in miniature (A of rank 3).
std::string mlp_file(const std::string& name) {
  pb::Msg g;
  g.s(2, name);
  g.m(5, pb::tensor_f32("w1", {32, 48}, uniform(32 * 48, 3, -0.4f, 0.4f)));
  g.m(5, pb::tensor_f32("w2", {48, 10}, uniform(48 * 10, 4, -0.4f, 0.4f)));
  g.m(1, pb::node("MatMul", {"x", "w1"}, {"h"}, "mm1"));
  g.m(1, pb::node("Relu", {"h"}, {"h1"}, "relu"));
  g.m(1, pb::node("MatMul", {"h1", "w2"}, {"y"}, "mm2"));
  g.m(11, pb::value_info("x", 1, {2, 6, 32}));
  g.m(12, pb::value_info("y", 1, {2, 6, 10}));
  const std::string path = ::testing::TempDir() + "/" + name + ".onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  return path;
}

std::vector<CalibrationSample> samples(uint32_t seed, int n) {
  std::vector<CalibrationSample> out;
  for (int i = 0; i < n; ++i) out.push_back({{"x", Tensor::from_vector<float>(uniform(2 * 6 * 32, seed + uint32_t(i), -2.f, 2.f), {2, 6, 32})}});
  return out;
}

int int8_matmuls(const std::string& path) {
  SessionOptions o;
  o.optimize = true;
  auto s = Session::open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  int n = 0;
  if (s.ok())
    for (const PassSummary& p : s.value()->passes())
      for (const auto& [what, count] : p.rewrites) n += what.find("-> int8 MatMul") != std::string::npos ? count : 0;
  return n;
}

// The int8 file's first output on each input: changed by the rounding
// (above 0), within 3% of the float model's (relative L2).
void expect_near_float(const std::string& float_file, const std::string& int8_file, const std::vector<CalibrationSample>& inputs) {
  auto fp = Session::open(float_file, SessionOptions{});
  auto q = Session::open(int8_file, SessionOptions{});
  ASSERT_TRUE(fp.ok() && q.ok());
  for (const CalibrationSample& x : inputs) {
    const double e = pareto::testing::relative_l2(q.value()->run(x).value()[0], fp.value()->run(x).value()[0]);
    EXPECT_GT(e, 0.0);
    EXPECT_LT(e, 0.03);
  }
}

}  // namespace

TEST(OnnxQuantizeMatmul, WritesPerColumnWeightsThatRunInt8) {
  const std::string in = mlp_file("quant_mm"), out = ::testing::TempDir() + "/quant_mm_int8.onnx";
  const auto calib = samples(1, 4);
  OnnxQuantizeOptions o;
  o.method = "minmax";
  // Without the option there is nothing to quantize (no conv).
  EXPECT_FALSE(quantize_onnx_model(in, out, calib, o).ok());
  o.quantize_matmul = true;
  auto kept = quantize_onnx_model(in, out, calib, o);
  ASSERT_TRUE(kept.ok()) << kept.status().message;
  ASSERT_EQ(kept.value().layers.size(), 2u);
  EXPECT_EQ(kept.value().layers[0].kept_because, "first layer");
  EXPECT_EQ(kept.value().layers[1].kept_because, "last layer");
  o.keep_first_last = false;
  auto r = quantize_onnx_model(in, out, calib, o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  EXPECT_EQ(r.value().quantized, 2);
  EXPECT_EQ(r.value().layers[0].node, "mm1");
  // The weights' DequantizeLinear is per column: axis 1, one int8 scale per column.
  const ir::Model m = onnx::load_model(out);
  int weight_dq = 0;
  for (const ir::Node& n : m.graph->nodes) {
    if (n.op_type != "DequantizeLinear" || m.graph->values[size_t(n.inputs[0])].constant.dtype() != DType::i8) continue;
    ++weight_dq;
    EXPECT_EQ(n.attr_i("axis", 0), 1) << n.name;
    const Tensor& w = m.graph->values[size_t(n.inputs[0])].constant;
    EXPECT_EQ(m.graph->values[size_t(n.inputs[1])].constant.numel(), w.dim(1)) << n.name;
  }
  EXPECT_EQ(weight_dq, 2);
  EXPECT_EQ(int8_matmuls(out), 2);
  // Close to the float model (two int8 layers: a few per mille).
  expect_near_float(in, out, samples(50, 2));
}

TEST(TuneOnnx, MatmulsAreLayersAndTheWrittenOnesRunInt8) {
  const std::string in = mlp_file("tune_mm"), out = ::testing::TempDir() + "/tune_mm_out.onnx";
  OnnxTuneOptions o = pareto::test::quick_tune_options(2, 1);
  o.formats = "int8";
  o.objective = "latency";
  // Timings that favour int8 (fewer ms per quantized layer): the chosen
  // point is then "int8 all", whatever this machine's real times, and the
  // written file must hold both MatMuls in int8.
  o.measure = [](const std::string& path, int, const CalibrationSample&) {
    return TuneCost{10.0 - pareto::test::quantize_nodes(path), 5.0};
  };
  auto r = tune_onnx_model(in, out, samples(1, 4), samples(100, 2), o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  std::set<std::string> layers;
  for (const OnnxTuneLayer& l : r.value().layers) layers.insert(l.node);
  EXPECT_EQ(layers, (std::set<std::string>{"mm1", "mm2"}));
  bool all = false;
  for (const OnnxTunePoint& p : r.value().points)
    if (p.label == "int8 all") {
      all = true;
      EXPECT_EQ(p.int8_layers.size(), 2u);
      EXPECT_GT(p.quality_loss, 0.0);
    }
  EXPECT_TRUE(all);
  // What was written runs each MatMul it chose in int8.
  ASSERT_GE(r.value().chosen, 0);
  const OnnxTunePoint& chosen = r.value().points[size_t(r.value().chosen)];
  EXPECT_EQ(chosen.int8_layers.size(), 2u) << chosen.label;
  EXPECT_EQ(int8_matmuls(out), 2) << chosen.label;
}

namespace {

// x [3, 32] -> Gemm (transB, alpha 0.5, beta 2, C [16]) -> Relu -> Gemm
// (B [16, 10], C [1, 10]) -> Relu -> Gemm (transA: stays float) -> y: a
// classifier's fully connected layers, as exporters write them.
std::string gemm_file(const std::string& name) {
  pb::Msg g;
  g.s(2, name);
  g.m(5, pb::tensor_f32("w1", {16, 32}, uniform(16 * 32, 7, -0.4f, 0.4f)));
  g.m(5, pb::tensor_f32("c1", {16}, uniform(16, 8, -0.2f, 0.2f)));
  g.m(5, pb::tensor_f32("w2", {16, 10}, uniform(16 * 10, 9, -0.4f, 0.4f)));
  g.m(5, pb::tensor_f32("c2", {1, 10}, uniform(10, 10, -0.2f, 0.2f)));
  g.m(5, pb::tensor_f32("w3", {10, 4}, uniform(10 * 4, 11, -0.4f, 0.4f)));
  g.m(1, pb::node("Gemm", {"x", "w1", "c1"}, {"h"}, "fc1", {pb::attr_int("transB", 1), pb::attr_float("alpha", 0.5f), pb::attr_float("beta", 2.f)}));
  g.m(1, pb::node("Relu", {"h"}, {"h1"}, "relu1"));
  g.m(1, pb::node("Gemm", {"h1", "w2", "c2"}, {"z"}, "fc2"));
  g.m(1, pb::node("Relu", {"z"}, {"z1"}, "relu2"));
  g.m(1, pb::node("Transpose", {"z1"}, {"zt"}, "t"));
  g.m(1, pb::node("Gemm", {"zt", "w3"}, {"y"}, "fc3", {pb::attr_int("transA", 1)}));
  g.m(11, pb::value_info("x", 1, {3, 32}));
  g.m(12, pb::value_info("y", 1, {3, 4}));
  const std::string path = ::testing::TempDir() + "/" + name + ".onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  return path;
}

std::vector<CalibrationSample> gemm_samples(uint32_t seed, int n) {
  std::vector<CalibrationSample> out;
  for (int i = 0; i < n; ++i) out.push_back({{"x", Tensor::from_vector<float>(uniform(3 * 32, seed + uint32_t(i), -2.f, 2.f), {3, 32})}});
  return out;
}

}  // namespace

// Gemms by constant weights are layers with quantize_matmul: written as
// MatMul (B' = alpha * B^T) + Add (beta * C), then quantized per column
// and run on the int8 MatMul kernel; a transA Gemm stays a float Gemm.
TEST(OnnxQuantizeMatmul, GemmsByConstantWeightsBecomeInt8Matmuls) {
  const std::string in = gemm_file("quant_gemm"), out = ::testing::TempDir() + "/quant_gemm_int8.onnx";
  OnnxQuantizeOptions o;
  o.method = "minmax";
  o.quantize_matmul = true;
  o.keep_first_last = false;
  auto r = quantize_onnx_model(in, out, gemm_samples(1, 4), o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  EXPECT_EQ(r.value().gemms_as_matmuls, 2);
  EXPECT_EQ(r.value().quantized, 2);
  const ir::Model m = onnx::load_model(out);
  int gemms = 0, adds = 0;
  for (const ir::Node& n : m.graph->nodes) {
    gemms += n.op_type == "Gemm";
    adds += n.op_type == "Add";
  }
  EXPECT_EQ(gemms, 1);  // fc3 (transA)
  EXPECT_EQ(adds, 2);
  EXPECT_EQ(int8_matmuls(out), 2);
  // The same function as the float model, up to the int8 rounding: alpha,
  // beta and transB folded right (a wrong fold is off by far more).
  expect_near_float(in, out, gemm_samples(50, 2));
}
