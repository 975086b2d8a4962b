// Operators reading sizes from a hostile model (attributes, constant inputs,
// declared shapes) refuse with an error naming the node: no out-of-bounds
// read, no overflow, no allocation beyond the limits, no endless loop. One
// crafted model per defect found by fuzzing and review (tests/fuzz/crashes/README.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "frontend/onnx/onnx_loader.h"
#include "pareto/limits.hpp"
#include "proto_builder.h"
#include "runtime/executor.h"

using namespace pareto;
using namespace pareto::test;

namespace {

struct Case {
  const char* what;
  Msg graph;
  std::vector<Tensor> inputs;
  const char* expected;  // part of the error message
};

// Runs the graph; returns the error message ("" when it ran).
std::string run_error(const Msg& graph, const std::vector<Tensor>& inputs) {
  try {
    const std::string bytes = model(graph).bytes;
    ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "hostile.onnx", "");
    runtime::check_supported(*m.graph);
    runtime::Executor ex(m.opset(), {});
    ex.run_graph(*m.graph, inputs, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Msg one_node(const Msg& node, const std::vector<Msg>& inits, const std::vector<Msg>& ins, const char* out = "y") {
  Msg g;
  g.m(1, node);
  g.s(2, "hostile");
  for (const Msg& t : inits) g.m(5, t);
  for (const Msg& i : ins) g.m(11, i);
  g.m(12, value_info(out, 1, {}));
  return g;
}

}  // namespace

TEST(HostileOps, SizesFromTheModelAreRefusedByName) {
  const Tensor x4 = Tensor::zeros(DType::f32, {1, 4, 2, 2});
  const Tensor x2 = Tensor::zeros(DType::f32, {2, 3});
  std::vector<Case> cases = {
      {"TopK with an empty k", one_node(node("TopK", {"x", "k"}, {"y", "i"}, "topk"), {tensor_i64("k", {0}, {})}, {value_info("x", 1, {2, 3})}),
       {x2}, "element 0 read from a tensor of 0 elements"},
      {"Split asking for 2^40 parts", one_node(node("Split", {"x"}, {"y"}, "split", {attr_int("num_outputs", int64_t(1) << 40)}), {},
                                                {value_info("x", 1, {2, 3})}),
       {x2}, "num_outputs is 1099511627776 for 1 outputs"},
      {"DepthToSpace with blocksize 2^32", one_node(node("DepthToSpace", {"x"}, {"y"}, "d2s", {attr_int("blocksize", int64_t(1) << 32)}), {},
                                                   {value_info("x", 1, {1, 4, 2, 2})}),
       {x4}, "blocksize must be from 1 to 65536"},
      {"MaxPool with a 2^40 kernel", one_node(node("MaxPool", {"x"}, {"y"}, "pool", {attr_ints("kernel_shape", {int64_t(1) << 40, 1})}), {},
                                              {value_info("x", 1, {1, 4, 2, 2})}),
       {x4}, "pooling sizes"},
      {"Tile repeats overflowing int64", one_node(node("Tile", {"x", "r"}, {"y"}, "tile"), {tensor_i64("r", {2}, {int64_t(1) << 62, 4})},
                                                  {value_info("x", 1, {2, 3})}),
       {x2}, "repeats overflow the dimension"},
      {"Pad by 2^62", one_node(node("Pad", {"x", "p"}, {"y"}, "pad"), {tensor_i64("p", {4}, {int64_t(1) << 62, 0, int64_t(1) << 62, 0})},
                               {value_info("x", 1, {2, 3})}),
       {x2}, "pads out of range"},
      {"Resize of an empty axis to 5", one_node(node("Resize", {"x", "", "", "s"}, {"y"}, "resize"), {tensor_i64("s", {2}, {5, 3})},
                                                {value_info("x", 1, {0, 3})}),
       {Tensor::zeros(DType::f32, {0, 3})}, "cannot resize an empty axis"},
      {"Expand to 2^20 x 2^20", one_node(node("Expand", {"x", "s"}, {"y"}, "expand"), {tensor_i64("s", {2}, {int64_t(1) << 20, int64_t(1) << 20})},
                                         {value_info("x", 1, {1, 1})}),
       {Tensor::zeros(DType::f32, {1, 1})}, "above the tensor-elements limit"},
  };
  Msg no_outputs;
  no_outputs.m(1, node("Relu", {"x"}, {}, "silent"));
  no_outputs.s(2, "hostile").m(11, value_info("x", 1, {2, 3})).m(12, value_info("x", 1, {2, 3}));
  cases.push_back({"a node without outputs", no_outputs, {x2}, "the node has no outputs"});
  Msg ln = one_node(node("LayerNormalization", {"x", "g", "b"}, {"y"}, "ln"),
                    {tensor_f32("g", {3}, {1, 1, 1}), tensor_f32("b", {2, 2, 3}, std::vector<float>(12, 0.f))}, {value_info("x", 1, {2, 3})});
  cases.push_back({"LayerNormalization with a bias of higher rank", ln, {x2}, "bias does not broadcast"});
  // The compiler's FusedAdd as an artifact could carry it: factors and shapes that do not fit.
  const Tensor b22 = Tensor::zeros(DType::f32, {1, 4, 1, 1});
  cases.push_back({"FusedAdd with a 2^62 factor",
                   one_node(node("FusedAdd", {"x", "b"}, {"y"}, "fadd_factor", {attr_ints("upsample", {int64_t(1) << 62, int64_t(1) << 62})}), {},
                            {value_info("x", 1, {1, 4, 2, 2}), value_info("b", 1, {1, 4, 1, 1})}),
                   {x4, b22}, "does not give [1,4,2,2]"});
  cases.push_back({"FusedAdd with a gate per element",
                   one_node(node("FusedAdd", {"x", "", "g"}, {"y"}, "fadd_gate"), {}, {value_info("x", 1, {1, 4, 2, 2}), value_info("g", 1, {1, 4, 2, 2})}),
                   {x4, x4}, "is not one value per channel"});
  // QLookup (fold_qdq_lookup's table op; an artifact or a hand-written file
  // can carry it): tables that do not fit the input are refused by name.
  Tensor xq = Tensor::zeros(DType::u8, {1, 4, 2, 2});
  cases.push_back({"QLookup with 3 tables for 4 channels",
                   one_node(node("QLookup", {"x", "t"}, {"y"}, "lookup_tables"), {tensor_f32("t", {3, 256}, std::vector<float>(768, 0.f))},
                            {value_info("x", 2, {1, 4, 2, 2})}),
                   {xq}, "3 tables for axis 1 of a rank-4 input"});
  cases.push_back({"QLookup with 255-entry tables",
                   one_node(node("QLookup", {"x", "t"}, {"y"}, "lookup_short"), {tensor_f32("t", {1, 255}, std::vector<float>(255, 0.f))},
                            {value_info("x", 2, {1, 4, 2, 2})}),
                   {xq}, "table must be [T, 256]"});
  cases.push_back({"QLookup on floats",
                   one_node(node("QLookup", {"x", "t"}, {"y"}, "lookup_float"), {tensor_f32("t", {1, 256}, std::vector<float>(256, 0.f))},
                            {value_info("x", 1, {1, 4, 2, 2})}),
                   {x4}, "QLookup of float32"});
  cases.push_back({"FusedConcat with a 2^62 factor",
                   one_node(node("FusedConcat", {"x", "b"}, {"y"}, "fcat_factor", {attr_ints("upsample", {1, 1, int64_t(1) << 62, 2})}), {},
                            {value_info("x", 1, {1, 4, 2, 2}), value_info("b", 1, {1, 4, 1, 1})}),
                   {x4, b22}, "upsampled 4611686018427387904x2 is not [1, C, 2, 2]"});
  cases.push_back({"FusedConcat with factors for one input of two",
                   one_node(node("FusedConcat", {"x", "b"}, {"y"}, "fcat_count", {attr_ints("upsample", {1, 1})}), {},
                            {value_info("x", 1, {1, 4, 2, 2}), value_info("b", 1, {1, 4, 1, 1})}),
                   {x4, b22}, "two factors per input"});
  // Zero-element inputs may claim any channel count: their sum overflows.
  const int64_t huge = int64_t(1) << 62;
  const Tensor empty_wide = Tensor::zeros(DType::f32, {0, huge, 2, 2});
  cases.push_back({"FusedConcat whose channels overflow",
                   one_node(node("FusedConcat", {"x", "z1", "z2"}, {"y"}, "fcat_channels", {attr_ints("upsample", {1, 1, 1, 1, 1, 1})}), {},
                            {value_info("x", 1, {0, 4, 2, 2}), value_info("z1", 1, {0, huge, 2, 2}), value_info("z2", 1, {0, huge, 2, 2})}),
                   {Tensor::zeros(DType::f32, {0, 4, 2, 2}), empty_wide, empty_wide}, "channels of input 2 overflow"});
  // fuse_quantize's uint8 output and fold_qdq's uint8-grid input, as an
  // artifact could carry them: on a float conv that is not depthwise, and
  // with a scale or zero point that is none.
  const Msg w44 = tensor_f32("w", {4, 4, 1, 1}, std::vector<float>(16, 0.5f)), w41 = tensor_f32("w", {4, 1, 1, 1}, {1, 1, 1, 1});
  cases.push_back({"a uint8 output on a dense conv",
                   one_node(node("Conv", {"x", "w"}, {"y"}, "qout_dense", {attr_float("out_scale", 0.1f)}), {w44}, {value_info("x", 1, {1, 4, 2, 2})}),
                   {x4}, "neither depthwise nor int8"});
  cases.push_back({"a uint8 output with scale 0",
                   one_node(node("Conv", {"x", "w"}, {"y"}, "qout_scale", {attr_int("group", 4), attr_float("out_scale", 0.f)}), {w41},
                            {value_info("x", 1, {1, 4, 2, 2})}),
                   {x4}, "out_scale / out_zero_point out of range"});
  const auto dw = [&](const char* name, std::vector<Msg> attrs) {
    attrs.push_back(attr_int("group", 4));
    return one_node(node("Conv", {"x", "w"}, {"y"}, name, attrs), {w41}, {value_info("x", 1, {1, 4, 2, 2})});
  };
  cases.push_back({"a uint8 output with zero point 256", dw("qout_zero", {attr_float("out_scale", 0.1f), attr_int("out_zero_point", 256)}), {x4},
                   "out_scale / out_zero_point out of range"});
  cases.push_back({"a uint8 output with a NaN scale", dw("qout_nan", {attr_float("out_scale", std::nanf(""))}), {x4},
                   "out_scale / out_zero_point out of range"});
  cases.push_back({"a depthwise input on a uint8 grid with zero point 300",
                   dw("qin_zero", {attr_float("out_scale", 0.1f), attr_float("x_scale", 0.1f), attr_int("x_zero_point", 300)}), {x4},
                   "x_scale / x_zero_point out of range"});
  cases.push_back({"a uint8 output of a FusedAdd with a NaN scale",
                   one_node(node("FusedAdd", {"x", "", "g"}, {"y"}, "fadd_qout", {attr_float("out_scale", std::nanf(""))}), {},
                            {value_info("x", 1, {1, 4, 2, 2}), value_info("g", 1, {1, 4, 1, 1})}),
                   {x4, Tensor::zeros(DType::f32, {1, 4, 1, 1})}, "out_scale / out_zero_point out of range"});
  // The compiler's FusedSqueezeExcite as an artifact could carry it:
  // weights that do not fit x or each other, attributes out of range.
  const Msg se_w1 = tensor_f32("w1", {2, 4, 1, 1}, std::vector<float>(8, 0.5f));
  const auto se = [&](const char* name, const Msg& w2, std::vector<Msg> attrs) {
    return one_node(node("FusedSqueezeExcite", {"x", "w1", "", "w2"}, {"y"}, name, attrs), {se_w1, w2}, {value_info("x", 1, {1, 4, 2, 2})});
  };
  const Msg se_w2 = tensor_f32("w2", {4, 2, 1, 1}, std::vector<float>(8, 0.5f));
  cases.push_back({"a FusedSqueezeExcite whose excite weights do not fit the squeeze",
                   se("se_w2", tensor_f32("w2", {4, 3, 1, 1}, std::vector<float>(12, 0.5f)), {}), {x4},
                   "excite weights float32 [4,3,1,1] is not float32 [4,2,1,1]"});
  cases.push_back({"a FusedSqueezeExcite with four activation arguments",
                   se("se_args", se_w2, {attr_string("squeeze_activation", "Relu"), attr_floats("squeeze_args", {0, 0, 1, 0})}), {x4},
                   "squeeze_args must hold alpha, beta, post_scale, post_shift, post_floor"});
  cases.push_back({"a FusedSqueezeExcite with an int8 grid of zero point 300",
                   se("se_zero", se_w2, {attr_float("excite_x_scale", 0.1f), attr_int("excite_x_zero_point", 300)}), {x4},
                   "excite_x_scale / excite_x_zero_point out of range"});
  cases.push_back({"a FusedSqueezeExcite with a NaN input scale",
                   se("se_nan", se_w2, {attr_float("squeeze_x_scale", std::nanf("")), attr_int("squeeze_x_zero_point", 0)}), {x4},
                   "squeeze_x_scale / squeeze_x_zero_point out of range"});
  cases.push_back({"a FusedSqueezeExcite without excite weights",
                   one_node(node("FusedSqueezeExcite", {"x", "w1"}, {"y"}, "se_missing"), {se_w1}, {value_info("x", 1, {1, 4, 2, 2})}), {x4},
                   "excite weights is missing"});
  cases.push_back({"a FusedSqueezeExcite on a 2-D input",
                   one_node(node("FusedSqueezeExcite", {"x", "w1", "", "w2"}, {"y"}, "se_rank"), {se_w1, se_w2}, {value_info("x", 1, {2, 3})}), {x2},
                   "FusedSqueezeExcite on anything but a 4-D f32 tensor"});
  // Zero-element inputs can claim any count beside the zero: 2^40 gates.
  cases.push_back({"a FusedSqueezeExcite with 2^40 empty planes",
                   one_node(node("FusedSqueezeExcite", {"x", "w1", "", "w2"}, {"y"}, "se_planes"),
                            {tensor_f32("w1", {0, int64_t(1) << 20, 1, 1}, {}), tensor_f32("w2", {int64_t(1) << 20, 0, 1, 1}, {})},
                            {value_info("x", 1, {int64_t(1) << 20, int64_t(1) << 20, 0, 1})}),
                   {Tensor::zeros(DType::f32, {int64_t(1) << 20, int64_t(1) << 20, 0, 1})}, "images x 1048576 channels are too many"});
  cases.push_back({"a FusedSqueezeExcite with an unknown activation",
                   se("se_act", se_w2, {attr_string("excite_activation", "Swoosh"), attr_floats("excite_args", {0, 0, 1, 0, 0})}), {x4},
                   "fused activation 'Swoosh'"});
  Tensor u8x = Tensor::zeros(DType::u8, {1, 4, 2, 2});
  cases.push_back({"a uint8 input to a float conv",
                   one_node(node("Conv", {"x", "w"}, {"y"}, "u8_float"), {w44}, {value_info("x", 2, {1, 4, 2, 2})}), {u8x}, "Conv on "});
  // fold_qdq's int8 MatMul attributes, as a file could carry them: scales
  // that do not fit B's columns, a B that is not 2-D, a zero point past uint8.
  const Msg b32 = tensor_f32("b", {3, 2}, std::vector<float>(6, 0.25f));
  const auto qmm = [&](const char* name, std::vector<Msg> attrs, const Msg& b) {
    return one_node(node("MatMul", {"x", "b"}, {"y"}, name, attrs), {b}, {value_info("x", 1, {2, 3})});
  };
  cases.push_back({"an int8 MatMul with 3 scales for 2 columns",
                   qmm("qmm_scales", {attr_float("x_scale", 0.1f), attr_floats("w_scales", {0.1f, 0.1f, 0.1f})}, b32), {x2},
                   "int8 attributes (x_scale, x_zero_point, w_scales) do not fit the node"});
  cases.push_back({"an int8 MatMul with a 3-D B",
                   qmm("qmm_rank", {attr_float("x_scale", 0.1f), attr_floats("w_scales", {0.1f, 0.1f})},
                       tensor_f32("b", {1, 3, 2}, std::vector<float>(6, 0.25f))),
                   {x2}, "needs A of rank >= 1 and a 2-D B"});
  cases.push_back({"an int8 MatMul with zero point 256",
                   qmm("qmm_zero", {attr_float("x_scale", 0.1f), attr_int("x_zero_point", 256), attr_floats("w_scales", {0.1f, 0.1f})}, b32),
                   {x2}, "do not fit the node"});
  cases.push_back({"an int8 MatMul with an infinite weight scale",
                   qmm("qmm_inf", {attr_float("x_scale", 0.1f), attr_floats("w_scales", {0.1f, INFINITY})}, b32), {x2}, "not finite"});
  cases.push_back({"an int8 MatMul whose A rows are not k long",
                   one_node(node("MatMul", {"x", "b"}, {"y"}, "qmm_inner", {attr_float("x_scale", 0.1f), attr_floats("w_scales", {0.1f, 0.1f})}),
                            {b32}, {value_info("x", 1, {3, 2})}),
                   {Tensor::zeros(DType::f32, {3, 2})}, "inner dimensions differ"});
  cases.push_back({"an int8 MatMul with a NaN input scale", qmm("qmm_xnan", {attr_float("x_scale", NAN), attr_floats("w_scales", {0.1f, 0.1f})}, b32),
                   {x2}, "do not fit the node"});
  cases.push_back({"an int8 MatMul with an empty B",
                   one_node(node("MatMul", {"x", "b"}, {"y"}, "qmm_empty", {attr_float("x_scale", 0.1f), attr_floats("w_scales", {0.1f, 0.1f})}),
                            {tensor_f32("b", {0, 2}, {})}, {value_info("x", 1, {2, 0})}),
                   {Tensor::zeros(DType::f32, {2, 0})}, "needs a non-empty B"});
  // fold_qdq's per-run input range (x_dynamic), as a file could carry it:
  // a NaN in the input (no range), and beside a static x_scale.
  const auto dyn = [&](const char* name, std::vector<Msg> attrs) {
    attrs.push_back(attr_int("x_dynamic", 1));
    attrs.push_back(attr_floats("w_scales", {0.1f, 0.1f, 0.1f, 0.1f}));
    return one_node(node("Conv", {"x", "w"}, {"y"}, name, attrs), {w44}, {value_info("x", 1, {1, 4, 2, 2})});
  };
  Tensor x4_nan = Tensor::zeros(DType::f32, {1, 4, 2, 2});
  x4_nan.data<float>()[5] = NAN;
  cases.push_back({"a per-run input range over a NaN", dyn("qdyn_nan", {}), {x4_nan}, "NaN or infinity at element 5"});
  cases.push_back({"a per-run input range beside x_scale", dyn("qdyn_both", {attr_float("x_scale", 0.1f)}), {x4}, "x_dynamic needs a float input and no x_scale"});
  // A conv with int8 weights (codes, as a compiled artifact stores them)
  // whose w_scales do not give one scale per output channel.
  cases.push_back({"int8 weight codes with 3 scales for 4 channels",
                   one_node(node("Conv", {"x", "w"}, {"y"}, "qcodes_scales", {attr_floats("w_scales", {0.1f, 0.1f, 0.1f})}),
                            {tensor_i8("w", {4, 4, 1, 1}, std::vector<int8_t>(16, 1))}, {value_info("x", 1, {1, 4, 2, 2})}),
                   {x4}, "int8 weights and w_scales do not fit the node"});
  const char* node_names[] = {"topk",   "split", "d2s", "pool", "tile", "pad", "resize", "expand", "silent", "ln", "fadd_factor", "fadd_gate",
                              "lookup_tables", "lookup_short", "lookup_float", "fcat_factor", "fcat_count", "fcat_channels", "qout_dense", "qout_scale",
                              "qout_zero", "qout_nan", "qin_zero", "fadd_qout", "se_w2", "se_args", "se_zero", "se_nan", "se_missing", "se_rank", "se_planes", "se_act", "u8_float", "qmm_scales", "qmm_rank", "qmm_zero", "qmm_inf",
                              "qmm_inner", "qmm_xnan", "qmm_empty", "qdyn_nan", "qdyn_both", "qcodes_scales"};
  ASSERT_EQ(cases.size(), std::size(node_names));
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string msg = run_error(cases[i].graph, cases[i].inputs);
    EXPECT_NE(msg.find(cases[i].expected), std::string::npos) << cases[i].what << ": got '" << msg << "'";
    EXPECT_NE(msg.find(std::string("'") + node_names[i] + "'"), std::string::npos) << cases[i].what << ": the node is not named in '" << msg << "'";
  }
}

// Clip is min(max(x, lo), hi), numpy's clip and ONNX Runtime's: where lo >
// hi every value is hi. The f32 path (the vector activation kernel) and the
// integer loop agree, and NaN stays NaN.
TEST(HostileOps, ClipWithMinAboveMaxGivesMax) {
  for (int elem : {1, 7}) {  // float, int64
    Msg g = one_node(node("Clip", {"x", "lo", "hi"}, {"y"}, "clip"),
                     elem == 1 ? std::vector<Msg>{tensor_f32("lo", {}, {5.f}), tensor_f32("hi", {}, {3.f})}
                               : std::vector<Msg>{tensor_i64("lo", {}, {5}), tensor_i64("hi", {}, {3})},
                     {value_info("x", elem, {37})});
    const std::string bytes = model(g, 13).bytes;
    ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "clip.onnx", "");
    runtime::Executor ex(m.opset(), {});
    Tensor x = Tensor::empty(elem == 1 ? DType::f32 : DType::i64, {37});
    for (int i = 0; i < 37; ++i) {
      if (elem == 1) x.data<float>()[i] = i == 36 ? NAN : float(i) - 10.f;
      else x.data<int64_t>()[i] = i - 10;
    }
    const std::vector<Tensor> y = ex.run_graph(*m.graph, {x}, nullptr);
    ASSERT_EQ(y.size(), 1u);
    for (int i = 0; i < 36; ++i) {
      const double v = elem == 1 ? double(y[0].data<float>()[i]) : double(y[0].data<int64_t>()[i]);
      EXPECT_EQ(v, 3.0) << "element " << i << " type " << elem;
    }
    if (elem == 1) {
      EXPECT_TRUE(std::isnan(y[0].data<float>()[36]));
    }
  }
}

// Clip before opset 11 takes its bounds as float attributes; on an integer
// tensor +-FLT_MAX must saturate to the type's range, not convert out of
// range (undefined; found by the onnx fuzzer, whose reproducer was lost, so
// this crafted model stands in for it; UBSan builds fail on the old code).
TEST(HostileOps, ClipFloatBoundsSaturateOnIntegers) {
  Msg g = one_node(node("Clip", {"x"}, {"y"}, "clip", {attr_float("min", -3.4e38f), attr_float("max", 3.4e38f)}), {}, {value_info("x", 7, {3})});
  const std::string bytes = model(g, 6).bytes;
  ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "clip.onnx", "");
  runtime::Executor ex(m.opset(), {});
  Tensor x = Tensor::empty(DType::i64, {3});
  const int64_t values[] = {INT64_MIN, -5, INT64_MAX};
  for (int i = 0; i < 3; ++i) x.data<int64_t>()[i] = values[i];
  const std::vector<Tensor> y = ex.run_graph(*m.graph, {x}, nullptr);
  ASSERT_EQ(y.size(), 1u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(y[0].data<int64_t>()[i], values[i]) << "element " << i;
}
