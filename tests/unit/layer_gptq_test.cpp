// GPTQ rounding of int8 CNN weights (quant/layer_gptq.h): the Hessian of a
// conv's sampled im2col rows, the codes it chooses, and `pareto quantize
// --weights gptq` on a small model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "frontend/onnx/onnx_loader.h"
#include "kernel_test_util.h"
#include "proto_builder.h"
#include "quant/layer_gptq.h"
#include "quant/onnx_gptq.h"
#include "quant/onnx_qdq.h"
#include "runtime/executor.h"

using namespace pareto;
namespace pb = pareto::test;

namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float sd = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// H of the conv's input rows computed the plain way: pad the input, then
// for every output pixel and group read each tap of the padded planes.
std::vector<std::vector<double>> reference_hessian(const std::vector<float>& x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups,
                                                   int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t pt,
                                                   int64_t pl, int64_t pb_, int64_t pr) {
  const int64_t hp = h + pt + pb_, wp = w + pl + pr, cg = c / groups, cols = cg * kh * kw;
  std::vector<float> padded(size_t(n * c * hp * wp), 0.f);
  for (int64_t i = 0; i < n * c; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) padded[size_t((i * hp + y + pt) * wp + xx + pl)] = x[size_t((i * h + y) * w + xx)];
  const int64_t oh = (hp - (kh - 1) * dh - 1) / sh + 1, ow = (wp - (kw - 1) * dw - 1) / sw + 1;
  std::vector<std::vector<double>> hs(size_t(groups), std::vector<double>(size_t(cols * cols), 0.0));
  std::vector<double> row(static_cast<size_t>(cols));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t k = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx)
                row[size_t(k++)] = padded[size_t((((b * c) + g * cg + ci) * hp + oy * sh + ky * dh) * wp + ox * sw + kx * dw)];
          for (int64_t i = 0; i < cols; ++i)
            for (int64_t j = 0; j < cols; ++j) hs[size_t(g)][size_t(i * cols + j)] += row[size_t(i)] * row[size_t(j)];
        }
  return hs;
}

void expect_near_all(const double* got, const std::vector<double>& want) {
  ASSERT_NE(got, nullptr);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-9 * (1 + std::abs(want[i]))) << "entry " << i;
}

ir::Node conv_node(std::vector<ir::Attribute> attrs) {
  ir::Node n;
  n.op_type = "Conv";
  n.name = "conv";
  n.attrs = std::move(attrs);
  return n;
}

}  // namespace

TEST(LayerGptq, HessianIsTheSumOfIm2colRows) {
  // Grouped, strided, dilated, padded unevenly: [2, 6, 7, 8] input, 2 groups of 3 channels, 3x2 kernel.
  const std::vector<float> x = gaussian(2 * 6 * 7 * 8, 1);
  const Tensor xt = Tensor::from_vector<float>(x, {2, 6, 7, 8});
  const ir::Node n = conv_node({ir::attr_int("group", 2), ir::attr_ints("strides", {2, 1}), ir::attr_ints("dilations", {1, 2}),
                                ir::attr_ints("pads", {1, 0, 1, 1})});
  quant::LayerHessian h = quant::LayerHessian::for_conv(n, {4, 3, 3, 2});
  ASSERT_EQ(h.unsupported(), "");
  ASSERT_EQ(h.cols(), 18);
  h.add(xt, 1 << 20, 7);
  const auto want = reference_hessian(x, 2, 6, 7, 8, 2, 3, 2, 2, 1, 1, 2, 1, 0, 1, 1);
  EXPECT_EQ(h.rows_seen(), 2 * 4 * 7);  // out 4 x 7 per image
  for (int g = 0; g < 2; ++g) expect_near_all(h.hessian(g), want[size_t(g)]);

  // SAME_UPPER: the pads come from the input size (total 1 row / column here: the extra at the end).
  const ir::Node same = conv_node({ir::attr_string("auto_pad", "SAME_UPPER"), ir::attr_ints("strides", {2, 2})});
  quant::LayerHessian hs = quant::LayerHessian::for_conv(same, {5, 6, 3, 3});
  hs.add(xt, 1 << 20, 7);
  // in 7 -> out 4: total (4-1)*2+3-7 = 2, begin 1, end 1; in 8 -> out 4: total 1, begin 0, end 1.
  expect_near_all(hs.hessian(0), reference_hessian(x, 2, 6, 7, 8, 1, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1)[0]);

  // SAME_LOWER: the extra pad at the beginning (in 7 -> out 4, total 2: 1 and 1; in 8 -> out 4, total 1: 1 and 0).
  quant::LayerHessian hl = quant::LayerHessian::for_conv(conv_node({ir::attr_string("auto_pad", "SAME_LOWER"), ir::attr_ints("strides", {2, 2})}),
                                                         {5, 6, 3, 3});
  hl.add(xt, 1 << 20, 7);
  expect_near_all(hl.hessian(0), reference_hessian(x, 2, 6, 7, 8, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0)[0]);
  // VALID drops the pads attribute.
  quant::LayerHessian hv = quant::LayerHessian::for_conv(conv_node({ir::attr_string("auto_pad", "VALID"), ir::attr_ints("pads", {1, 1, 1, 1})}),
                                                         {5, 6, 2, 3});
  hv.add(xt, 1 << 20, 7);
  expect_near_all(hv.hessian(0), reference_hessian(x, 2, 6, 7, 8, 1, 2, 3, 1, 1, 1, 1, 0, 0, 0, 0)[0]);

  // A 1-D conv is one of height 1 (strided, dilated, padded unevenly).
  const std::vector<float> x1 = gaussian(3 * 4 * 11, 2);
  quant::LayerHessian h1 =
      quant::LayerHessian::for_conv(conv_node({ir::attr_ints("pads", {2, 1}), ir::attr_ints("strides", {2}), ir::attr_ints("dilations", {2})}), {2, 4, 3});
  h1.add(Tensor::from_vector<float>(x1, {3, 4, 11}), 1 << 20, 7);
  expect_near_all(h1.hessian(0), reference_hessian(x1, 3, 4, 1, 11, 1, 1, 3, 1, 2, 1, 2, 0, 2, 0, 1)[0]);

  // Sampling takes at most max_rows rows, the same ones for the same seed.
  quant::LayerHessian a = quant::LayerHessian::for_conv(n, {4, 3, 3, 2}), b = quant::LayerHessian::for_conv(n, {4, 3, 3, 2});
  a.add(xt, 10, 3);
  b.add(xt, 10, 3);
  EXPECT_EQ(a.rows_seen(), 10);
  EXPECT_TRUE(std::equal(a.hessian(1), a.hessian(1) + 18 * 18, b.hessian(1)));
}

TEST(LayerGptq, TooWideLayersSayWhy) {
  const quant::LayerHessian h = quant::LayerHessian::for_conv(conv_node({}), {8, 1024, 3, 3});
  EXPECT_NE(h.unsupported().find("1024 x kernel"), std::string::npos) << h.unsupported();
  EXPECT_NE(quant::LayerHessian::for_matmul(5000).unsupported(), "");
  // Attributes a hostile file could carry: refused here, whatever ran before.
  for (const ir::Node& bad : {conv_node({ir::attr_int("group", 3)}), conv_node({ir::attr_int("group", 0)}),
                              conv_node({ir::attr_ints("strides", {0, 1})}), conv_node({ir::attr_ints("pads", {-1, 0, 0, 0})}),
                              conv_node({ir::attr_ints("dilations", {1})}), conv_node({ir::attr_ints("strides", {1 << 21, 1})})})
    EXPECT_EQ(quant::LayerHessian::for_conv(bad, {8, 4, 3, 3}).unsupported(), "conv attributes do not match its weights");
  EXPECT_NE(quant::LayerHessian::for_conv(conv_node({}), {8, 0, 3, 3}).unsupported(), "") << "no weights";
  EXPECT_NE(quant::LayerHessian::for_conv(conv_node({}), {8, int64_t(1) << 40, int64_t(1) << 40, 1}).unsupported(), "") << "a product past int64";
  // A layer whose input is not float is left to nearest rounding, not refused.
  quant::LayerHessian u8 = quant::LayerHessian::for_conv(conv_node({}), {2, 1, 1, 1});
  u8.add(Tensor::zeros(DType::u8, {1, 1, 2, 2}), 100, 1);
  EXPECT_EQ(u8.unsupported(), "its input is not float");
  EXPECT_EQ(quant::LayerHessian::for_matmul(512).unsupported(), "");
}

// Correlated inputs (8 hidden factors behind 48 columns, as neighbouring
// pixels and channels are): GPTQ's codes must move a held-out batch's
// outputs clearly less than rounding to nearest does, with the same scales.
TEST(LayerGptq, CodesMoveHeldOutOutputsLess) {
  const int64_t rows = 12, cols = 48, tokens = 3000, factors = 8;
  const std::vector<float> mix = gaussian(size_t(factors * cols), 5);
  auto inputs = [&](uint32_t seed) {
    const std::vector<float> z = gaussian(size_t(tokens * factors), seed), noise = gaussian(size_t(tokens * cols), seed + 100, 0.05f);
    std::vector<float> x(size_t(tokens * cols));
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j = 0; j < cols; ++j) {
        double s = noise[size_t(t * cols + j)];
        for (int64_t f = 0; f < factors; ++f) s += double(z[size_t(t * factors + f)]) * mix[size_t(f * cols + j)];
        x[size_t(t * cols + j)] = j == 5 ? 0.f : float(s);  // column 5: an input that is always zero
      }
    return x;
  };
  const std::vector<float> calib = inputs(10), held = inputs(20), w = gaussian(size_t(rows * cols), 30, 0.1f);
  quant::LayerHessian h = quant::LayerHessian::for_matmul(cols);
  h.add(Tensor::from_vector<float>(calib, {tokens, cols}), 1 << 20, 1);
  std::vector<float> scales(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0;
    for (int64_t i = 0; i < cols; ++i) m = std::max(m, std::abs(w[size_t(r * cols + i)]));
    scales[size_t(r)] = m / 127.f;
  }
  std::vector<int8_t> gptq(size_t(rows * cols)), nearest(size_t(rows * cols));
  ASSERT_TRUE(quant::gptq_int8_codes(w.data(), rows, cols, scales.data(), h.hessian(0), gptq.data()));
  for (int64_t i = 0; i < rows * cols; ++i) nearest[size_t(i)] = quant::symmetric_code(w[size_t(i)], scales[size_t(i / cols)]);
  auto output_error = [&](const std::vector<int8_t>& q) {
    double e = 0;
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double d = 0;
        for (int64_t i = 0; i < cols; ++i) d += double(held[size_t(t * cols + i)]) * (w[size_t(r * cols + i)] - q[size_t(r * cols + i)] * scales[size_t(r)]);
        e += d * d;
      }
    return e;
  };
  const double eg = output_error(gptq), en = output_error(nearest);
  std::printf("held-out output error: nearest %.4e, gptq %.4e (%.2fx)\n", en, eg, en / eg);
  EXPECT_LT(eg, 0.5 * en);
  int differ = 0;
  for (int64_t i = 0; i < rows * cols; ++i) {
    EXPECT_GE(gptq[size_t(i)], -127);
    differ += gptq[size_t(i)] != nearest[size_t(i)];
    if (i % cols == 5) {
      EXPECT_EQ(gptq[size_t(i)], nearest[size_t(i)]) << "the dead input's weight keeps its nearest code";
    }
  }
  EXPECT_GT(differ, 0);

  // A Hessian that cannot be factored (NaN) rounds to nearest and says so.
  std::vector<double> bad(h.hessian(0), h.hessian(0) + cols * cols);
  bad[0] = std::nan("");
  std::vector<int8_t> fallback(size_t(rows * cols));
  EXPECT_FALSE(quant::gptq_int8_codes(w.data(), rows, cols, scales.data(), bad.data(), fallback.data()));
  EXPECT_EQ(fallback, nearest);
}

namespace {

// x[1,4,12,12] -> Conv 3x3 (6) -> Relu -> Conv 1x1 (3, bias) -> y.
ir::Model two_convs() {
  pb::Msg g;
  g.m(5, pb::tensor_f32("w0", {6, 4, 3, 3}, gaussian(6 * 4 * 9, 41, 0.3f)));
  g.m(5, pb::tensor_f32("w1", {3, 6, 1, 1}, gaussian(3 * 6, 42, 0.3f)));
  g.m(5, pb::tensor_f32("b1", {3}, {0.1f, -0.2f, 0.05f}));
  g.m(1, pb::node("Conv", {"x", "w0"}, {"a"}, "conv0", {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.m(1, pb::node("Relu", {"a"}, {"b"}, "relu"));
  g.m(1, pb::node("Conv", {"b", "w1", "b1"}, {"y"}, "conv1", {pb::attr_ints("kernel_shape", {1, 1})}));
  g.s(2, "convs");
  g.m(11, pb::value_info("x", 1, {1, 4, 12, 12}));
  g.m(12, pb::value_info("y", 1, {1, 3, 12, 12}));
  const std::string bytes = pb::model(g, 13).bytes;
  return onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "convs.onnx", "");
}

// Smooth images (neighbouring pixels alike), as real inputs are.
Tensor smooth_input(uint32_t seed) {
  const std::vector<float> coarse = gaussian(4 * 4 * 4, seed);
  std::vector<float> v(4 * 144);
  for (int c = 0; c < 4; ++c)
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 12; ++x) v[size_t((c * 12 + y) * 12 + x)] = coarse[size_t((c * 4 + y / 3) * 4 + x / 3)] + 0.02f * float((x + y) % 3);
  return Tensor::from_vector<float>(v, {1, 4, 12, 12});
}

std::vector<Tensor> run(const ir::Model& m, const Tensor& x) {
  runtime::Executor ex(m.opset(), runtime::ExecOptions{});
  return ex.run_graph(*m.graph, {x}, nullptr);
}

const Tensor& constant_named(const ir::Model& m, const std::string& name) {
  const int id = m.graph->find_value(name);
  EXPECT_GE(id, 0) << name;
  return m.graph->values[size_t(id)].constant;
}

}  // namespace

TEST(LayerGptq, QuantizeOnnxWritesGptqCodesWithTheSameScales) {
  const ir::Model m = two_convs();
  std::vector<quant::InputSample> calib, held;
  for (uint32_t s = 0; s < 6; ++s) calib.push_back({smooth_input(s)});
  for (uint32_t s = 100; s < 106; ++s) held.push_back({smooth_input(s)});
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  const ir::Model nearest = quant::quantize_onnx(m, calib, o, nullptr);
  o.gptq = true;
  quant::OnnxQuantReport rep;
  const ir::Model gptq = quant::quantize_onnx(m, calib, o, &rep);
  ASSERT_EQ(rep.layers.size(), 2u);
  // 6 samples of 12 x 12 output positions, every one taken.
  EXPECT_EQ(rep.layers[0].weights, "gptq (864 rows of 36 inputs)");
  EXPECT_EQ(rep.layers[1].weights, "gptq (864 rows of 6 inputs)");
  for (const std::string w : {"w0", "w1"}) {
    const Tensor &sn = constant_named(nearest, w + "_scale"), &sg = constant_named(gptq, w + "_scale");
    ASSERT_EQ(sn.numel(), sg.numel());
    for (int64_t i = 0; i < sn.numel(); ++i) EXPECT_EQ(sn.data<float>()[i], sg.data<float>()[i]) << w;
  }
  const Tensor &qn = constant_named(nearest, "w0_quantized"), &qg = constant_named(gptq, "w0_quantized");
  int differ = 0;
  for (int64_t i = 0; i < qn.numel(); ++i) differ += qn.data<int8_t>()[i] != qg.data<int8_t>()[i];
  EXPECT_GT(differ, 0) << "GPTQ moved some codes";
  double en = 0, eg = 0;
  for (const quant::InputSample& s : held) {
    const std::vector<Tensor> want = run(m, s[0]);
    en += quant::relative_error(run(nearest, s[0]), want);
    eg += quant::relative_error(run(gptq, s[0]), want);
  }
  std::printf("held-out output error: nearest %.4e, gptq %.4e\n", en / 6, eg / 6);
  EXPECT_LT(eg, en);
}

// tune's candidates share one rounding per layer (RangeCache::gptq_codes):
// a candidate with fewer int8 layers reuses the codes the first one chose.
TEST(LayerGptq, SharedCodesAreReusedByLaterCandidates) {
  const ir::Model m = two_convs();
  std::vector<quant::InputSample> calib;
  for (uint32_t s = 0; s < 4; ++s) calib.push_back({smooth_input(s)});
  quant::RangeCache cache;
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  o.gptq = true;
  o.ranges = &cache;
  const ir::Model both = quant::quantize_onnx(m, calib, o, nullptr);
  ASSERT_EQ(cache.gptq_codes.size(), 2u);
  // Other samples for the second candidate (a tune never does this: the
  // cache is for one set of samples), so that reuse shows: the codes are
  // the first candidate's, where a fresh quantization picks others.
  std::vector<quant::InputSample> other;
  for (uint32_t s = 50; s < 53; ++s) other.push_back({smooth_input(s)});
  o.keep = {"conv1"};
  quant::OnnxQuantReport rep;
  const ir::Model one = quant::quantize_onnx(m, other, o, &rep);
  EXPECT_EQ(rep.layers[0].weights, "gptq (576 rows of 36 inputs)") << "the first candidate's report line (4 samples, not 3)";
  quant::RangeCache fresh;
  o.ranges = &fresh;
  const ir::Model alone = quant::quantize_onnx(m, other, o, nullptr);
  const Tensor &a = constant_named(both, "w0_quantized"), &b = constant_named(one, "w0_quantized"), &c = constant_named(alone, "w0_quantized");
  ASSERT_EQ(a.numel(), b.numel());
  EXPECT_TRUE(std::equal(a.data<int8_t>(), a.data<int8_t>() + a.numel(), b.data<int8_t>()));
  EXPECT_FALSE(std::equal(a.data<int8_t>(), a.data<int8_t>() + a.numel(), c.data<int8_t>())) << "other samples, other codes";
}

namespace {

// Inputs whose columns follow 6 hidden factors (as neighbouring pixels and
// channels do), [1, rows, k].
Tensor factor_input(uint32_t seed, int64_t rows, int64_t k) {
  const std::vector<float> mix = gaussian(size_t(6 * k), 77), z = gaussian(size_t(rows * 6), seed), noise = gaussian(size_t(rows * k), seed + 1000, 0.05f);
  std::vector<float> v(size_t(rows * k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      float s = noise[size_t(r * k + j)];
      for (int64_t f = 0; f < 6; ++f) s += z[size_t(r * 6 + f)] * mix[size_t(f * k + j)];
      v[size_t(r * k + j)] = s;
    }
  return Tensor::from_vector<float>(v, {1, rows, k});
}

ir::Model load(const pb::Msg& g) {
  const std::string bytes = pb::model(g, 13).bytes;
  return onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.onnx", "");
}

// quantize_onnx rounded to nearest and by GPTQ: the GPTQ report line, the
// same scales, other codes, and less error on held-out inputs.
void expect_gptq_helps(const ir::Model& m, const std::vector<quant::InputSample>& calib, const std::vector<quant::InputSample>& held,
                       const std::string& weight, const std::string& report_prefix) {
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  o.quantize_matmul = o.quantize_depthwise = true;
  const ir::Model nearest = quant::quantize_onnx(m, calib, o, nullptr);
  o.gptq = true;
  quant::OnnxQuantReport rep;
  const ir::Model gptq = quant::quantize_onnx(m, calib, o, &rep);
  ASSERT_EQ(rep.layers.size(), 1u);
  EXPECT_EQ(rep.layers[0].weights.rfind(report_prefix, 0), 0u) << rep.layers[0].weights;
  const Tensor &sn = constant_named(nearest, weight + "_scale"), &sg = constant_named(gptq, weight + "_scale");
  ASSERT_EQ(sn.numel(), sg.numel());
  EXPECT_TRUE(std::equal(sn.data<float>(), sn.data<float>() + sn.numel(), sg.data<float>()));
  const Tensor &qn = constant_named(nearest, weight + "_quantized"), &qg = constant_named(gptq, weight + "_quantized");
  EXPECT_FALSE(std::equal(qn.data<int8_t>(), qn.data<int8_t>() + qn.numel(), qg.data<int8_t>())) << "GPTQ moved some codes";
  double en = 0, eg = 0;
  for (const quant::InputSample& s : held) {
    const std::vector<Tensor> want = run(m, s[0]);
    en += quant::relative_error(run(nearest, s[0]), want);
    eg += quant::relative_error(run(gptq, s[0]), want);
  }
  std::printf("%s held-out output error: nearest %.4e, gptq %.4e\n", weight.c_str(), en, eg);
  EXPECT_LT(eg, en);
}

}  // namespace

// A MatMul's B [k, n] is rounded per column (the transposes in and out of
// GPTQ's row form), a depthwise conv per group of one channel.
TEST(LayerGptq, MatMulAndDepthwiseLayersTakeGptqCodes) {
  pb::Msg mm;
  mm.m(5, pb::tensor_f32("w", {24, 16}, gaussian(24 * 16, 61, 0.2f)));
  mm.m(1, pb::node("MatMul", {"x", "w"}, {"y"}, "mm"));
  mm.s(2, "mm");
  mm.m(11, pb::value_info("x", 1, {1, 64, 24}));
  mm.m(12, pb::value_info("y", 1, {1, 64, 16}));
  std::vector<quant::InputSample> calib, held;
  for (uint32_t s = 0; s < 4; ++s) calib.push_back({factor_input(s, 64, 24)});
  for (uint32_t s = 200; s < 204; ++s) held.push_back({factor_input(s, 64, 24)});
  expect_gptq_helps(load(mm), calib, held, "w", "gptq (256 rows of 24 inputs)");

  pb::Msg dw;
  dw.m(5, pb::tensor_f32("wd", {4, 1, 3, 3}, gaussian(36, 62, 0.4f)));
  dw.m(1, pb::node("Conv", {"x", "wd"}, {"y"}, "dw", {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1}), pb::attr_int("group", 4)}));
  dw.s(2, "dw");
  dw.m(11, pb::value_info("x", 1, {1, 4, 12, 12}));
  dw.m(12, pb::value_info("y", 1, {1, 4, 12, 12}));
  calib.clear(), held.clear();
  for (uint32_t s = 0; s < 6; ++s) calib.push_back({smooth_input(s)});
  for (uint32_t s = 300; s < 306; ++s) held.push_back({smooth_input(s)});
  expect_gptq_helps(load(dw), calib, held, "wd", "gptq (864 rows of 9 inputs)");
}

// The noise a layer's H is widened by: the input the int8 reader sees (its
// tensor in the rounded model, put on its uint8 grid) against the float
// model's. On the model's input that is only its own rounding and clipping;
// after an int8 conv that conv's error adds; per-run grids per sample.
TEST(LayerGptq, InputNoiseIsTheRoundedModelsDifference) {
  const ir::Model m = two_convs();
  std::vector<quant::InputSample> calib;
  for (uint32_t s = 0; s < 3; ++s) calib.push_back({smooth_input(s)});
  quant::OnnxQuantOptions o;
  o.keep_first_last = false;
  o.method = quant::CalibMethod::percentile;
  o.percentile = 90;  // clips: the clipping counts too
  const ir::Model rounded = quant::quantize_onnx(m, calib, o, nullptr);
  const int x = m.graph->find_value("x"), b = m.graph->find_value("b");
  ASSERT_EQ(rounded.graph->find_value("x"), x);
  ASSERT_EQ(rounded.graph->find_value("b"), b);
  auto grid_of = [&](const std::string& t) {
    return quant::UInt8Grid{constant_named(rounded, t + "_scale").data<float>()[0], int32_t(constant_named(rounded, t + "_zero_point").data<uint8_t>()[0])};
  };
  const quant::UInt8Grid gx = grid_of("x"), gb = grid_of("b");
  // The plain rule: round half to even, clamp to 0..255, back to float.
  auto grid_mse = [](const Tensor& t, const quant::UInt8Grid& g) {
    double sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float v = t.data<float>()[i];
      const float q = std::clamp(std::nearbyint(v / g.scale) + float(g.zero), 0.f, 255.f);
      sum += std::pow(double((q - float(g.zero)) * g.scale) - double(v), 2);
    }
    return sum / double(t.numel());
  };
  double want_x = 0;
  for (const quant::InputSample& s : calib) want_x += grid_mse(s[0], gx) / double(calib.size());
  const std::map<int, double> v = quant::input_noise_variance(m, rounded, {b, x, b}, {{x, gx}, {b, gb}}, calib);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NEAR(v.at(x), want_x, 1e-12 * want_x);
  int64_t clipped = 0;
  for (const quant::InputSample& s : calib)
    for (int64_t i = 0; i < s[0].numel(); ++i) {
      const float q = std::nearbyint(s[0].data<float>()[i] / gx.scale) + float(gx.zero);
      clipped += q < 0.f || q > 255.f;
    }
  EXPECT_GT(clipped, 0) << "90th percentile ranges clip";
  EXPECT_GT(want_x, double(gx.scale) * gx.scale / 12.0) << "the clipping counts on top of the rounding";
  // conv1's input b: in the rounded model (after conv0 in int8) put on b's
  // grid, against the float model's b; not the float b on its own grid.
  auto value_of = [&](const ir::Model& model, int t, const quant::InputSample& s) {
    ir::Model probe = model;
    probe.graph = std::make_shared<ir::Graph>(*model.graph);
    probe.graph->outputs.push_back(t);
    return quant::run_model(probe, s).back();
  };
  double want_b = 0, own_b = 0;
  for (const quant::InputSample& s : calib) {
    const Tensor clean = value_of(m, b, s), noisy = value_of(rounded, b, s);
    double sum = 0;
    for (int64_t i = 0; i < clean.numel(); ++i) {
      const float q = std::clamp(std::nearbyint(noisy.data<float>()[i] / gb.scale) + float(gb.zero), 0.f, 255.f);
      sum += std::pow(double((q - float(gb.zero)) * gb.scale) - double(clean.data<float>()[i]), 2);
    }
    want_b += sum / double(clean.numel()) / double(calib.size());
    own_b += grid_mse(clean, gb) / double(calib.size());
  }
  EXPECT_NEAR(v.at(b), want_b, 1e-12 * want_b);
  EXPECT_GT(std::abs(want_b - own_b), 0.01 * own_b) << "conv0's int8 error reaches conv1's input";
  // Per-run grids: each sample's [min(x, 0), max(x, 0)] over 255 steps.
  double want = 0;
  for (const quant::InputSample& s : calib) {
    const float* p = s[0].data<float>();
    const float lo = std::min(0.f, *std::min_element(p, p + s[0].numel())), hi = std::max(0.f, *std::max_element(p, p + s[0].numel()));
    const float scale = float((double(hi) - double(lo)) / 255.0);
    want += grid_mse(s[0], {scale, int32_t(std::clamp(std::nearbyint(-lo / scale), 0.f, 255.f))}) / double(calib.size());
  }
  EXPECT_NEAR(quant::input_noise_variance(m, rounded, {x}, {}, calib).at(x), want, 1e-12 * want);
}
