// int8 quantization with dynamic activation ranges (OnnxQuantOptions::
// dynamic): each conv input is rounded with the range of that run's own
// tensor (DynamicQuantizeLinear), so a quiet input keeps the precision a
// static range, calibrated on loud inputs, takes from it.
#include <gtest/gtest.h>

#include <random>

#include "frontend/onnx/onnx_loader.h"
#include "frontend/onnx/onnx_writer.h"
#include "pareto/pareto.hpp"
#include "kernel_test_util.h"
#include "proto_builder.h"
#include "quant/onnx_qdq.h"
#include "runtime/executor.h"

using namespace pareto;
namespace pb = pareto::test;

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// x[1,6,10,10] -> Conv 3x3 (8, no bias) -> Relu -> Conv 1x1 (4, bias 0) -> y:
// positively homogeneous, so y(x / 1000) = y(x) / 1000 in float.
ir::Model two_convs() {
  pb::Msg g;
  g.m(5, pb::tensor_f32("w0", {8, 6, 3, 3}, random_floats(8 * 6 * 9, 1, 0.3f)));
  g.m(5, pb::tensor_f32("w1", {4, 8, 1, 1}, random_floats(4 * 8, 2, 0.3f)));
  g.m(5, pb::tensor_f32("b1", {4}, {0.f, 0.f, 0.f, 0.f}));
  g.m(1, pb::node("Conv", {"x", "w0"}, {"a"}, "conv0", {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.m(1, pb::node("Relu", {"a"}, {"b"}, "relu"));
  g.m(1, pb::node("Conv", {"b", "w1", "b1"}, {"y"}, "conv1", {pb::attr_ints("kernel_shape", {1, 1})}));
  g.s(2, "convs");
  g.m(11, pb::value_info("x", 1, {1, 6, 10, 10}));
  g.m(12, pb::value_info("y", 1, {1, 4, 10, 10}));
  const std::string bytes = pb::model(g, 13).bytes;
  return onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "convs.onnx", "");
}

Tensor input(uint32_t seed, float scale) { return Tensor::from_vector<float>(random_floats(6 * 100, seed, scale), {1, 6, 10, 10}); }

Tensor run(const ir::Model& m, const Tensor& x) {
  runtime::Executor ex(m.opset(), runtime::ExecOptions{});
  return ex.run_graph(*m.graph, {x}, nullptr)[0];
}

double relative_error(const Tensor& got, const Tensor& want) { return pareto::testing::relative_l2(want, got); }

int count(const ir::Model& m, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : m.graph->nodes) n += node.op_type == op;
  return n;
}

}  // namespace

TEST(OnnxQuantizeDynamic, QuietInputsKeepTheirPrecision) {
  const ir::Model m = two_convs();
  std::vector<quant::InputSample> loud;
  for (uint32_t s = 0; s < 4; ++s) loud.push_back({input(s, 2.f)});
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  const ir::Model fixed = quant::quantize_onnx(m, loud, o, nullptr);
  o.dynamic = true;
  quant::OnnxQuantReport rep;
  const ir::Model dynamic = quant::quantize_onnx(m, loud, o, &rep);
  ASSERT_EQ(rep.layers.size(), 2u);
  EXPECT_TRUE(rep.layers[0].quantized && rep.layers[1].quantized);
  EXPECT_GT(rep.output_error, 0.0) << "the report measures the rounded model";
  // One DynamicQuantizeLinear per conv input; DequantizeLinear for those
  // and the two weights; the bias stays float (its scale would be known
  // only at run time).
  EXPECT_EQ(count(dynamic, "DynamicQuantizeLinear"), 2);
  EXPECT_EQ(count(dynamic, "QuantizeLinear"), 0);
  EXPECT_EQ(count(dynamic, "DequantizeLinear"), 4);

  const Tensor loud_x = input(9, 2.f), quiet_x = input(9, 2e-3f);
  const double fixed_loud = relative_error(run(fixed, loud_x), run(m, loud_x));
  const double fixed_quiet = relative_error(run(fixed, quiet_x), run(m, quiet_x));
  const double dynamic_loud = relative_error(run(dynamic, loud_x), run(m, loud_x));
  const double dynamic_quiet = relative_error(run(dynamic, quiet_x), run(m, quiet_x));
  std::printf("[dynamic] relative error loud / quiet input: static ranges %.3e / %.3e, dynamic %.3e / %.3e\n", fixed_loud, fixed_quiet,
              dynamic_loud, dynamic_quiet);
  EXPECT_LT(dynamic_loud, 0.03);
  EXPECT_LT(fixed_loud, 0.03);
  // A thousand times quieter: the static range rounds nearly every input to
  // the zero point; the dynamic one scales with the input.
  EXPECT_GT(fixed_quiet, 0.5);
  EXPECT_LT(dynamic_quiet, 0.03);
}

// The written file through pareto's optimizer: fold_qdq turns each
// DynamicQuantizeLinear -> DequantizeLinear -> Conv into an int8 conv that
// finds its input's range per run (x_dynamic), and that computes what the
// graph as written does (integer sums against float sums of the rounded
// values: a few float roundings apart), for loud, quiet and all-zero inputs.
TEST(OnnxQuantizeDynamic, Int8KernelMatchesTheGraphAsWritten) {
  const ir::Model m = two_convs();
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  o.dynamic = true;
  const ir::Model q = quant::quantize_onnx(m, {{input(0, 2.f)}}, o, nullptr);
  const std::string path = ::testing::TempDir() + "/dynamic_convs.onnx";
  onnx::save_model(q, path);
  SessionOptions opt;
  opt.optimize = true;
  auto s = Session::open(path, opt);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  int folded = 0;
  for (const PassSummary& p : s.value()->passes())
    for (const auto& [what, n] : p.rewrites)
      if (what.find("int8 Conv (input range per run)") != std::string::npos) folded += n;
  EXPECT_EQ(folded, 2);
  for (float scale : {2.f, 2e-3f, 0.f}) {
    const Tensor x = input(5, scale);
    auto y = s.value()->run({{"x", x}});
    ASSERT_TRUE(y.ok()) << y.status().to_string();
    const Tensor want = run(q, x);
    if (scale == 0.f) {  // every byte the zero point: the output is the bias, 0
      for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(y.value()[0].data<float>()[i], 0.f) << i;
      continue;
    }
    EXPECT_LT(relative_error(y.value()[0], want), 1e-5) << "input scale " << scale;
  }
}
