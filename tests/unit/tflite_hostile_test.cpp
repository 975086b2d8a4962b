// The TFLite ops' adapters against what a hostile file can put in a node:
// mismatched filter, bias and quantization, empty planes, declared types
// and shapes the kernel would not write, the ops reached from ONNX's
// domain. Each is a clear error naming the node, never a crash or a read
// past a tensor (the ASan and UBSan presets run these too).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tfl_node_runner.h"

namespace pareto {
namespace {

NodeSpec conv(int64_t filter_in_c, int64_t bias_len) {
  NodeSpec s;
  s.op = "TflConv2D";
  s.inputs = {Tensor::zeros(DType::u8, {1, 4, 4, 3}), Tensor::zeros(DType::u8, {2, 3, 3, filter_in_c}), Tensor::zeros(DType::i32, {bias_len})};
  s.out_shape = {1, 4, 4, 2};
  for (const auto& a : quant("in0", {0.1f}, {128})) s.attrs.push_back(a);
  for (const auto& a : quant("in1", {0.01f}, {120})) s.attrs.push_back(a);
  for (const auto& a : quant("out0", {0.2f}, {100})) s.attrs.push_back(a);
  s.attrs.push_back(ir::attr_string("padding", "SAME"));
  return s;
}

TEST(TfliteHostile, ConvolutionShapesAndParametersAreChecked) {
  EXPECT_EQ(run_node(conv(3, 2)), "");
  EXPECT_NE(run_node(conv(4, 2)).find("input channels"), std::string::npos);
  EXPECT_NE(run_node(conv(3, 5)).find("bias"), std::string::npos);
  NodeSpec no_zero = conv(3, 2);
  no_zero.attrs.push_back(ir::attr_ints("in1_zero", {}));
  EXPECT_NE(run_node(no_zero).find("zero points"), std::string::npos);
  NodeSpec nan_scale = conv(3, 2);
  nan_scale.attrs.push_back(ir::attr_floats("out0_scale", {std::numeric_limits<float>::quiet_NaN()}));
  EXPECT_NE(run_node(nan_scale).find("scale"), std::string::npos);
  NodeSpec tiny_scale = conv(3, 2);  // 6 / scale would pass int32 with RELU6
  tiny_scale.attrs.push_back(ir::attr_floats("out0_scale", {1e-19f}));
  tiny_scale.attrs.push_back(ir::attr_string("activation", "RELU6"));
  EXPECT_EQ(run_node(tiny_scale), "");
  NodeSpec wrong_shape = conv(3, 2);
  wrong_shape.out_shape = {1, 4, 4, 3};
  EXPECT_NE(run_node(wrong_shape).find("declares"), std::string::npos);
  NodeSpec wrong_type = conv(3, 2);
  wrong_type.out_dtype = DType::f32;
  EXPECT_NE(run_node(wrong_type).find("declares"), std::string::npos);
  NodeSpec per_channel_axis = conv(3, 2);  // two scales, but along the wrong axis
  per_channel_axis.attrs.push_back(ir::attr_floats("in1_scale", {0.01f, 0.02f}));
  per_channel_axis.attrs.push_back(ir::attr_ints("in1_zero", {0, 0}));
  per_channel_axis.attrs.push_back(ir::attr_int("in1_axis", 3));
  EXPECT_NE(run_node(per_channel_axis).find("axis"), std::string::npos);
}

// An int8 LSTM of 2 cells over 3 steps of 2 inputs, laid out as TFLite lists
// its 24 inputs (absent ones undefined).
NodeSpec lstm() {
  NodeSpec s;
  s.op = "TflUnidirectionalLstm";
  s.inputs.resize(24);
  s.inputs[0] = Tensor::zeros(DType::i8, {1, 3, 2});
  for (int k = 1; k <= 8; ++k) s.inputs[size_t(k)] = Tensor::zeros(DType::i8, {2, 2});
  for (int k = 12; k <= 15; ++k) s.inputs[size_t(k)] = Tensor::zeros(DType::i32, {2});
  s.inputs[18] = Tensor::zeros(DType::i8, {1, 2});
  s.inputs[19] = Tensor::zeros(DType::i16, {1, 2});
  s.out_shape = {1, 3, 2};
  s.out_dtype = DType::i8;
  for (int k : {0, 18}) for (const auto& a : quant("in" + std::to_string(k), {0.01f}, {-1})) s.attrs.push_back(a);
  for (int k = 1; k <= 8; ++k) for (const auto& a : quant("in" + std::to_string(k), {0.005f}, {0})) s.attrs.push_back(a);
  for (const auto& a : quant("in19", {1.0f / 4096}, {0})) s.attrs.push_back(a);
  s.attrs.push_back(ir::attr_floats("hidden_scale", {0.01f}));
  s.attrs.push_back(ir::attr_ints("hidden_zero", {-1}));
  s.attrs.push_back(ir::attr_string("activation", "TANH"));
  s.attrs.push_back(ir::attr_float("cell_clip", 1e30f));  // clipped to the int16 range, not converted out of it
  return s;
}

TEST(TfliteHostile, LstmShapesScalesAndVariantsAreChecked) {
  EXPECT_EQ(run_node(lstm()), "");
  auto with = [](std::vector<ir::Attribute> extra) {
    NodeSpec s = lstm();
    for (auto& a : extra) s.attrs.push_back(std::move(a));
    return run_node(s);
  };
  EXPECT_NE(with(quant("in19", {1.0f / (1 << 20)}, {0})).find("cell state scale"), std::string::npos) << "tanh would read -5 integer bits";
  EXPECT_NE(with(quant("in19", {1.0f / 256}, {0})).find("cell state scale"), std::string::npos);
  EXPECT_NE(with(quant("in19", {0.0003f}, {0})).find("power of two"), std::string::npos);
  EXPECT_NE(with(quant("in3", {0.005f}, {7})).find("zero point"), std::string::npos);
  EXPECT_NE(with(quant("in0", {std::numeric_limits<float>::quiet_NaN()}, {0})).find("scale"), std::string::npos);
  EXPECT_NE(with({ir::attr_floats("hidden_scale", {})}).find("hidden"), std::string::npos);
  EXPECT_NE(with({ir::attr_ints("hidden_zero", {300})}).find("hidden"), std::string::npos);
  EXPECT_NE(with({ir::attr_string("activation", "activation code 6")}).find("TANH"), std::string::npos);
  NodeSpec s = lstm();
  s.inputs[6] = Tensor::zeros(DType::i8, {2, 3});  // a recurrent matrix of the wrong width
  EXPECT_NE(run_node(s).find("expected int8 [2,2]"), std::string::npos) << run_node(s);
  s = lstm();
  s.inputs[19] = Tensor::zeros(DType::i8, {1, 2});  // the cell state must be int16
  EXPECT_NE(run_node(s).find("expected int16"), std::string::npos) << run_node(s);
  s = lstm();
  s.inputs[10] = Tensor::zeros(DType::i16, {2});  // a peephole
  EXPECT_NE(run_node(s).find("peephole"), std::string::npos);
  s = lstm();
  s.inputs[1] = Tensor();  // CIFG: no input gate
  EXPECT_NE(run_node(s).find("CIFG"), std::string::npos);
  s = lstm();
  s.out_shape = {1, 2, 3};
  EXPECT_NE(run_node(s).find("declares"), std::string::npos);
  s = lstm();
  s.inputs[0] = Tensor::zeros(DType::u8, {1, 3, 2});
  EXPECT_NE(run_node(s).find("int8 only"), std::string::npos);
  s = lstm();
  s.out_dtype = DType::u8;
  EXPECT_NE(run_node(s).find("declares another output type"), std::string::npos);
  // A 1e-20 hidden scale saturates the multiplier: the output clamps, no overflow (UBSan runs this).
  EXPECT_EQ(with({ir::attr_floats("hidden_scale", {1e-20f}), ir::attr_ints("hidden_zero", {100})}), "");
  // States left out (TFLite variable tensors, which the loader does not
  // materialize) start at the zero point: the same output as given states
  // holding it.
  s = lstm();
  s.inputs[0] = Tensor::from_vector<int8_t>({5, -7, 100, 3, -128, 127}, {1, 3, 2});
  for (int k = 1; k <= 8; ++k) s.inputs[size_t(k)] = Tensor::from_vector<int8_t>({10, -20, 30, 40}, {2, 2});
  s.inputs[18] = Tensor::from_vector<int8_t>({-1, -1}, {1, 2});
  Tensor given, left_out;
  ASSERT_EQ(run_node(s, "pareto", &given), "");
  s.inputs[18] = Tensor(), s.inputs[19] = Tensor();
  ASSERT_EQ(run_node(s, "pareto", &left_out), "");
  ASSERT_EQ(given.numel(), 6);
  EXPECT_TRUE(std::equal(given.data<int8_t>(), given.data<int8_t>() + 6, left_out.data<int8_t>()));
  const int8_t first = given.data<int8_t>()[0];
  EXPECT_FALSE(std::all_of(given.data<int8_t>(), given.data<int8_t>() + 6, [&](int8_t v) { return v == first; })) << "the outputs vary";
}

TEST(TfliteHostile, EmptyPlanesAndHugeSoftmaxRowsAreDefined) {
  NodeSpec mean;
  mean.op = "TflMean";
  mean.inputs = {Tensor::zeros(DType::i8, {1, 0, 4, 8}), Tensor::from_vector<int32_t>({1, 2}, {2})};
  mean.out_shape = {1, 8};
  mean.out_dtype = DType::i8;
  for (const auto& a : quant("in0", {0.1f}, {0})) mean.attrs.push_back(a);
  for (const auto& a : quant("out0", {0.1f}, {0})) mean.attrs.push_back(a);
  EXPECT_NE(run_node(mean).find("empty"), std::string::npos);
  // 5000 equal logits: the sum of exponentials passes int32's range and the
  // final shift passes 31 bits; the result is defined (each 1/5000 rounds to 0).
  NodeSpec softmax;
  softmax.op = "TflSoftmax";
  softmax.inputs = {Tensor::zeros(DType::u8, {1, 5000})};
  softmax.out_shape = {1, 5000};
  for (const auto& a : quant("in0", {0.1f}, {0})) softmax.attrs.push_back(a);
  for (const auto& a : quant("out0", {1.0f / 256}, {0})) softmax.attrs.push_back(a);
  EXPECT_EQ(run_node(softmax), "");
  softmax.attrs.push_back(ir::attr_float("beta", std::numeric_limits<float>::infinity()));
  EXPECT_NE(run_node(softmax).find("beta"), std::string::npos);
}

TEST(TfliteHostile, TheOpsAreNotReachableFromOnnxDomains) {
  NodeSpec add;
  add.op = "TflAdd";
  add.inputs = {Tensor::zeros(DType::u8, {4}), Tensor::zeros(DType::u8, {4})};
  add.out_shape = {4};
  for (const auto& a : quant("in0", {0.1f}, {0})) add.attrs.push_back(a);
  for (const auto& a : quant("in1", {0.1f}, {0})) add.attrs.push_back(a);
  for (const auto& a : quant("out0", {0.1f}, {0})) add.attrs.push_back(a);
  EXPECT_EQ(run_node(add), "");
  EXPECT_NE(run_node(add, "").find("unsupported"), std::string::npos);
  NodeSpec shapes = add;
  shapes.inputs[1] = Tensor::zeros(DType::u8, {3});
  EXPECT_NE(run_node(shapes).find("broadcast"), std::string::npos);
}

TEST(TfliteHostile, DequantizeChecksWhatItDeclares) {
  NodeSpec d;
  d.op = "TflDequantize";
  d.inputs = {Tensor::zeros(DType::u8, {2, 3})};
  d.out_shape = {2, 3};
  d.out_dtype = DType::f32;
  for (const auto& a : quant("in0", {0.5f}, {3})) d.attrs.push_back(a);
  EXPECT_EQ(run_node(d), "");
  d.out_dtype = DType::u8;  // a reader of the declared type would dequantize twice
  EXPECT_NE(run_node(d).find("declares"), std::string::npos);
}

TEST(TfliteHostile, ResizeConcatenationAndArgMaxCheckTheirInputs) {
  NodeSpec resize;
  resize.op = "TflResizeBilinear";
  resize.inputs = {Tensor::zeros(DType::u8, {1, 3, 5, 2}), Tensor::from_vector<int32_t>({6, 10}, {2})};
  resize.out_shape = {1, 6, 10, 2};
  for (const auto& a : quant("in0", {0.1f}, {3})) resize.attrs.push_back(a);
  for (const auto& a : quant("out0", {0.1f}, {3})) resize.attrs.push_back(a);
  EXPECT_EQ(run_node(resize), "");
  NodeSpec bad_size = resize;
  bad_size.inputs[1] = Tensor::from_vector<int32_t>({6, 0}, {2});
  EXPECT_NE(run_node(bad_size).find("size"), std::string::npos);
  NodeSpec concat;
  concat.op = "TflConcatenation";
  concat.inputs = {Tensor::zeros(DType::u8, {1, 2, 3}), Tensor::zeros(DType::u8, {1, 4, 3})};
  concat.out_shape = {1, 6, 3};
  concat.attrs = {ir::attr_int("axis", 1)};
  for (const char* k : {"in0", "in1", "out0"})
    for (const auto& a : quant(k, {0.1f}, {3})) concat.attrs.push_back(a);
  EXPECT_EQ(run_node(concat), "");
  NodeSpec ragged = concat;
  ragged.inputs[1] = Tensor::zeros(DType::u8, {1, 4, 2});
  EXPECT_NE(run_node(ragged).find("differs"), std::string::npos);
  NodeSpec far_axis = concat;
  far_axis.attrs.push_back(ir::attr_int("axis", 7));
  EXPECT_NE(run_node(far_axis).find("axis"), std::string::npos);
  NodeSpec argmax;
  argmax.op = "TflArgMax";
  argmax.inputs = {Tensor::zeros(DType::u8, {2, 5}), Tensor::from_vector<int32_t>({1}, {1})};
  argmax.out_shape = {2};
  argmax.out_dtype = DType::i64;
  EXPECT_EQ(run_node(argmax), "");
  NodeSpec first_axis = argmax;  // any axis runs; its output shape must be the declared one
  first_axis.inputs[1] = Tensor::from_vector<int32_t>({0}, {1});
  EXPECT_NE(run_node(first_axis).find("declares"), std::string::npos);
  first_axis.out_shape = {5};
  EXPECT_EQ(run_node(first_axis), "");
  for (int32_t bad : {2, -3}) {
    NodeSpec outside = argmax;
    outside.inputs[1] = Tensor::from_vector<int32_t>({bad}, {1});
    EXPECT_NE(run_node(outside).find("axis"), std::string::npos) << bad;
  }
  NodeSpec two_axes = argmax;
  two_axes.inputs[1] = Tensor::from_vector<int32_t>({0, 1}, {2});
  EXPECT_NE(run_node(two_axes).find("axis"), std::string::npos);
}

// SUB and MUL through their adapters (quantization read from the node,
// broadcasting [2, 3] by [3]) against real arithmetic, within one step.
TEST(TfliteHostile, SubAndMulAdaptersMatchRealArithmetic) {
  std::vector<int8_t> av = {-128, -5, 0, 7, 90, 127}, bv = {-100, 3, 60};
  for (const char* op : {"TflSub", "TflMul"}) {
    NodeSpec s;
    s.op = op;
    s.inputs = {Tensor::from_vector<int8_t>(av, {2, 3}), Tensor::from_vector<int8_t>(bv, {3})};
    s.out_shape = {2, 3};
    s.out_dtype = DType::i8;
    for (const auto& a : quant("in0", {0.05f}, {4})) s.attrs.push_back(a);
    for (const auto& a : quant("in1", {0.02f}, {-3})) s.attrs.push_back(a);
    for (const auto& a : quant("out0", {0.07f}, {-2})) s.attrs.push_back(a);
    Tensor y;
    ASSERT_EQ(run_node(s, "pareto", &y), "") << op;
    for (int64_t i = 0; i < 6; ++i) {
      const double x = 0.05 * (av[size_t(i)] - 4), z = 0.02 * (bv[size_t(i % 3)] + 3);
      const double real = std::string(op) == "TflSub" ? x - z : x * z;
      EXPECT_LE(std::abs(y.data<int8_t>()[i] - std::clamp(std::round(real / 0.07) - 2, -128.0, 127.0)), 1.0) << op << " element " << i;
    }
  }
}

TEST(TfliteHostile, FloorDivRoundsDownAndRefusesZero) {
  NodeSpec fd;
  fd.op = "TflFloorDiv";
  fd.inputs = {Tensor::from_vector<int32_t>({7, -7, 7, -7, 0, -2147483647 - 1}, {6}), Tensor::from_vector<int32_t>({2, 2, -2, -2, 3, 3}, {6})};
  fd.out_shape = {6};
  fd.out_dtype = DType::i32;
  Tensor y;
  ASSERT_EQ(run_node(fd, "pareto", &y), "");
  // floor(7/2) = 3, floor(-7/2) = -4, floor(7/-2) = -4, floor(-7/-2) = 3, 0, floor(MIN/3) = -715827883 (no overflow on the way).
  EXPECT_EQ(y.to_int_vector(), (std::vector<int64_t>{3, -4, -4, 3, 0, -715827883}));
  NodeSpec zero = fd;
  zero.inputs[1] = Tensor::from_vector<int32_t>({2, 2, 0, 1, 1, 1}, {6});
  EXPECT_NE(run_node(zero).find("division by zero"), std::string::npos);
  NodeSpec overflow = fd;
  overflow.inputs[1] = Tensor::from_vector<int32_t>({1, 1, 1, 1, 1, -1}, {6});
  EXPECT_NE(run_node(overflow).find("overflows"), std::string::npos);
  NodeSpec quantized = fd;
  quantized.inputs = {Tensor::zeros(DType::u8, {2}), Tensor::zeros(DType::u8, {2})};
  quantized.out_shape = {2};
  quantized.out_dtype = DType::u8;
  EXPECT_NE(run_node(quantized).find("FLOOR_DIV on"), std::string::npos);
}

}  // namespace
}  // namespace pareto
