// Float TFLite operators lowered to ONNX operators (frontend/tflite/float_ops):
// each lowering run by the executor against a direct NHWC loop written here
// from TFLite's definitions (SAME padding puts the odd pixel at the end,
// average pools count only the pixels inside the input, depthwise filters are
// [1, KH, KW, C * multiplier]). Odd sizes, strides, dilation, a multiplier
// of 2, fused activations. Plus the refusals a hostile file can reach.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "frontend/tflite/float_ops.h"
#include "pareto/error.h"
#include "runtime/executor.h"

namespace pareto {
namespace {

Tensor random_tensor(Shape shape, uint32_t seed) {
  Tensor t = Tensor::empty(DType::f32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// Lowers one Tfl node (input 0 the graph input, the rest constants; any number of
// outputs, for UNPACK) and runs it.
std::vector<Tensor> lower_and_run_all(int32_t code, const std::vector<Tensor>& inputs, const std::vector<Shape>& out_shapes, DType out_type,
                                      const std::vector<ir::Attribute>& attrs) {
  ir::Graph g;
  ir::Node n;
  n.name = "op";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int v = i == 0 ? g.add_value("x") : g.add_constant("c", inputs[i]);
    g.values[size_t(v)].type = {inputs[i].dtype(), true, inputs[i].shape(), std::vector<std::string>(inputs[i].shape().size())};
    if (i == 0) g.inputs.push_back(v);
    n.inputs.push_back(v);
  }
  for (const Shape& s : out_shapes) {
    const int out = g.add_value(g.unique_name("y"));
    g.values[size_t(out)].type = {out_type, true, s, std::vector<std::string>(s.size())};
    n.outputs.push_back(out);
    g.outputs.push_back(out);
  }
  for (const ir::Attribute& a : attrs) n.set_attr(a);
  tflite::lower_operator(g, code, n, "test op");
  runtime::check_supported(g);
  runtime::Executor ex(13, runtime::ExecOptions{});
  return ex.run_graph(g, {inputs[0]}, nullptr);
}

// One float output.
Tensor lower_and_run(int32_t code, const std::vector<Tensor>& inputs, const Shape& out_shape, const std::vector<ir::Attribute>& attrs) {
  return lower_and_run_all(code, inputs, {out_shape}, DType::f32, attrs).at(0);
}

int64_t same_out(int64_t in, int64_t stride) { return (in + stride - 1) / stride; }
int64_t pad_before(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dilation) {
  return std::max<int64_t>(0, ((out - 1) * stride + (k - 1) * dilation + 1 - in) / 2);
}

// TFLite's float conv / depthwise conv, SAME padding, NHWC.
Tensor conv_reference(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t dil, bool depthwise, float lo, float hi) {
  const int64_t n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3), kh = w.dim(1), kw = w.dim(2);
  const int64_t oc = depthwise ? w.dim(3) : w.dim(0), mult = depthwise ? oc / c : 1;
  const int64_t oh = same_out(h, stride), ow = same_out(wd, stride), ph = pad_before(h, oh, kh, stride, dil), pw = pad_before(wd, ow, kw, stride, dil);
  Tensor y = Tensor::empty(DType::f32, {n, oh, ow, oc});
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t o = 0; o < oc; ++o) {
          double s = b.data<float>()[o];
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t iy = oy * stride - ph + ky * dil, ix = ox * stride - pw + kx * dil;
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              const float* px = x.data<float>() + ((b0 * h + iy) * wd + ix) * c;
              if (depthwise) s += double(px[o / mult]) * w.data<float>()[(ky * kw + kx) * oc + o];
              else for (int64_t i = 0; i < c; ++i) s += double(px[i]) * w.data<float>()[((o * kh + ky) * kw + kx) * c + i];
            }
          y.data<float>()[((b0 * oh + oy) * ow + ox) * oc + o] = std::clamp(float(s), lo, hi);
        }
  return y;
}

void expect_near(const Tensor& want, const Tensor& got) {
  ASSERT_EQ(want.shape(), got.shape());
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_NEAR(want.data<float>()[i], got.data<float>()[i], 1e-4f) << "element " << i;
}

std::vector<ir::Attribute> conv_attrs(int64_t stride, int64_t dil, const char* activation) {
  return {ir::attr_string("padding", "SAME"), ir::attr_ints("strides", {stride, stride}), ir::attr_ints("dilations", {dil, dil}),
          ir::attr_string("activation", activation)};
}

}  // namespace

TEST(TfliteFloat, ConvMatchesTfliteDefinition) {
  for (auto [stride, dil, act] : {std::tuple{1, 1, "NONE"}, {2, 1, "RELU6"}, {1, 2, "RELU"}, {2, 2, "RELU_N1_TO_1"}}) {
    const Tensor x = random_tensor({2, 7, 9, 3}, 1), w = random_tensor({5, 3, 3, 3}, 2), b = random_tensor({5}, 3);
    const float lo = std::string(act) == "NONE" ? -1e30f : std::string(act) == "RELU_N1_TO_1" ? -1.f : 0.f;
    const float hi = std::string(act) == "RELU6" ? 6.f : std::string(act) == "RELU_N1_TO_1" ? 1.f : 1e30f;
    const Tensor want = conv_reference(x, w, b, stride, dil, false, lo, hi);
    expect_near(want, lower_and_run(3, {x, w, b}, want.shape(), conv_attrs(stride, dil, act)));
  }
}

TEST(TfliteFloat, DepthwiseWithMultiplierMatchesTfliteDefinition) {
  for (auto [stride, dil] : {std::pair{1, 1}, {2, 1}, {1, 3}}) {
    const Tensor x = random_tensor({1, 8, 5, 3}, 4), w = random_tensor({1, 3, 3, 6}, 5), b = random_tensor({6}, 6);
    const Tensor want = conv_reference(x, w, b, stride, dil, true, -1e30f, 1e30f);
    auto attrs = conv_attrs(stride, dil, "NONE");
    attrs.push_back(ir::attr_int("depth_multiplier", 2));
    expect_near(want, lower_and_run(4, {x, w, b}, want.shape(), attrs));
  }
}

TEST(TfliteFloat, AveragePoolCountsOnlyPixelsInside) {
  const Tensor x = random_tensor({1, 5, 6, 2}, 7);
  const int64_t oh = 3, ow = 3;  // 3x3 window, stride 2, SAME
  Tensor want = Tensor::empty(DType::f32, {1, oh, ow, 2});
  for (int64_t oy = 0; oy < oh; ++oy)
    for (int64_t ox = 0; ox < ow; ++ox)
      for (int64_t c = 0; c < 2; ++c) {
        double s = 0;
        int count = 0;
        for (int64_t ky = 0; ky < 3; ++ky)
          for (int64_t kx = 0; kx < 3; ++kx) {
            const int64_t iy = oy * 2 - pad_before(5, oh, 3, 2, 1) + ky, ix = ox * 2 - pad_before(6, ow, 3, 2, 1) + kx;
            if (iy < 0 || iy >= 5 || ix < 0 || ix >= 6) continue;
            s += x.data<float>()[(iy * 6 + ix) * 2 + c], ++count;
          }
        want.data<float>()[(oy * ow + ox) * 2 + c] = float(s / count);
      }
  expect_near(want, lower_and_run(1, {x}, want.shape(),
                                  {ir::attr_string("padding", "SAME"), ir::attr_ints("strides", {2, 2}), ir::attr_ints("kernel", {3, 3})}));
}

TEST(TfliteFloat, FullyConnectedFlattensLeadingDimensions) {
  const Tensor x = random_tensor({2, 3, 5}, 8), w = random_tensor({4, 5}, 9), b = random_tensor({4}, 10);
  Tensor want = Tensor::empty(DType::f32, {6, 4});
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t o = 0; o < 4; ++o) {
      double s = b.data<float>()[o];
      for (int64_t k = 0; k < 5; ++k) s += double(x.data<float>()[r * 5 + k]) * w.data<float>()[o * 5 + k];
      want.data<float>()[r * 4 + o] = std::max(0.f, float(s));
    }
  expect_near(want, lower_and_run(9, {x, w, b}, {6, 4}, {ir::attr_string("activation", "RELU")}));
}

TEST(TfliteFloat, BatchMatMulPadAndMean) {
  const Tensor a = random_tensor({2, 3, 4}, 11), bt = random_tensor({2, 5, 4}, 12);
  Tensor want = Tensor::empty(DType::f32, {2, 3, 5});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        double s = 0;
        for (int64_t k = 0; k < 4; ++k) s += double(a.data<float>()[(n * 3 + i) * 4 + k]) * bt.data<float>()[(n * 5 + j) * 4 + k];
        want.data<float>()[(n * 3 + i) * 5 + j] = float(s);
      }
  expect_near(want, lower_and_run(126, {a, bt}, {2, 3, 5}, {ir::attr_int("adj_x", 0), ir::attr_int("adj_y", 1)}));

  const Tensor x = random_tensor({2, 3}, 13);
  const Tensor padded = lower_and_run(34, {x, Tensor::from_vector<int32_t>({1, 0, 0, 2}, {2, 2})}, {3, 5}, {});
  EXPECT_EQ(padded.shape(), (Shape{3, 5}));
  EXPECT_EQ(padded.data<float>()[0], 0.f);
  EXPECT_EQ(padded.data<float>()[5], x.data<float>()[0]);
  EXPECT_EQ(padded.data<float>()[9], 0.f);

  const Tensor mean = lower_and_run(40, {x, Tensor::from_vector<int32_t>({1}, {1})}, {2, 1}, {ir::attr_int("keep_dims", 1)});
  EXPECT_NEAR(mean.data<float>()[1], (x.data<float>()[3] + x.data<float>()[4] + x.data<float>()[5]) / 3, 1e-6f);
}

TEST(TfliteFloat, DataMovementAndCastLowerings) {
  // UNPACK along axis 1 of [2, 3, 2] int8: three [2, 2] outputs.
  Tensor x = Tensor::empty(DType::i8, {2, 3, 2});
  for (int64_t i = 0; i < 12; ++i) x.data<int8_t>()[i] = int8_t(i - 6);
  auto parts = lower_and_run_all(88, {x}, {{2, 2}, {2, 2}, {2, 2}}, DType::i8, {ir::attr_int("axis", 1)});
  ASSERT_EQ(parts.size(), 3u);
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b) EXPECT_EQ(parts[size_t(k)].data<int8_t>()[a * 2 + b], x.data<int8_t>()[(a * 3 + k) * 2 + b]);
  // PACK of two [2, 2] along a new last axis (-1): [2, 2, 2].
  Tensor p0 = Tensor::from_vector<int32_t>({1, 2, 3, 4}, {2, 2}), p1 = Tensor::from_vector<int32_t>({5, 6, 7, 8}, {2, 2});
  auto packed = lower_and_run_all(83, {p0, p1}, {{2, 2, 2}}, DType::i32, {ir::attr_int("axis", -1)});
  EXPECT_EQ(packed[0].to_int_vector(), (std::vector<int64_t>{1, 5, 2, 6, 3, 7, 4, 8}));
  // GATHER_ND with int32 indices: rows 2 and 0 of a [3, 2].
  Tensor data = Tensor::from_vector<float>({0, 1, 10, 11, 20, 21}, {3, 2});
  auto rows = lower_and_run_all(107, {data, Tensor::from_vector<int32_t>({2, 0}, {2, 1})}, {{2, 2}}, DType::f32, {});
  EXPECT_EQ(rows[0].data<float>()[0], 20.f);
  EXPECT_EQ(rows[0].data<float>()[3], 1.f);
  // CAST uint8 -> float32 and int32 -> float32.
  auto cast = lower_and_run_all(53, {Tensor::from_vector<uint8_t>({0, 255, 7}, {3})}, {{3}}, DType::f32, {});
  EXPECT_EQ(cast[0].data<float>()[1], 255.f);
  // Quantized data movement must not requantize: different scales are refused.
  try {
    lower_and_run_all(83, {p0, p1}, {{2, 2, 2}}, DType::i32,
                      {ir::attr_floats("in0_scale", {0.5f}), ir::attr_ints("in0_zero", {0}), ir::attr_floats("in1_scale", {0.25f}),
                       ir::attr_ints("in1_zero", {0}), ir::attr_floats("out0_scale", {0.5f}), ir::attr_ints("out0_zero", {0})});
    ADD_FAILURE() << "PACK of differently quantized inputs ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("requantize"), std::string::npos) << e.what();
  }
}

TEST(TfliteFloat, HostileOperatorsAreRefusedNamingThem) {
  auto error_of = [](int32_t code, const std::vector<Tensor>& inputs, const Shape& out, const std::vector<ir::Attribute>& attrs) {
    try {
      lower_and_run(code, inputs, out, attrs);
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  };
  const Tensor x = random_tensor({1, 4, 4, 3}, 14);
  // A filter for 2 channels on a 3-channel input; a depthwise filter whose channels do not divide.
  EXPECT_NE(error_of(3, {x, random_tensor({2, 3, 3, 2}, 1)}, {1, 4, 4, 2}, conv_attrs(1, 1, "NONE")).find("test op"), std::string::npos);
  EXPECT_NE(error_of(4, {x, random_tensor({1, 3, 3, 4}, 1)}, {1, 4, 4, 4}, conv_attrs(1, 1, "NONE")).find("depthwise filter"), std::string::npos);
  // Paddings of the wrong count, negative padding, a float permutation.
  EXPECT_NE(error_of(34, {x, Tensor::from_vector<int32_t>({1, 1}, {1, 2})}, {1, 4, 4, 3}, {}).find("paddings"), std::string::npos);
  EXPECT_NE(error_of(34, {x, Tensor::from_vector<int32_t>({0, 0, -1, 0, 0, 0, 0, 0}, {4, 2})}, {1, 4, 4, 3}, {}).find("negative"), std::string::npos);
  EXPECT_NE(error_of(39, {x, random_tensor({4}, 2)}, {1, 4, 4, 3}, {}).find("int32 or int64"), std::string::npos);
  // A permutation that is no permutation is the Transpose kernel's to refuse.
  EXPECT_FALSE(error_of(39, {x, Tensor::from_vector<int32_t>({0, 0, 9, 1}, {4})}, {1, 4, 4, 3}, {}).empty());
}

}  // namespace pareto
