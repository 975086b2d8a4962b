// The TFLite frontend's operators (frontend/tflite): NHWC tensors, uint8 or
// int8 with the quantization parameters the loader put on each node, and
// TFLite's integer arithmetic (kernels/qnhwc.h). Each adapter checks what a
// hostile file could get wrong (types, ranks, channel counts, parameter
// counts, declared output shapes) before a kernel runs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <tuple>

#include "kernels/dispatch.h"
#include "kernels/qnhwc.h"
#include "pareto/thread_pool.hpp"
#include "runtime/op_registry.h"
#include "runtime/ops/cache_stamps.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/tflite_conv_gemm.h"
#include "core/cpu.h"

namespace pareto::runtime {

namespace {

using kernels::fxp::Multiplier;

struct QParams {
  std::vector<float> scale;
  std::vector<int64_t> zero;
};

// Scales outside this range are no model's; inside it, every product and
// quotient of two scales below stays finite in float.
constexpr float kMinScale = 1e-20f, kMaxScale = 1e10f;

QParams qparams(const OpContext& c, const std::string& prefix) {
  QParams q{c.node.attr_floats(prefix + "_scale"), c.node.attr_ints(prefix + "_zero")};
  if (q.scale.empty()) c.invalid(prefix + " has no quantization parameters");
  if (q.zero.size() != q.scale.size()) c.invalid(prefix + " has " + std::to_string(q.scale.size()) + " scales and " + std::to_string(q.zero.size()) + " zero points");
  for (float s : q.scale)
    if (!(s >= kMinScale && s <= kMaxScale)) c.invalid(prefix + " has a quantization scale of " + std::to_string(s));
  return q;
}

// What the kernel writes must be what the file declares (callers read the declared types).
void check_out(const OpContext& c, DType dtype, const Shape& shape) {
  const Shape declared = c.node.attr_ints("out_shape");
  if (declared != shape)
    c.invalid("computes output shape " + shape_to_string(shape) + " but the file declares " + shape_to_string(declared));
  const int64_t declared_type = c.node.attr_i("out_dtype", int64_t(dtype));
  if (declared_type != int64_t(dtype)) c.invalid(std::string("writes ") + dtype_name(dtype) + " but the file declares another output type");
}

// Per-channel filter scales must run along the output channels.
void check_filter_axis(const OpContext& c, int64_t axis) {
  if (c.node.attr_floats("in1_scale").size() > 1 && c.node.attr_i("in1_axis", axis) != axis)
    c.unsupported("per-channel filter scales along axis " + std::to_string(c.node.attr_i("in1_axis", 0)) + ", expected " + std::to_string(axis));
}

// One scale and zero point; the zero point inside the type's range.
std::pair<float, int32_t> per_tensor(const OpContext& c, const std::string& prefix, DType t) {
  QParams q = qparams(c, prefix);
  if (q.scale.size() != 1) c.unsupported(prefix + ": per-channel quantization where one scale is expected");
  const int64_t lo = t == DType::u8 ? 0 : -128, hi = t == DType::u8 ? 255 : 127;
  if (q.zero[0] < lo || q.zero[0] > hi) c.invalid(prefix + " zero point " + std::to_string(q.zero[0]) + " is outside the type's range");
  return {q.scale[0], int32_t(q.zero[0])};
}

DType quantized_type(const OpContext& c, const Tensor& t, const char* what) {
  if (t.dtype() != DType::u8 && t.dtype() != DType::i8) c.unsupported(std::string(what) + " is " + dtype_name(t.dtype()) + "; uint8 or int8 expected");
  return t.dtype();
}

void check_rank(const OpContext& c, const Tensor& t, int rank, const char* what) {
  if (t.rank() != rank) c.invalid(std::string(what) + " has rank " + std::to_string(t.rank()) + ", expected " + std::to_string(rank));
}

std::pair<int32_t, int32_t> activation_range(const OpContext& c, DType t, float scale, int32_t zero) {
  const int32_t qmin = t == DType::u8 ? 0 : -128, qmax = t == DType::u8 ? 255 : 127;
  // In double and clamped: a tiny scale would put 6 / scale past int32.
  auto q = [&](float f) { return int32_t(std::clamp(double(zero) + std::round(double(f / scale)), double(qmin - 1), double(qmax + 1))); };
  const std::string a = c.node.attr_s("activation", "NONE");
  if (a == "RELU") return {std::max(qmin, q(0.0f)), qmax};
  if (a == "RELU6") return {std::max(qmin, q(0.0f)), std::min(qmax, q(6.0f))};
  if (a == "RELU_N1_TO_1") return {std::max(qmin, q(-1.0f)), std::min(qmax, q(1.0f))};
  return {qmin, qmax};
}

// Output size and leading padding of one spatial axis (TFLite's SAME / VALID:
// extra padding goes to the end).
std::pair<int64_t, int64_t> out_and_pad(const OpContext& c, int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  if (stride < 1 || dilation < 1 || k < 1) c.invalid("stride, dilation and kernel size must be at least 1");
  const int64_t effective = (k - 1) * dilation + 1;
  const bool same = c.node.attr_s("padding", "SAME") == "SAME";
  const int64_t out = same ? (in + stride - 1) / stride : (in + stride - effective) / stride;
  if (out < 1) c.invalid("the window is larger than the input");
  const int64_t total = (out - 1) * stride + effective - in;
  return {out, std::max<int64_t>(0, total / 2)};
}

// The quantization of a conv, depthwise conv or fully-connected layer:
// per output channel the multiplier input_scale * filter_scale /
// output_scale and minus the filter zero point; the input and output
// offsets; the fused activation's range. uint8 kernels take TFLite's legacy
// multiplier, whose product of the two scales is a float (rounded before
// the division); int8 per-channel multipliers are all double. The last bits
// of the multiplier differ, and with them some outputs by one step.
struct LinearQuant {
  std::vector<Multiplier> multipliers;
  std::vector<int32_t> filter_offsets;
  int32_t input_offset = 0, output_offset = 0, act_min = 0, act_max = 0;
};

LinearQuant linear_quant(const OpContext& c, DType t, int64_t channels, int64_t filter_axis) {
  const auto [in_scale, in_zero] = per_tensor(c, "in0", t);
  const auto [out_scale, out_zero] = per_tensor(c, "out0", t);
  const QParams w = qparams(c, "in1");
  if (w.scale.size() != 1 && int64_t(w.scale.size()) != channels)
    c.invalid("the filter has " + std::to_string(w.scale.size()) + " scales for " + std::to_string(channels) + " output channels");
  check_filter_axis(c, filter_axis);
  LinearQuant q;
  for (int64_t oc = 0; oc < channels; ++oc) {
    const size_t i = w.scale.size() == 1 ? 0 : size_t(oc);
    if (w.zero[i] < -128 || w.zero[i] > 255) c.invalid("filter zero point out of range");
    const double product = t == DType::u8 ? double(in_scale * w.scale[i]) : double(in_scale) * double(w.scale[i]);
    q.multipliers.push_back(kernels::fxp::quantize_multiplier(product / double(out_scale)));
    q.filter_offsets.push_back(-int32_t(w.zero[i]));
  }
  q.input_offset = -in_zero, q.output_offset = out_zero;
  std::tie(q.act_min, q.act_max) = activation_range(c, t, out_scale, out_zero);
  return q;
}

const int32_t* bias_of(const OpContext& c, size_t index, int64_t channels) {
  if (!c.has(index)) return nullptr;
  const Tensor& b = c.in(index);
  if (b.dtype() != DType::i32 || b.numel() != channels) c.unsupported("the bias must be int32 with one value per output channel");
  return b.data<int32_t>();
}

void run_conv(OpContext& c, bool depthwise) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  const DType t = quantized_type(c, x, "the input");
  if (w.dtype() != t) c.unsupported("the filter's type differs from the input's");
  check_rank(c, x, 4, "the input");
  check_rank(c, w, 4, "the filter");
  kernels::QConvParams p;
  p.batch = x.dim(0), p.in_h = x.dim(1), p.in_w = x.dim(2), p.in_c = x.dim(3);
  p.k_h = w.dim(1), p.k_w = w.dim(2);
  p.out_c = depthwise ? w.dim(3) : w.dim(0);
  if (depthwise) {
    p.depth_multiplier = c.node.attr_i("depth_multiplier", 1);
    if (w.dim(0) != 1 || p.depth_multiplier < 1 || p.out_c != p.in_c * p.depth_multiplier) c.invalid("depthwise filter shape does not match the input");
  } else if (w.dim(3) != p.in_c) {
    c.invalid("the filter has " + std::to_string(w.dim(3)) + " input channels, the input " + std::to_string(p.in_c));
  }
  const auto strides = c.node.attr_ints("strides", {1, 1}), dilations = c.node.attr_ints("dilations", {1, 1});
  if (strides.size() != 2 || dilations.size() != 2) c.invalid("strides and dilations need two values");
  p.stride_h = strides[0], p.stride_w = strides[1], p.dilation_h = dilations[0], p.dilation_w = dilations[1];
  std::tie(p.out_h, p.pad_top) = out_and_pad(c, p.in_h, p.k_h, p.stride_h, p.dilation_h);
  std::tie(p.out_w, p.pad_left) = out_and_pad(c, p.in_w, p.k_w, p.stride_w, p.dilation_w);
  const LinearQuant q = linear_quant(c, t, p.out_c, depthwise ? 3 : 0);
  p.multipliers = q.multipliers.data(), p.filter_offsets = q.filter_offsets.data();
  p.input_offset = q.input_offset, p.output_offset = q.output_offset, p.act_min = q.act_min, p.act_max = q.act_max;
  const Shape out_shape{p.batch, p.out_h, p.out_w, p.out_c};
  check_out(c, t, out_shape);
  Tensor& y = c.out(0, t, out_shape);
  const int32_t* bias = bias_of(c, 2, p.out_c);
  if (!depthwise) {
    std::vector<int32_t> filter_zero;
    for (int32_t off : q.filter_offsets) filter_zero.push_back(-off);
    if (tfl_conv_by_gemm(c, p, x, w, filter_zero, bias, y)) return;
  } else if (p.depth_multiplier == 1 && ((kBuildX86 && cpu_features().avx512f && cpu_features().avx512bw) || (kBuildArm64 && kernels::kernel_table().level == kernels::IsaLevel::neon))) {
    // The filter widened to int32 with its offsets, once per executor and node.
    const auto held = prepared_once(c, 1, stamps::kTfliteDepthwiseI32, [&]() -> std::shared_ptr<const void> {
      return std::make_shared<std::vector<int32_t>>(kernels::qdepthwise_filter_i32(p, w.raw(), t == DType::i8));
    });
    const int32_t* filter = static_cast<const std::vector<int32_t>*>(held.get())->data();
    parallel_for(p.batch * p.out_h, [&](int64_t begin, int64_t end) {
      kernels::QConvParams part = p;
      part.rows_begin = begin, part.rows_end = end;
      if constexpr (kBuildX86) {
        if (t == DType::u8) kernels::avx512::qdepthwise_nhwc<uint8_t>(part, x.data<uint8_t>(), filter, bias, y.data<uint8_t>());
        else kernels::avx512::qdepthwise_nhwc<int8_t>(part, x.data<int8_t>(), filter, bias, y.data<int8_t>());
      } else if constexpr (kBuildArm64) {
        if (t == DType::u8) kernels::neon::qdepthwise_nhwc<uint8_t>(part, x.data<uint8_t>(), filter, bias, y.data<uint8_t>());
        else kernels::neon::qdepthwise_nhwc<int8_t>(part, x.data<int8_t>(), filter, bias, y.data<int8_t>());
      }
    });
    return;
  }
  // Output rows split over the session's threads (rows are independent: the
  // same values as one thread's run, bit for bit).
  parallel_for(p.batch * p.out_h, [&](int64_t begin, int64_t end) {
    kernels::QConvParams part = p;
    part.rows_begin = begin, part.rows_end = end;
    if (t == DType::u8)
      (depthwise ? kernels::qdepthwise_nhwc_ref<uint8_t> : kernels::qconv_nhwc_ref<uint8_t>)(part, x.data<uint8_t>(), w.data<uint8_t>(), bias, y.data<uint8_t>());
    else
      (depthwise ? kernels::qdepthwise_nhwc_ref<int8_t> : kernels::qconv_nhwc_ref<int8_t>)(part, x.data<int8_t>(), w.data<int8_t>(), bias, y.data<int8_t>());
  });
}

void run_tfl_conv(OpContext& c) { run_conv(c, false); }
void run_tfl_depthwise(OpContext& c) { run_conv(c, true); }

void run_tfl_fully_connected(OpContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  const DType t = quantized_type(c, x, "the input");
  if (w.dtype() != t) c.unsupported("the weights' type differs from the input's");
  check_rank(c, w, 2, "the weights");
  kernels::QFullyConnectedParams p;
  p.units = w.dim(0), p.depth = w.dim(1);
  if (p.depth == 0 || x.numel() % p.depth != 0) c.invalid("the input's size is not a multiple of the weights' depth");
  p.batch = x.numel() / p.depth;
  const LinearQuant q = linear_quant(c, t, p.units, 0);
  p.multipliers = q.multipliers.data(), p.filter_offsets = q.filter_offsets.data();
  p.input_offset = q.input_offset, p.output_offset = q.output_offset, p.act_min = q.act_min, p.act_max = q.act_max;
  const Shape declared = c.node.attr_ints("out_shape");
  if (shape_numel(declared) != p.batch * p.units) c.invalid("the declared output shape does not hold batch x units values");
  check_out(c, t, declared);
  Tensor& y = c.out(0, t, declared);
  const int32_t* bias = bias_of(c, 2, p.units);
  if (t == DType::u8)
    kernels::qfully_connected_ref<uint8_t>(p, x.data<uint8_t>(), w.data<uint8_t>(), bias, y.data<uint8_t>());
  else
    kernels::qfully_connected_ref<int8_t>(p, x.data<int8_t>(), w.data<int8_t>(), bias, y.data<int8_t>());
}

void run_pool(OpContext& c, bool average) {
  const Tensor& x = c.in(0);
  const DType t = quantized_type(c, x, "the input");
  check_rank(c, x, 4, "the input");
  const auto in_q = per_tensor(c, "in0", t), out_q = per_tensor(c, "out0", t);
  if (in_q != out_q) c.unsupported("pooling between different quantization parameters");
  const auto kernel = c.node.attr_ints("kernel", {1, 1}), strides = c.node.attr_ints("strides", {1, 1});
  if (kernel.size() != 2 || strides.size() != 2) c.invalid("kernel and strides need two values");
  kernels::QPoolParams p;
  p.batch = x.dim(0), p.in_h = x.dim(1), p.in_w = x.dim(2), p.channels = x.dim(3);
  p.k_h = kernel[0], p.k_w = kernel[1], p.stride_h = strides[0], p.stride_w = strides[1];
  std::tie(p.out_h, p.pad_top) = out_and_pad(c, p.in_h, p.k_h, p.stride_h, 1);
  std::tie(p.out_w, p.pad_left) = out_and_pad(c, p.in_w, p.k_w, p.stride_w, 1);
  std::tie(p.act_min, p.act_max) = activation_range(c, t, out_q.first, out_q.second);
  const Shape out_shape{p.batch, p.out_h, p.out_w, p.channels};
  check_out(c, t, out_shape);
  Tensor& y = c.out(0, t, out_shape);
  if (t == DType::u8)
    (average ? kernels::qaverage_pool_nhwc_ref<uint8_t> : kernels::qmax_pool_nhwc_ref<uint8_t>)(p, x.data<uint8_t>(), y.data<uint8_t>());
  else
    (average ? kernels::qaverage_pool_nhwc_ref<int8_t> : kernels::qmax_pool_nhwc_ref<int8_t>)(p, x.data<int8_t>(), y.data<int8_t>());
}

void run_tfl_average_pool(OpContext& c) { run_pool(c, true); }
void run_tfl_max_pool(OpContext& c) { run_pool(c, false); }

// The two inputs of an elementwise op: one quantized type, shapes that broadcast.
kernels::Broadcast elementwise_inputs(const OpContext& c, DType& t) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  t = quantized_type(c, a, "the first input");
  if (b.dtype() != t) c.unsupported("the inputs' types differ");
  kernels::Broadcast bc;
  if (!kernels::broadcast_of(a.shape(), b.shape(), bc)) c.invalid("shapes " + shape_to_string(a.shape()) + " and " + shape_to_string(b.shape()) + " do not broadcast");
  check_out(c, t, bc.out);
  return bc;
}

template <class Params, class Kernel8, class KernelU8>
void run_elementwise(OpContext& c, const Params& p, const kernels::Broadcast& bc, DType t, Kernel8 k8, KernelU8 ku8) {
  Tensor& y = c.out(0, t, bc.out);
  if (t == DType::u8) ku8(p, bc, c.in(0).data<uint8_t>(), c.in(1).data<uint8_t>(), y.data<uint8_t>());
  else k8(p, bc, c.in(0).data<int8_t>(), c.in(1).data<int8_t>(), y.data<int8_t>());
}

// ADD, and SUB as an add of b with its multiplier negated.
void run_add_or_sub(OpContext& c, bool subtract) {
  DType t;
  const kernels::Broadcast bc = elementwise_inputs(c, t);
  const auto [as, az] = per_tensor(c, "in0", t);
  const auto [bs, bz] = per_tensor(c, "in1", t);
  const auto [os, oz] = per_tensor(c, "out0", t);
  const auto [lo, hi] = activation_range(c, t, os, oz);
  kernels::QAddParams p = kernels::make_qadd_params(as, az, bs, bz, os, oz, lo, hi);
  if (subtract) p.b_multiplier.q = -p.b_multiplier.q;
  run_elementwise(c, p, bc, t, kernels::qadd_ref<int8_t>, kernels::qadd_ref<uint8_t>);
}

void run_tfl_add(OpContext& c) { run_add_or_sub(c, false); }
void run_tfl_sub(OpContext& c) { run_add_or_sub(c, true); }

void run_tfl_mul(OpContext& c) {
  DType t;
  const kernels::Broadcast bc = elementwise_inputs(c, t);
  const auto [as, az] = per_tensor(c, "in0", t);
  const auto [bs, bz] = per_tensor(c, "in1", t);
  const auto [os, oz] = per_tensor(c, "out0", t);
  kernels::QMulParams p;
  p.a_offset = -az, p.b_offset = -bz, p.output_offset = oz;
  p.multiplier = kernels::fxp::quantize_multiplier(double(as * bs / os));  // float arithmetic, as TFLite's
  std::tie(p.act_min, p.act_max) = activation_range(c, t, os, oz);
  run_elementwise(c, p, bc, t, kernels::qmul_ref<int8_t>, kernels::qmul_ref<uint8_t>);
}

// Division rounding toward negative infinity (TFLite's FLOOR_DIV) on int32,
// int64 or float, broadcasting. Integer division by zero, and the one
// quotient that overflows (MIN / -1), are refused (TFLite's are undefined).
template <class T>
void floor_div(const OpContext& c, const kernels::Broadcast& bc, const T* a, const T* b, T* y) {
  kernels::for_each_pair(bc, [&](int64_t i, int64_t ai, int64_t bi) {
    const T x = a[ai], z = b[bi];
    if constexpr (std::is_integral_v<T>) {
      if (z == 0) c.invalid("integer division by zero");
      if (z == T(-1) && x == std::numeric_limits<T>::min()) c.invalid("the quotient overflows");
      T q = T(x / z);
      if (q * z != x && ((x < 0) != (z < 0))) --q;
      y[i] = q;
    } else {
      y[i] = std::floor(x / z);
    }
  });
}

void run_tfl_floor_div(OpContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  if (a.dtype() != b.dtype()) c.invalid("the inputs' types differ");
  kernels::Broadcast bc;
  if (!kernels::broadcast_of(a.shape(), b.shape(), bc)) c.invalid("shapes " + shape_to_string(a.shape()) + " and " + shape_to_string(b.shape()) + " do not broadcast");
  check_out(c, a.dtype(), bc.out);
  Tensor& y = c.out(0, a.dtype(), bc.out);
  if (a.dtype() == DType::i32) floor_div(c, bc, a.data<int32_t>(), b.data<int32_t>(), y.data<int32_t>());
  else if (a.dtype() == DType::i64) floor_div(c, bc, a.data<int64_t>(), b.data<int64_t>(), y.data<int64_t>());
  else if (a.dtype() == DType::f32) floor_div(c, bc, a.data<float>(), b.data<float>(), y.data<float>());
  else c.unsupported(std::string("FLOOR_DIV on ") + dtype_name(a.dtype()));
}

void run_tfl_logistic(OpContext& c) {
  const Tensor& x = c.in(0);
  const DType t = quantized_type(c, x, "the input");
  const auto [in_scale, in_zero] = per_tensor(c, "in0", t);
  const auto [out_scale, out_zero] = per_tensor(c, "out0", t);
  if (out_scale != 1.0f / 256 || out_zero != (t == DType::u8 ? 0 : -128))
    c.unsupported("a quantized logistic output must have scale 1/256 and zero point " + std::string(t == DType::u8 ? "0" : "-128"));
  const kernels::QLogisticParams p = kernels::make_qlogistic_params(in_scale, in_zero);
  if (p.input_multiplier.shift < 0) c.unsupported("an input scale below 2^-27");
  check_out(c, t, x.shape());
  Tensor& y = c.out(0, t, x.shape());
  if (t == DType::u8) kernels::qlogistic_ref(p, x.numel(), x.data<uint8_t>(), y.data<uint8_t>());
  else kernels::qlogistic_ref(p, x.numel(), x.data<int8_t>(), y.data<int8_t>());
}

void run_tfl_softmax(OpContext& c) {
  const Tensor& x = c.in(0);
  const DType t = quantized_type(c, x, "the input");
  if (x.rank() < 1 || x.dim(x.rank() - 1) < 1) c.invalid("softmax needs a non-empty last axis");
  const auto [in_scale, in_zero] = per_tensor(c, "in0", t);
  (void)in_zero;  // differences from the row's maximum do not see it
  const auto [out_scale, out_zero] = per_tensor(c, "out0", t);
  if (out_scale != 1.0f / 256 || out_zero != (t == DType::u8 ? 0 : -128))
    c.unsupported("a quantized softmax output must have scale 1/256 and zero point " + std::string(t == DType::u8 ? "0" : "-128"));
  const float beta = c.node.attr_f("beta", 1.0f);
  if (!(beta > 0 && beta <= kMaxScale)) c.invalid("softmax beta " + std::to_string(beta));
  const kernels::QSoftmaxParams p = kernels::make_qsoftmax_params(double(beta), double(in_scale));
  if (p.input_multiplier.shift < 0) c.unsupported("beta x input scale below 2^-26 (TFLite refuses it too)");
  check_out(c, t, x.shape());
  Tensor& y = c.out(0, t, x.shape());
  const int64_t depth = x.dim(x.rank() - 1), rows = x.numel() / depth;
  if (t == DType::u8)
    kernels::qsoftmax_ref<uint8_t>(p, rows, depth, x.data<uint8_t>(), y.data<uint8_t>());
  else
    kernels::qsoftmax_ref<int8_t>(p, rows, depth, x.data<int8_t>(), y.data<int8_t>());
}

void run_tfl_mean(OpContext& c) {
  const Tensor& x = c.in(0);
  const DType t = quantized_type(c, x, "the input");
  check_rank(c, x, 4, "the input");
  std::vector<int64_t> axes = c.in(1).to_int_vector();
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<int64_t>{1, 2}) c.unsupported("MEAN over axes other than height and width");
  const auto [in_scale, in_zero] = per_tensor(c, "in0", t);
  const auto [out_scale, out_zero] = per_tensor(c, "out0", t);
  if (x.dim(1) * x.dim(2) == 0) c.invalid("MEAN over an empty plane");
  const Shape declared = c.node.attr_ints("out_shape");
  if (shape_numel(declared) != x.dim(0) * x.dim(3)) c.invalid("the declared output shape does not hold batch x channels values");
  check_out(c, t, declared);
  Tensor& y = c.out(0, t, declared);
  if (t == DType::u8)
    kernels::qmean_hw_ref<uint8_t>(x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.data<uint8_t>(), in_zero, in_scale, out_zero, out_scale, y.data<uint8_t>());
  else
    kernels::qmean_hw_ref<int8_t>(x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.data<int8_t>(), in_zero, in_scale, out_zero, out_scale, y.data<int8_t>());
}

void run_tfl_resize_bilinear(OpContext& c) {
  const Tensor& x = c.in(0);
  check_rank(c, x, 4, "the input");
  const DType t = x.dtype();
  if (t != DType::u8 && t != DType::i8 && t != DType::f32) c.unsupported(std::string("RESIZE_BILINEAR of ") + dtype_name(t));
  const std::vector<int64_t> size = c.in(1).to_int_vector();
  if (size.size() != 2 || size[0] < 1 || size[1] < 1) c.invalid("the output size must be two positive values");
  kernels::ResizeParams p;
  p.batch = x.dim(0), p.in_h = x.dim(1), p.in_w = x.dim(2), p.channels = x.dim(3), p.out_h = size[0], p.out_w = size[1];
  if (p.in_h < 1 || p.in_w < 1) c.invalid("resizes an empty image");
  p.align_corners = c.node.attr_i("align_corners", 0) != 0;
  p.half_pixel_centers = c.node.attr_i("half_pixel_centers", 0) != 0;
  if (t != DType::f32 && per_tensor(c, "in0", t) != per_tensor(c, "out0", t)) c.unsupported("resizing between different quantization parameters");
  const Shape out_shape{p.batch, p.out_h, p.out_w, p.channels};
  check_out(c, t, out_shape);
  Tensor& y = c.out(0, t, out_shape);
  if (t == DType::u8) kernels::resize_bilinear_nhwc_ref(p, x.data<uint8_t>(), y.data<uint8_t>());
  else if (t == DType::i8) kernels::resize_bilinear_nhwc_ref(p, x.data<int8_t>(), y.data<int8_t>());
  else kernels::resize_bilinear_nhwc_ref(p, x.data<float>(), y.data<float>());
}

void run_tfl_concatenation(OpContext& c) {
  const Tensor& first = c.in(0);
  const DType t = quantized_type(c, first, "the first input");
  if (c.node.attr_s("activation", "NONE") != "NONE") c.unsupported("a fused activation on CONCATENATION");
  const int64_t rank = first.rank();
  int64_t axis = c.node.attr_i("axis", 0);
  if (axis < -rank || axis >= rank) c.invalid("axis " + std::to_string(axis) + " of a rank-" + std::to_string(rank) + " input");
  if (axis < 0) axis += rank;
  Shape out_shape = first.shape();
  out_shape[size_t(axis)] = 0;
  std::vector<const void*> raw;
  std::vector<int64_t> sizes;
  std::vector<float> scales;
  std::vector<int32_t> zeros;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    const Tensor& x = c.in(i);
    if (x.dtype() != t || x.rank() != rank) c.invalid("input " + std::to_string(i) + " differs in type or rank");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && x.dim(int(d)) != first.dim(int(d))) c.invalid("input " + std::to_string(i) + " differs outside the axis");
    const auto [scale, zero] = per_tensor(c, "in" + std::to_string(i), t);
    raw.push_back(x.raw()), sizes.push_back(x.dim(int(axis))), scales.push_back(scale), zeros.push_back(zero);
    out_shape[size_t(axis)] += x.dim(int(axis));
  }
  const auto [out_scale, out_zero] = per_tensor(c, "out0", t);
  check_out(c, t, out_shape);
  Tensor& y = c.out(0, t, out_shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out_shape[size_t(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= out_shape[size_t(d)];
  if (t == DType::u8) {
    std::vector<const uint8_t*> in;
    for (const void* r : raw) in.push_back(static_cast<const uint8_t*>(r));
    kernels::qconcat_ref(outer, inner, in, sizes, scales, zeros, out_scale, out_zero, y.data<uint8_t>());
  } else {
    std::vector<const int8_t*> in;
    for (const void* r : raw) in.push_back(static_cast<const int8_t*>(r));
    kernels::qconcat_ref(outer, inner, in, sizes, scales, zeros, out_scale, out_zero, y.data<int8_t>());
  }
}

void run_tfl_argmax(OpContext& c) {
  const Tensor& x = c.in(0);
  const DType t = quantized_type(c, x, "the input");
  const std::vector<int64_t> axes = c.in(1).to_int_vector();
  const int64_t rank = x.rank();
  if (rank < 1 || axes.size() != 1 || axes[0] < -rank || axes[0] >= rank) c.invalid("ARG_MAX needs one axis of the input");
  const int64_t axis = axes[0] < 0 ? axes[0] + rank : axes[0];
  const int64_t depth = x.dim(int(axis));
  if (depth < 1) c.invalid("ARG_MAX over an empty axis");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(int(d));
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.dim(int(d));
  Shape out_shape = x.shape();
  out_shape.erase(out_shape.begin() + axis);
  const DType out = DType(c.node.attr_i("out_dtype", int64_t(DType::i64)));
  if (out != DType::i32 && out != DType::i64) c.unsupported("ARG_MAX writing other than int32 or int64");
  check_out(c, out, out_shape);
  Tensor& y = c.out(0, out, out_shape);
  if (t == DType::u8 && out == DType::i64) kernels::argmax_ref(outer, depth, inner, x.data<uint8_t>(), y.data<int64_t>());
  else if (t == DType::u8) kernels::argmax_ref(outer, depth, inner, x.data<uint8_t>(), y.data<int32_t>());
  else if (out == DType::i64) kernels::argmax_ref(outer, depth, inner, x.data<int8_t>(), y.data<int64_t>());
  else kernels::argmax_ref(outer, depth, inner, x.data<int8_t>(), y.data<int32_t>());
}

void run_tfl_reshape(OpContext& c) {
  const Tensor& x = c.in(0);
  const Shape declared = c.node.attr_ints("out_shape");
  if (shape_numel(declared) != x.numel()) c.invalid("reshapes " + shape_to_string(x.shape()) + " to " + shape_to_string(declared));
  check_out(c, x.dtype(), declared);
  // A copy, not a view: the memory planner gives this node's output a slot
  // of its own, and the input's slot may be reused while a view would live.
  Tensor& y = c.out(0, x.dtype(), declared);
  if (x.nbytes()) std::memcpy(y.raw(), x.raw(), x.nbytes());
}

void run_tfl_quantize(OpContext& c) {
  const Tensor& x = c.in(0);
  // The output type the file declares (the loader records whether it is signed).
  const DType t = c.node.attr_i("out_signed", 0) ? DType::i8 : DType::u8;
  const auto [out_scale, out_zero] = per_tensor(c, "out0", t);
  check_out(c, t, x.shape());
  Tensor& y = c.out(0, t, x.shape());
  if (x.dtype() == DType::f32) {
    const float* in = x.data<float>();
    const double lo = t == DType::u8 ? 0 : -128, hi = t == DType::u8 ? 255 : 127;
    for (int64_t i = 0; i < x.numel(); ++i) {
      // Clamped before the conversion (an infinite input saturates); NaN reads as the zero point.
      const double q = std::isnan(in[i]) ? 0.0 : std::round(double(in[i] / out_scale));
      const int32_t v = int32_t(std::clamp(q + out_zero, lo, hi));
      if (t == DType::u8) y.data<uint8_t>()[i] = uint8_t(v);
      else y.data<int8_t>()[i] = int8_t(v);
    }
    return;
  }
  const DType ti = quantized_type(c, x, "the input");
  const auto [in_scale, in_zero] = per_tensor(c, "in0", ti);
  const Multiplier m = kernels::fxp::quantize_multiplier(double(in_scale) / double(out_scale));
  if (ti == DType::u8 && t == DType::i8) kernels::qrequantize_ref(x.numel(), x.data<uint8_t>(), in_zero, m, out_zero, y.data<int8_t>());
  else if (ti == DType::i8 && t == DType::u8) kernels::qrequantize_ref(x.numel(), x.data<int8_t>(), in_zero, m, out_zero, y.data<uint8_t>());
  else if (ti == DType::i8) kernels::qrequantize_ref(x.numel(), x.data<int8_t>(), in_zero, m, out_zero, y.data<int8_t>());
  else kernels::qrequantize_ref(x.numel(), x.data<uint8_t>(), in_zero, m, out_zero, y.data<uint8_t>());
}

void run_tfl_dequantize(OpContext& c) {
  const Tensor& x = c.in(0);
  const DType t = quantized_type(c, x, "the input");
  const auto [scale, zero] = per_tensor(c, "in0", t);
  check_out(c, DType::f32, x.shape());
  Tensor& y = c.out(0, DType::f32, x.shape());
  float* out = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int32_t v = t == DType::u8 ? int32_t(x.data<uint8_t>()[i]) : int32_t(x.data<int8_t>()[i]);
    out[i] = float(double(scale) * double(v - zero));
  }
}

}  // namespace

void register_tflite_ops(OpRegistry& r) {
  r.add("TflConv2D", run_tfl_conv);
  r.add("TflDepthwiseConv2D", run_tfl_depthwise);
  r.add("TflFullyConnected", run_tfl_fully_connected);
  r.add("TflAveragePool2D", run_tfl_average_pool);
  r.add("TflMaxPool2D", run_tfl_max_pool);
  r.add("TflAdd", run_tfl_add);
  r.add("TflSub", run_tfl_sub);
  r.add("TflMul", run_tfl_mul);
  r.add("TflLogistic", run_tfl_logistic);
  r.add("TflFloorDiv", run_tfl_floor_div);
  r.add("TflSoftmax", run_tfl_softmax);
  r.add("TflMean", run_tfl_mean);
  r.add("TflReshape", run_tfl_reshape);
  r.add("TflResizeBilinear", run_tfl_resize_bilinear);
  r.add("TflConcatenation", run_tfl_concatenation);
  r.add("TflArgMax", run_tfl_argmax);
  r.add("TflQuantize", run_tfl_quantize);
  r.add("TflDequantize", run_tfl_dequantize);
}

}  // namespace pareto::runtime
