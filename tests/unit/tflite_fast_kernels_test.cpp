// The TFLite frontend's fast convolutions against their reference twins
// (kernels/qnhwc.h), byte for byte, on awkward sizes (one channel, odd
// counts, vector tails, large), strides, dilations, both paddings, uint8
// with zero points and int8 with per-channel scales, on 1 and 2 threads:
// the AVX-512 NHWC depthwise kernel directly, and the conv through its node
// (the VNNI integer GEMM path where the CPU has it).
#include <gtest/gtest.h>

#include <random>

#include "core/cpu.h"
#include "kernels/qnhwc.h"
#include "tfl_node_runner.h"

namespace pareto {
namespace {

struct Geometry {
  int64_t h, w, c_in, c_out, k_h, k_w, stride, dilation;
  bool same;
};

// TFLite's output size and leading pad.
std::pair<int64_t, int64_t> out_and_pad(int64_t in, int64_t k, int64_t stride, int64_t dilation, bool same) {
  const int64_t span = (k - 1) * dilation + 1;
  const int64_t out = same ? (in + stride - 1) / stride : (in - span + stride) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + span - in, 0);
  return {out, same ? total / 2 : 0};
}

template <class T>
Tensor random_tensor(DType t, const Shape& s, std::mt19937& rng) {
  Tensor x = Tensor::empty(t, s);
  std::uniform_int_distribution<int> d(std::is_signed_v<T> ? -128 : 0, std::is_signed_v<T> ? 127 : 255);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<T>()[i] = T(d(rng));
  return x;
}

kernels::QConvParams params_of(const Geometry& g, int64_t out_c) {
  kernels::QConvParams p;
  p.in_h = g.h, p.in_w = g.w, p.in_c = g.c_in, p.out_c = out_c, p.k_h = g.k_h, p.k_w = g.k_w;
  p.stride_h = p.stride_w = g.stride, p.dilation_h = p.dilation_w = g.dilation;
  std::tie(p.out_h, p.pad_top) = out_and_pad(g.h, g.k_h, g.stride, g.dilation, g.same);
  std::tie(p.out_w, p.pad_left) = out_and_pad(g.w, g.k_w, g.stride, g.dilation, g.same);
  return p;
}

const Geometry kShapes[] = {{1, 1, 1, 1, 1, 1, 1, 1, true},     {5, 7, 3, 5, 3, 3, 1, 1, true},   {9, 8, 17, 33, 3, 3, 2, 1, true},
                            {11, 9, 16, 16, 5, 3, 1, 2, false}, {12, 10, 33, 7, 1, 1, 1, 1, true}, {28, 28, 64, 96, 3, 3, 1, 1, true},
                            {15, 13, 100, 1, 3, 3, 2, 1, false}};

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
#if defined(__x86_64__)
namespace isa = kernels::avx512;
#else
namespace isa = kernels::neon;
#endif
template <class T>
void depthwise_twin(DType t, std::mt19937& rng) {
  for (const Geometry& g : kShapes) {
    kernels::QConvParams p = params_of(g, g.c_in);
    std::vector<int32_t> offsets(size_t(g.c_in));
    std::vector<kernels::fxp::Multiplier> m(size_t(g.c_in));
    std::uniform_int_distribution<int> off(-200, 0), bias_d(-5000, 5000);
    for (int64_t c = 0; c < g.c_in; ++c) offsets[size_t(c)] = std::is_signed_v<T> ? 0 : off(rng), m[size_t(c)] = kernels::fxp::quantize_multiplier(0.003 * (1 + c % 7));
    p.filter_offsets = offsets.data(), p.multipliers = m.data();
    p.input_offset = std::is_signed_v<T> ? 5 : -113, p.output_offset = std::is_signed_v<T> ? -3 : 120;
    p.act_min = std::is_signed_v<T> ? -128 : 0, p.act_max = std::is_signed_v<T> ? 127 : 255;
    const Tensor x = random_tensor<T>(t, {1, g.h, g.w, g.c_in}, rng), w = random_tensor<T>(t, {1, g.k_h, g.k_w, g.c_in}, rng);
    std::vector<int32_t> bias(size_t(g.c_in));
    for (auto& b : bias) b = bias_d(rng);
    const size_t n = size_t(p.out_h * p.out_w * g.c_in);
    std::vector<T> want(n), got(n);
    kernels::qdepthwise_nhwc_ref<T>(p, x.data<T>(), w.data<T>(), bias.data(), want.data());
    const std::vector<int32_t> filter = kernels::qdepthwise_filter_i32(p, w.raw(), std::is_signed_v<T>);
    for (int parts : {1, 2}) {  // rows split as the adapter splits them over threads
      std::fill(got.begin(), got.end(), T(0));
      for (int part = 0; part < parts; ++part) {
        kernels::QConvParams q = p;
        q.rows_begin = p.out_h * part / parts, q.rows_end = p.out_h * (part + 1) / parts;
        isa::qdepthwise_nhwc<T>(q, x.data<T>(), filter.data(), bias.data(), got.data());
      }
      ASSERT_EQ(got, want) << g.h << "x" << g.w << "x" << g.c_in << " k" << g.k_h << "x" << g.k_w << " s" << g.stride << " d" << g.dilation;
    }
  }
}

TEST(TfliteFastKernels, DepthwiseVectorKernelEqualsTheReference) {
#if defined(__x86_64__)
  if (!cpu_features().avx512f || !cpu_features().avx512bw) GTEST_SKIP() << "this CPU lacks AVX-512 F/BW: the kernel is built, not run";
#endif
  std::mt19937 rng(7);
  depthwise_twin<uint8_t>(DType::u8, rng);
  depthwise_twin<int8_t>(DType::i8, rng);
}
#endif

// The conv node (the int8 GEMM path on VNNI or SDOT machines, the reference loop elsewhere)
// against the reference kernel called with the same parameters.
template <class T>
void conv_twin(DType t, std::mt19937& rng) {
  for (const Geometry& g : kShapes) {
    kernels::QConvParams p = params_of(g, g.c_out);
    const bool per_channel = std::is_signed_v<T>;
    const float in_scale = 0.02f, out_scale = 0.3f;
    std::vector<float> w_scale(per_channel ? size_t(g.c_out) : 1);
    for (size_t i = 0; i < w_scale.size(); ++i) w_scale[i] = 0.004f * float(1 + i % 5);
    const int32_t in_zero = per_channel ? -7 : 131, w_zero = per_channel ? 0 : 117, out_zero = per_channel ? 4 : 99;
    std::vector<int32_t> offsets(size_t(g.c_out), -w_zero);
    std::vector<kernels::fxp::Multiplier> m;
    for (int64_t c = 0; c < g.c_out; ++c) {
      const float ws = w_scale[per_channel ? size_t(c) : 0];
      const double product = per_channel ? double(in_scale) * double(ws) : double(in_scale * ws);  // as the adapter (TFLite's legacy uint8 product)
      m.push_back(kernels::fxp::quantize_multiplier(product / double(out_scale)));
    }
    p.filter_offsets = offsets.data(), p.multipliers = m.data(), p.input_offset = -in_zero, p.output_offset = out_zero;
    p.act_min = per_channel ? -128 : 0, p.act_max = per_channel ? 127 : 255;
    NodeSpec s;
    s.op = "TflConv2D";
    s.inputs = {random_tensor<T>(t, {1, g.h, g.w, g.c_in}, rng), random_tensor<T>(t, {g.c_out, g.k_h, g.k_w, g.c_in}, rng),
                Tensor::from_vector<int32_t>(std::vector<int32_t>(size_t(g.c_out), 1234), {g.c_out})};
    s.out_shape = {1, p.out_h, p.out_w, g.c_out};
    s.out_dtype = t;
    for (const auto& a : quant("in0", {in_scale}, {in_zero})) s.attrs.push_back(a);
    for (const auto& a : quant("in1", w_scale, std::vector<int64_t>(w_scale.size(), w_zero))) s.attrs.push_back(a);
    if (per_channel) s.attrs.push_back(ir::attr_int("in1_axis", 0));
    for (const auto& a : quant("out0", {out_scale}, {out_zero})) s.attrs.push_back(a);
    s.attrs.push_back(ir::attr_string("padding", g.same ? "SAME" : "VALID"));
    s.attrs.push_back(ir::attr_ints("strides", {g.stride, g.stride}));
    s.attrs.push_back(ir::attr_ints("dilations", {g.dilation, g.dilation}));
    std::vector<T> want(size_t(p.out_h * p.out_w * g.c_out));
    kernels::qconv_nhwc_ref<T>(p, s.inputs[0].data<T>(), s.inputs[1].data<T>(), s.inputs[2].data<int32_t>(), want.data());
    for (int threads : {1, 2}) {
      Tensor y;
      ASSERT_EQ(run_node(s, "pareto", &y, threads), "");
      ASSERT_EQ(std::vector<T>(y.data<T>(), y.data<T>() + y.numel()), want)
          << g.h << "x" << g.w << "x" << g.c_in << "->" << g.c_out << " k" << g.k_h << "x" << g.k_w << " s" << g.stride << " d" << g.dilation << ", "
          << threads << " threads";
    }
  }
}

TEST(TfliteFastKernels, ConvNodeEqualsTheReference) {
  std::mt19937 rng(11);
  conv_twin<uint8_t>(DType::u8, rng);
  conv_twin<int8_t>(DType::i8, rng);
}

}  // namespace
}  // namespace pareto
