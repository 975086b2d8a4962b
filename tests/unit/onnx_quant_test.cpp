// Static int8 quantization of ONNX models: activation range methods, the
// ONNX writer and opset upgrade (round trips that must compute the same
// function), and quantize_onnx end to end: the QDQ file it writes, run
// unoptimized (Q/DQ operators, float convs) and optimized (fold_qdq's int8
// kernel), against each other and against the float model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "../apps/scratch_dir.h"
#include "frontend/onnx/onnx_loader.h"
#include "frontend/onnx/onnx_writer.h"
#include "frontend/onnx/opset_upgrade.h"
#include "pareto/pareto.hpp"
#include "passes/passes.h"
#include "proto_builder.h"
#include "quant/onnx_qdq.h"
#include "runtime/executor.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A seeded random initializer w<k> of shape dims (values times scale)
// added to graph g; k counts the graph's weights.
std::string add_weight(Msg& g, int& k, const std::vector<int64_t>& dims, uint32_t seed_base, float scale = 1.f) {
  const std::string name = "w" + std::to_string(k++);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<float> v = random_floats(size_t(n), seed_base + uint32_t(k));
  for (float& x : v) x *= scale;
  g.m(5, pb::tensor_f32(name, dims, v));
  return name;
}

ir::Model load_bytes(const std::string& bytes) {
  return onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.onnx", "");
}

std::vector<Tensor> run(const ir::Model& m, const std::vector<Tensor>& in) {
  runtime::Executor ex(m.opset(), runtime::ExecOptions{});
  return ex.run_graph(*m.graph, in, nullptr);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel() && i < b.numel(); ++i) m = std::max(m, double(std::abs(a.data<float>()[i] - b.data<float>()[i])));
  return m;
}

// x[1,8,12,12] -> Conv 3x3 (16) -> Relu -> Conv 1x1 (16) -> Clip(0,6) -> Conv 1x1 (4) -> y
// (Clip's bounds as attributes: the opset must be below 11); with
// upsampling_head a 2x2 stride-2 ConvTranspose (4) follows: y[1,4,24,24];
// with second_head a second output y2 = Conv 1x1 (4) of the Relu's output.
std::string conv_model(int64_t opset, bool upsampling_head = false, bool second_head = false) {
  Msg g;
  int k = 0;
  auto weight = [&](const std::vector<int64_t>& dims, float scale) { return add_weight(g, k, dims, 100, scale); };
  auto conv = [&](const std::string& x, const std::string& y, int64_t cin, int64_t cout, int64_t ks) {
    g.m(1, pb::node("Conv", {x, weight({cout, cin, ks, ks}, 0.3f), weight({cout}, 0.1f)}, {y}, y + "_conv",
                    {pb::attr_ints("kernel_shape", {ks, ks}), pb::attr_ints("pads", {ks / 2, ks / 2, ks / 2, ks / 2})}));
  };
  conv("x", "a", 8, 16, 3);
  g.m(1, pb::node("Relu", {"a"}, {"b"}, "relu"));
  conv("b", "c", 16, 16, 1);
  g.m(1, pb::node("Clip", {"c"}, {"d"}, "clip", {pb::attr_float("min", 0.f), pb::attr_float("max", 6.f)}));  // opset < 11 form
  conv("d", upsampling_head ? "e" : "y", 16, 4, 1);
  if (upsampling_head)
    g.m(1, pb::node("ConvTranspose", {"e", weight({4, 4, 2, 2}, 0.3f)}, {"y"}, "head",
                    {pb::attr_ints("kernel_shape", {2, 2}), pb::attr_ints("strides", {2, 2})}));
  if (second_head) conv("b", "y2", 16, 4, 1);
  g.s(2, "convs");
  g.m(11, pb::value_info("x", 1, {1, 8, 12, 12}));
  g.m(12, pb::value_info("y", 1, upsampling_head ? std::vector<int64_t>{1, 4, 24, 24} : std::vector<int64_t>{1, 4, 12, 12}));
  if (second_head) g.m(12, pb::value_info("y2", 1, {1, 4, 12, 12}));
  return pb::model(g, opset).bytes;
}

Tensor input(uint32_t seed) { return Tensor::from_vector<float>(random_floats(8 * 12 * 12, seed, -2.f, 2.f), {1, 8, 12, 12}); }

}  // namespace

TEST(ActivationRanges, MethodsClipOutliersMinmaxKeeps) {
  std::vector<float> v = random_floats(100000, 1);
  v[7] = 100.f;  // one outlier
  quant::RangeObserver o;
  o.observe_extremes(v.data(), int64_t(v.size()));
  o.observe_histogram(v.data(), int64_t(v.size()));
  float lo, hi, mm_hi;
  o.range(quant::CalibMethod::minmax, 0, &lo, &mm_hi);
  EXPECT_EQ(mm_hi, 100.f);
  EXPECT_LE(lo, -0.99f);
  for (quant::CalibMethod m : {quant::CalibMethod::percentile, quant::CalibMethod::entropy}) {
    o.range(m, 99.9, &lo, &hi);
    EXPECT_LT(hi, 10.f) << quant::calib_method_name(m) << " keeps the outlier";
    EXPECT_GT(hi, 0.5f) << quant::calib_method_name(m) << " clips the bulk of the values";
    EXPECT_LE(lo, 0.f);
  }
  // MSE weighs the one outlier's clipping error (~99^2) against the
  // rounding error of a wide range over 100000 values: it clips some, not all.
  o.range(quant::CalibMethod::mse, 0, &lo, &hi);
  EXPECT_LT(hi, mm_hi);
  EXPECT_GT(hi, 1.f);
  // Laplace(b = 1) values: the MSE-optimal 8-bit clip is about 9.89 b
  // (Banner et al., ACIQ, NeurIPS 2019), inside the sample's extreme (~12).
  std::mt19937 rng(5);
  std::exponential_distribution<float> ex(1.f);
  std::vector<float> lap(200000);
  for (size_t i = 0; i < lap.size(); ++i) lap[i] = (i % 2 ? 1.f : -1.f) * ex(rng);
  quant::RangeObserver l;
  l.observe_extremes(lap.data(), int64_t(lap.size()));
  l.observe_histogram(lap.data(), int64_t(lap.size()));
  l.range(quant::CalibMethod::mse, 0, &lo, &hi);
  EXPECT_GT(l.hi(), 11.f);
  EXPECT_GT(hi, 8.5f);
  EXPECT_LT(hi, 11.f);
  // Zero is exactly representable: the zero point dequantizes to 0.
  float scale;
  uint8_t zero;
  quant::uint8_params(-1.f, 3.f, &scale, &zero);
  EXPECT_FLOAT_EQ(scale, 4.f / 255.f);
  EXPECT_EQ(zero, 64);
  quant::uint8_params(0.f, 0.f, &scale, &zero);  // an all-zero tensor still gets a usable scale
  EXPECT_GT(scale, 0.f);
}

// After a ReLU most values are exactly 0. They cost nothing at any
// threshold (the zero point is exact), so the KL search must not let their
// spike pull the threshold into the bulk of the positive values.
TEST(ActivationRanges, EntropyIgnoresTheSpikeOfExactZeros) {
  std::mt19937 rng(3);
  std::exponential_distribution<float> ex(1.f);
  std::vector<float> v(200000, 0.f);
  for (size_t i = 0; i < v.size(); i += 3) v[i] = ex(rng);  // two thirds exact zeros, the rest Exp(1)
  quant::RangeObserver o;
  o.observe_extremes(v.data(), int64_t(v.size()));
  o.observe_histogram(v.data(), int64_t(v.size()));
  float lo, hi;
  o.range(quant::CalibMethod::entropy, 0, &lo, &hi);
  // Exp(1): 99% of the nonzero values lie below 4.6; the extreme is ~11.
  EXPECT_GT(hi, 4.6f) << "clipped into the bulk";
  EXPECT_LE(hi, o.hi());
  EXPECT_EQ(lo, 0.f);
}

// Written and read back, and moved from opset 9 to 13 (Clip's attributes
// become inputs): the same outputs as the original.
TEST(OnnxWriter, RoundTripAndOpsetUpgradeKeepTheFunction) {
  const ir::Model m = load_bytes(conv_model(9));
  const std::vector<Tensor> want = run(m, {input(3)});
  const ir::Model back = load_bytes(onnx::write_model(m));
  EXPECT_EQ(back.opset(), 9);
  EXPECT_EQ(max_abs_diff(run(back, {input(3)})[0], want[0]), 0.0);
  ir::Model up = load_bytes(onnx::write_model(m));
  onnx::upgrade_to_opset13(up);
  const ir::Model up_back = load_bytes(onnx::write_model(up));
  EXPECT_EQ(up_back.opset(), 13);
  for (const ir::Node& n : up_back.graph->nodes)
    if (n.op_type == "Clip") {
      EXPECT_EQ(n.inputs.size(), 3u) << "Clip bounds should be inputs at opset 13";
    }
  EXPECT_EQ(max_abs_diff(run(up_back, {input(3)})[0], want[0]), 0.0);
}

// A softmax over a non-last axis changed meaning at opset 13: refused by name.
TEST(OnnxWriter, OpsetUpgradeRefusesWhatItCannotCarry) {
  Msg g;
  g.m(1, pb::node("Softmax", {"x"}, {"y"}, "sm", {pb::attr_int("axis", 1)}));
  g.s(2, "sm");
  g.m(11, pb::value_info("x", 1, {2, 3, 4}));
  g.m(12, pb::value_info("y", 1, {2, 3, 4}));
  ir::Model m = load_bytes(pb::model(g, 11).bytes);
  try {
    onnx::upgrade_to_opset13(m);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'sm'"), std::string::npos) << e.what();
  }
}

TEST(OnnxQuantize, QdqModelRunsInt8AndStaysCloseToFloat) {
  const ir::Model m = load_bytes(conv_model(9));
  std::vector<quant::InputSample> samples;
  for (uint32_t s = 0; s < 4; ++s) samples.push_back({input(s)});
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  o.method = quant::CalibMethod::minmax;
  o.sensitivity = true;
  quant::OnnxQuantReport rep;
  const ir::Model q = quant::quantize_onnx(m, samples, o, &rep);
  ASSERT_EQ(rep.layers.size(), 3u);
  for (const quant::LayerReport& l : rep.layers) {
    EXPECT_TRUE(l.quantized) << l.node;
    EXPECT_GE(l.sensitivity, 0.0) << l.node;
    EXPECT_LT(l.sensitivity, 0.05) << l.node;
  }
  EXPECT_LT(rep.output_error, 0.05);
  EXPECT_GT(rep.output_error, 0.0) << "int8 cannot be exact: the report must measure the real model";
  int qs = 0, dqs = 0;
  for (const ir::Node& n : q.graph->nodes) {
    qs += n.op_type == "QuantizeLinear";
    dqs += n.op_type == "DequantizeLinear";
  }
  EXPECT_EQ(qs, 3);       // one per conv input
  EXPECT_EQ(dqs, 3 + 6);  // those, and each conv's weights and bias
  // The file as other engines read it, through pareto unoptimized (the Q/DQ
  // operators and float convs) and optimized (fold_qdq: int8 kernels).
  const std::string path = ::testing::TempDir() + "/quantized_convs.onnx";
  onnx::save_model(q, path);
  const Tensor x = input(9);
  const std::vector<Tensor> want = run(m, {x});
  SessionOptions plain, opt;
  opt.optimize = true;
  auto s0 = Session::open(path, plain);
  auto s1 = Session::open(path, opt);
  ASSERT_TRUE(s0.ok() && s1.ok());
  auto y0 = s0.value()->run({{"x", x}});
  auto y1 = s1.value()->run({{"x", x}});
  ASSERT_TRUE(y0.ok() && y1.ok());
  const Tensor& a = y0.value()[0];
  const Tensor& b = y1.value()[0];
  int int8_convs = 0;
  for (const PassSummary& p : s1.value()->passes())
    for (const auto& [what, count] : p.rewrites)
      if (what.find("int8 Conv") != std::string::npos) int8_convs += count;
  EXPECT_EQ(int8_convs, 3);
  // Float rounding differs between the two paths (int32 sums against float
  // sums of dequantized values), so a value near a rounding boundary of the
  // next QuantizeLinear may land one step over: allow a few steps of the
  // last conv's output, far below the error of int8 itself.
  double scale = 0;
  for (int64_t i = 0; i < want[0].numel(); ++i) scale = std::max(scale, double(std::abs(want[0].data<float>()[i])));
  EXPECT_LT(max_abs_diff(a, b), 0.02 * scale);
  EXPECT_LT(max_abs_diff(b, want[0]), 0.1 * scale);
}

// keep_first_last keeps the first conv and the output layers: the last
// conv only when nothing with weights follows it.
TEST(OnnxQuantize, LastConvStaysFloatOnlyWhenItEndsTheNetwork) {
  std::vector<quant::InputSample> samples;
  for (uint32_t s = 0; s < 2; ++s) samples.push_back({input(s)});
  quant::OnnxQuantOptions o;
  o.method = quant::CalibMethod::minmax;
  for (bool head : {false, true}) {
    quant::OnnxQuantReport rep;
    quant::quantize_onnx(load_bytes(conv_model(9, head)), samples, o, &rep);
    ASSERT_EQ(rep.layers.size(), 3u);
    EXPECT_EQ(rep.layers[0].kept_because, "first conv");
    EXPECT_TRUE(rep.layers[1].quantized);
    EXPECT_EQ(rep.layers[2].quantized, head) << (head ? "before a ConvTranspose" : "the output layer");
    EXPECT_EQ(rep.layers[2].end_layer, !head);
    EXPECT_EQ(rep.layers[2].kept_because, head ? "" : "last layer");
  }
}

// Two heads: each output conv is an output layer and stays float, though
// only one of them is last in the node order; with a ConvTranspose after
// one head, only the other stays float. The tensor both heads read is
// rounded for the int8 conv only (for every reader with quantize_outputs).
TEST(OnnxQuantize, EachHeadsOutputConvStaysFloat) {
  std::vector<quant::InputSample> samples;
  for (uint32_t s = 0; s < 2; ++s) samples.push_back({input(s)});
  quant::OnnxQuantOptions o;
  o.method = quant::CalibMethod::minmax;
  for (bool upsampling : {false, true}) {
    quant::OnnxQuantReport rep;
    const ir::Model q = quant::quantize_onnx(load_bytes(conv_model(9, upsampling, true)), samples, o, &rep);
    ASSERT_EQ(rep.layers.size(), 4u);
    // The Relu's output b feeds c_conv (int8) and y2_conv (float): only
    // c_conv reads it through the Q/DQ pair, y2_conv reads the exact values.
    std::map<std::string, std::string> input_of;
    for (const ir::Node& n : q.graph->nodes)
      if (!n.inputs.empty() && n.inputs[0] >= 0) input_of[n.name] = q.graph->values[size_t(n.inputs[0])].name;
    EXPECT_EQ(input_of["c_conv"], "b_dequantized");
    EXPECT_EQ(input_of["y2_conv"], "b");
    // With quantize_outputs every reader sees the rounded tensor.
    quant::OnnxQuantOptions all = o;
    all.quantize_outputs = true;
    const ir::Model qa = quant::quantize_onnx(load_bytes(conv_model(9, upsampling, true)), samples, all, nullptr);
    bool found = false;
    for (const ir::Node& n : qa.graph->nodes)
      if (n.name == "y2_conv") {
        found = true;
        EXPECT_EQ(qa.graph->values[size_t(n.inputs[0])].name, "b_dequantized");
      }
    EXPECT_TRUE(found);
    std::map<std::string, const quant::LayerReport*> by_node;
    for (const quant::LayerReport& l : rep.layers) by_node[l.node] = &l;
    const char* head = upsampling ? "e_conv" : "y_conv";  // the first head's conv
    for (const char* name : {"a_conv", "c_conv", head, "y2_conv"}) ASSERT_TRUE(by_node.count(name)) << name;
    EXPECT_EQ(by_node["a_conv"]->kept_because, "first conv");
    EXPECT_TRUE(by_node["c_conv"]->quantized);
    EXPECT_FALSE(by_node["c_conv"]->end_layer);
    EXPECT_EQ(by_node[head]->kept_because, upsampling ? "" : "last layer") << (upsampling ? "before a ConvTranspose" : "the first head's output conv");
    EXPECT_EQ(by_node[head]->end_layer, !upsampling);
    EXPECT_EQ(by_node["y2_conv"]->kept_because, "last layer") << "the second head's output conv";
  }
}

namespace {

Msg tensor_bytes(const std::string& name, int elem_type, const std::vector<int64_t>& dims, const std::string& raw) {
  Msg t;
  for (int64_t d : dims) t.i(1, d);
  return t.i(2, elem_type).s(8, name).s(9, raw);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, double(std::abs(t.data<float>()[i])));
  return m;
}

std::pair<Tensor, Tensor> run_plain_and_optimized(const std::string& path, const std::string& input, const Tensor& x) {
  SessionOptions plain, opt;
  opt.optimize = true;
  auto s0 = Session::open(path, plain);
  auto s1 = Session::open(path, opt);
  EXPECT_TRUE(s0.ok() && s1.ok());
  auto y0 = s0.value()->run({{input, x}});
  auto y1 = s1.value()->run({{input, x}});
  EXPECT_TRUE(y0.ok() && y1.ok());
  return {y0.value()[0], y1.value()[0]};
}

}  // namespace

// A 3x3 stride-1 conv big enough for Winograd: the optimized int8 model
// runs it on the shifted int8 kernel (float Winograd on the rounded input
// only where that form does not apply), which must compute what the QDQ
// file says up to float rounding.
TEST(OnnxQuantize, Int8ConvThroughWinogradMatchesTheQdqFile) {
  Msg g;
  g.m(5, pb::tensor_f32("w", {16, 16, 3, 3}, random_floats(16 * 16 * 9, 41, -0.2f, 0.2f)));
  g.m(5, pb::tensor_f32("b", {16}, random_floats(16, 42)));
  g.m(1, pb::node("Conv", {"x", "w", "b"}, {"y"}, "conv", {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.s(2, "winograd");
  g.m(11, pb::value_info("x", 1, {1, 16, 8, 64}));
  g.m(12, pb::value_info("y", 1, {1, 16, 8, 64}));
  const ir::Model m = load_bytes(pb::model(g, 13).bytes);
  auto x_of = [](uint32_t seed) { return Tensor::from_vector<float>(random_floats(16 * 8 * 64, seed, -2.f, 2.f), {1, 16, 8, 64}); };
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  const ir::Model q = quant::quantize_onnx(m, {{x_of(1)}, {x_of(2)}}, o, nullptr);
  const std::string path = ::testing::TempDir() + "/winograd_int8.onnx";
  onnx::save_model(q, path);
  const Tensor x = x_of(3);
  const auto [plain, optimized] = run_plain_and_optimized(path, "x", x);
  EXPECT_LT(max_abs_diff(plain, optimized), 1e-4 * max_abs(plain));
  EXPECT_LT(max_abs_diff(optimized, run(m, {x})[0]), 0.05 * max_abs(plain));  // and int8 stays near float
}

// Weights other tools write as uint8 with nonzero zero points (values up to
// 255 - zero apart) must not go through the int8 kernel's signed weights:
// the optimized model computes what the file says.
TEST(OnnxQuantize, Uint8WeightsWithZeroPointsStayExact) {
  Msg g;
  const int64_t co = 8, ci = 4;
  std::string wq(size_t(co * ci), '\0'), wz(size_t(co), '\0');
  for (size_t i = 0; i < wq.size(); ++i) wq[i] = char(uint8_t(i * 37 % 256));  // spans 0..255
  for (size_t i = 0; i < wz.size(); ++i) wz[i] = char(uint8_t(90 + 10 * i));
  g.m(5, tensor_bytes("w_q", 2, {co, ci, 1, 1}, wq));
  g.m(5, tensor_bytes("w_zero", 2, {co}, wz));
  g.m(5, pb::tensor_f32("w_scale", {co}, std::vector<float>(size_t(co), 0.01f)));
  g.m(5, pb::tensor_f32("x_scale", {}, {0.05f}));
  g.m(5, tensor_bytes("x_zero", 2, {}, std::string(1, char(128))));
  g.m(1, pb::node("QuantizeLinear", {"x", "x_scale", "x_zero"}, {"x_q"}, "q"));
  g.m(1, pb::node("DequantizeLinear", {"x_q", "x_scale", "x_zero"}, {"x_dq"}, "dq"));
  g.m(1, pb::node("DequantizeLinear", {"w_q", "w_scale", "w_zero"}, {"w"}, "dqw", {pb::attr_int("axis", 0)}));
  g.m(1, pb::node("Conv", {"x_dq", "w"}, {"y"}, "conv", {pb::attr_ints("kernel_shape", {1, 1})}));
  g.s(2, "uint8_weights");
  g.m(11, pb::value_info("x", 1, {1, ci, 5, 7}));
  g.m(12, pb::value_info("y", 1, {1, co, 5, 7}));
  const std::string path = ::testing::TempDir() + "/uint8_weights.onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  const Tensor x = Tensor::from_vector<float>(random_floats(size_t(ci * 35), 7, -5.f, 5.f), {1, ci, 5, 7});
  const auto [plain, optimized] = run_plain_and_optimized(path, "x", x);
  EXPECT_LT(max_abs_diff(plain, optimized), 1e-5 * max_abs(plain));
}

namespace {

// x[1,8,13,11] -> Conv 1x1 (16) -> Relu -> depthwise 3x3 (16) -> Relu = d,
// then y = Conv 1x1 (8) of d and y2 = Conv 3x3 (4) of d; with float_reader
// d is also a graph output.
std::string depthwise_model(bool float_reader) {
  Msg g;
  int k = 0;
  auto weight = [&](const std::vector<int64_t>& dims) { return add_weight(g, k, dims, 200, 0.3f); };
  auto conv = [&](const std::string& x, const std::string& y, int64_t cin, int64_t cout, int64_t ks, int64_t group) {
    g.m(1, pb::node("Conv", {x, weight({cout, cin / group, ks, ks}), weight({cout})}, {y}, y + "_conv",
                    {pb::attr_ints("kernel_shape", {ks, ks}), pb::attr_ints("pads", {ks / 2, ks / 2, ks / 2, ks / 2}), pb::attr_int("group", group)}));
  };
  conv("x", "a", 8, 16, 1, 1);
  g.m(1, pb::node("Relu", {"a"}, {"b"}, "relu_b"));
  conv("b", "c", 16, 16, 3, 16);
  g.m(1, pb::node("Relu", {"c"}, {"d"}, "relu_d"));
  conv("d", "y", 16, 8, 1, 1);
  conv("d", "y2", 16, 4, 3, 1);
  g.s(2, "depthwise");
  g.m(11, pb::value_info("x", 1, {1, 8, 13, 11}));
  g.m(12, pb::value_info("y", 1, {1, 8, 13, 11}));
  g.m(12, pb::value_info("y2", 1, {1, 4, 13, 11}));
  if (float_reader) g.m(12, pb::value_info("d", 1, {1, 16, 13, 11}));
  return pb::model(g, 13).bytes;
}

}  // namespace

namespace {

// One optimized run of a model with fuse_quantize on or off: its outputs
// and how often the compiler made each rewrite (by name).
struct FuseRun {
  std::vector<Tensor> outs;
  std::map<std::string, int> rewrites;
  int count(const std::string& part) const {
    int n = 0;
    for (const auto& [what, c] : rewrites) n += what.find(part) != std::string::npos ? c : 0;
    return n;
  }
};

FuseRun run_fused(const std::string& path, bool fuse, int threads, const std::map<std::string, Tensor>& in) {
  if (!fuse) setenv("PARETO_FUSE_QUANTIZE", "0", 1);
  SessionOptions opt;
  opt.optimize = true;
  opt.threads = threads;
  auto s = Session::open(path, opt);
  unsetenv("PARETO_FUSE_QUANTIZE");
  FuseRun r;
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  if (!s.ok()) return r;
  for (const PassSummary& p : s.value()->passes())
    for (const auto& [what, c] : p.rewrites) r.rewrites[what] += c;
  auto y = s.value()->run(in);
  EXPECT_TRUE(y.ok()) << y.status().to_string();
  if (y.ok()) r.outs = y.value();
  return r;
}

// The outputs of two runs are the same floats, bit for bit.
void expect_same_bits(const FuseRun& a, const FuseRun& b, const std::string& what) {
  ASSERT_EQ(a.outs.size(), b.outs.size()) << what;
  for (size_t i = 0; i < a.outs.size(); ++i) {
    ASSERT_EQ(a.outs[i].shape(), b.outs[i].shape()) << what;
    ASSERT_EQ(b.outs[i].dtype(), DType::f32) << "output " << i << ", " << what;
    EXPECT_EQ(std::memcmp(a.outs[i].data<float>(), b.outs[i].data<float>(), size_t(a.outs[i].numel()) * sizeof(float)), 0)
        << "output " << i << ", " << what;
  }
}

}  // namespace

// A depthwise conv whose output only int8 convs read writes it as uint8
// (fuse_quantize): the int8 convs see the bytes their own quantizing would
// give them, so the outputs equal the unfused ones bit for bit, at 1 and 2
// threads. A graph output reading it too keeps it float. With the depthwise
// conv quantized as well (quantize_depthwise), the int8 conv in front of it
// writes uint8 for it too, and it reads those bytes: two tensors uint8.
TEST(OnnxQuantize, DepthwiseOutputRoundedForItsInt8ReadersIsExact) {
  for (bool quantize_depthwise : {false, true})
    for (bool float_reader : {false, true}) {
      const ir::Model m = load_bytes(depthwise_model(float_reader));
      std::vector<quant::InputSample> samples;
      for (uint32_t s = 0; s < 3; ++s)
        samples.push_back({Tensor::from_vector<float>(random_floats(8 * 13 * 11, 40 + s, -2.f, 2.f), {1, 8, 13, 11})});
      quant::OnnxQuantOptions o;
      o.keep_first_last = false;
      o.quantize_depthwise = quantize_depthwise;
      o.method = quant::CalibMethod::minmax;
      quant::OnnxQuantReport rep;
      const std::string path = pareto::testing::scratch_dir() + "/depthwise_int8_" + std::to_string(quantize_depthwise) + std::to_string(float_reader) + ".onnx";
      onnx::save_model(quant::quantize_onnx(m, samples, o, &rep), path);
      const Tensor x = Tensor::from_vector<float>(random_floats(8 * 13 * 11, 99, -2.f, 2.f), {1, 8, 13, 11});
      const std::string what = "quantize_depthwise " + std::to_string(quantize_depthwise) + ", float reader " + std::to_string(float_reader);
      for (int threads : {1, 2}) {
        const std::string at = what + ", " + std::to_string(threads) + " threads";
        FuseRun runs[2];
        for (int fuse : {0, 1}) {
          const FuseRun& r = runs[fuse] = run_fused(path, fuse, threads, {{"x", x}});
          EXPECT_EQ(r.count("-> int8 Conv"), 3) << at;
          EXPECT_EQ(r.count("depthwise Conv on uint8"), quantize_depthwise ? 1 : 0) << at;
          EXPECT_EQ(r.count("depthwise conv -> uint8 for quantized convs"), fuse && !float_reader ? 1 : 0) << at;
          EXPECT_EQ(r.count("int8 conv -> uint8 for quantized convs"), fuse && quantize_depthwise ? 1 : 0) << at;
        }
        expect_same_bits(runs[0], runs[1], at);
      }
    }
}

// Two int8 convs (x_scale attributes, as fold_qdq leaves them) reading one
// depthwise output: with the same input scale the depthwise conv writes
// their uint8 input, bit-equal to the unfused run (the 3x3 reader is one
// Winograd would take: on machines without VNNI the int8 conv runs as
// Winograd on the rounded input, here the shifted int8 form); with another
// scale for one of them, or a zero point apart, nothing fuses.
TEST(OnnxQuantize, Int8ReadersWithAnotherScaleKeepTheFloatTensor) {
  const int64_t c = 16, h = 6, w = 50;
  for (int variant = 0; variant < 3; ++variant) {  // same, other scale, other zero point
    Msg g;
    int k = 0;
    auto weight = [&](const std::vector<int64_t>& dims) { return add_weight(g, k, dims, 300); };
    auto int8_attrs = [&](float xs, int64_t zp, int64_t ks) {
      return std::vector<Msg>{pb::attr_ints("kernel_shape", {ks, ks}), pb::attr_ints("pads", {ks / 2, ks / 2, ks / 2, ks / 2}),
                              pb::attr_float("x_scale", xs), pb::attr_int("x_zero_point", zp),
                              pb::attr_floats("w_scales", std::vector<float>(size_t(c), 1.f / 127))};
    };
    g.m(1, pb::node("Conv", {"x", weight({c, 1, 3, 3}), weight({c})}, {"d"}, "dw",
                    {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1}), pb::attr_int("group", c)}));
    g.m(1, pb::node("Conv", {"d", weight({c, c, 1, 1}), weight({c})}, {"y"}, "pw", int8_attrs(0.02f, 128, 1)));
    g.m(1, pb::node("Conv", {"d", weight({c, c, 3, 3}), weight({c})}, {"y2"}, "c3",
                    int8_attrs(variant == 1 ? 0.025f : 0.02f, variant == 2 ? 127 : 128, 3)));
    g.s(2, "int8_readers");
    g.m(11, pb::value_info("x", 1, {1, c, h, w}));
    g.m(12, pb::value_info("y", 1, {1, c, h, w}));
    g.m(12, pb::value_info("y2", 1, {1, c, h, w}));
    const std::string path = ::testing::TempDir() + "/int8_readers_" + std::to_string(variant) + ".onnx";
    std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
    const Tensor x = Tensor::from_vector<float>(random_floats(size_t(c * h * w), 77, -1.f, 1.f), {1, c, h, w});
    std::vector<Tensor> outs[2];
    for (int fuse : {0, 1}) {
      if (!fuse) setenv("PARETO_FUSE_QUANTIZE", "0", 1);
      SessionOptions opt;
      opt.optimize = true;
      opt.shapes["x"] = {1, c, h, w};
      auto s = Session::open(path, opt);
      unsetenv("PARETO_FUSE_QUANTIZE");
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      int fused = 0;
      for (const PassSummary& p : s.value()->passes())
        for (const auto& [what, count] : p.rewrites)
          if (what.find("uint8 for quantized convs") != std::string::npos) fused += count;
      EXPECT_EQ(fused, fuse && variant == 0 ? 1 : 0) << "variant " << variant;
      auto y = s.value()->run({{"x", x}});
      ASSERT_TRUE(y.ok()) << y.status().to_string();
      outs[fuse] = y.value();
    }
    for (size_t i = 0; i < 2; ++i)
      EXPECT_EQ(std::memcmp(outs[0][i].data<float>(), outs[1][i].data<float>(), size_t(outs[0][i].numel()) * sizeof(float)), 0) << "output " << i;
  }
}

// The FPN neck's FusedAdd and the DB head's FusedConcat (pareto's fused
// nodes, as fuse_upsample leaves them) read only by int8 convs round their
// output to uint8 plane by plane (fuse_quantize): the convs see the bytes
// their own quantizing gives them, at 1 and 2 threads; a graph output
// reading the sum too keeps it float.
TEST(OnnxQuantize, FusedAddAndConcatRoundForTheirInt8Readers) {
  // 70 x 120 maps: big enough for two threads to round bands of rows (the band edge between two rows of one upsampled row).
  for (const int64_t h : {6, 70})
    for (bool float_reader : {false, true}) {
      const int64_t w = h == 6 ? 10 : 120;
      Msg g;
      int k = 0;
      auto int8_conv = [&](const std::string& x, const std::string& y, int64_t cin) {
        g.m(1, pb::node("Conv", {x, add_weight(g, k, {5, cin, 3, 3}, 500), add_weight(g, k, {5}, 600)}, {y}, y + "_conv",
                        {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1}), pb::attr_float("x_scale", 0.031f),
                         pb::attr_int("x_zero_point", 120), pb::attr_floats("w_scales", std::vector<float>(5, 1.f / 127))}));
      };
      g.m(1, pb::node("FusedAdd", {"a", "b", "gate"}, {"s"}, "fadd", {pb::attr_ints("upsample", {2, 2})}).s(7, "pareto"));
      g.m(1, pb::node("FusedConcat", {"b", "a"}, {"t"}, "fcat", {pb::attr_ints("upsample", {2, 2, 1, 1})}).s(7, "pareto"));
      int8_conv("s", "y", 4);
      int8_conv("t", "y2", 8);
      g.s(2, "fused_readers");
      g.m(11, pb::value_info("a", 1, {1, 4, h, w}));
      g.m(11, pb::value_info("b", 1, {1, 4, h / 2, w / 2}));
      g.m(11, pb::value_info("gate", 1, {1, 4, 1, 1}));
      g.m(12, pb::value_info("y", 1, {1, 5, h, w}));
      g.m(12, pb::value_info("y2", 1, {1, 5, h, w}));
      if (float_reader) g.m(12, pb::value_info("s", 1, {1, 4, h, w}));
      const std::string path = pareto::testing::scratch_dir() + "/fused_readers_" + std::to_string(h) + "_" + std::to_string(float_reader) + ".onnx";
      std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
      const std::map<std::string, Tensor> in = {{"a", Tensor::from_vector<float>(random_floats(size_t(4 * h * w), 81, -3.f, 3.f), {1, 4, h, w})},
                                                {"b", Tensor::from_vector<float>(random_floats(size_t(h * w), 82, -3.f, 3.f), {1, 4, h / 2, w / 2})},
                                                {"gate", Tensor::from_vector<float>(random_floats(4, 83), {1, 4, 1, 1})}};
      for (int threads : {1, 2}) {
        const std::string at = "h " + std::to_string(h) + ", float reader " + std::to_string(float_reader) + ", " + std::to_string(threads) + " threads";
        FuseRun runs[2];
        for (int fuse : {0, 1}) {
          const FuseRun& r = runs[fuse] = run_fused(path, fuse, threads, in);
          EXPECT_EQ(r.count("FusedAdd -> uint8 for quantized convs"), fuse && !float_reader ? 1 : 0) << at;
          EXPECT_EQ(r.count("FusedConcat -> uint8 for quantized convs"), fuse ? 1 : 0) << at;
        }
        expect_same_bits(runs[0], runs[1], at);
      }
    }
}
