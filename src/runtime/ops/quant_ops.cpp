// ONNX's quantization operators, both forms other tools write: QDQ
// (QuantizeLinear / DequantizeLinear around float ops) and QOperator
// (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger), plus
// DynamicQuantizeLinear. Convolutions run on the integer conv kernel; the
// matmuls are plain integer loops (they are small in the perception models).
#include <cmath>
#include <limits>

#include <algorithm>
#include <optional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "kernels/int8_conv.h"
#include "kernels/int8_matmul.h"
#include "kernels/lookup.h"
#include "kernels/scratch.h"
#include "runtime/executor.h"
#include "runtime/ops/cache_stamps.h"
#include "runtime/ops/conv_params.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

bool is_q8(DType t) { return t == DType::u8 || t == DType::i8; }

int32_t q8_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::i8 ? int32_t(t.data<int8_t>()[i]) : int32_t(t.data<uint8_t>()[i]);
}

void store_q8(Tensor& t, int64_t i, int32_t v) {
  if (t.dtype() == DType::i8) t.data<int8_t>()[i] = int8_t(v);
  else t.data<uint8_t>()[i] = uint8_t(v);
}

int32_t q8_lo(DType t) { return t == DType::i8 ? -128 : 0; }
int32_t q8_hi(DType t) { return t == DType::i8 ? 127 : 255; }

// Scale and zero point of a Quantize/DequantizeLinear: one value, or one per
// index along `axis`; param(i) gives the element's (scale, zero).
struct LinearParams {
  const Tensor* scale;
  const Tensor* zero;  // may be null
  int64_t inner = 1, dim = 1;
  bool per_axis = false;
  float scale_at(int64_t i) const { return scale->data<float>()[per_axis ? i / inner % dim : 0]; }
  int32_t zero_at(int64_t i) const { return zero ? q8_or_i32(*zero, per_axis ? i / inner % dim : 0) : 0; }
  static int32_t q8_or_i32(const Tensor& t, int64_t i) { return t.dtype() == DType::i32 ? t.data<int32_t>()[i] : q8_at(t, i); }
};

LinearParams linear_params(const OpContext& ctx, const Tensor& x, size_t scale_index, size_t zero_index) {
  LinearParams lp;
  lp.scale = &ctx.in(scale_index);
  lp.zero = ctx.has(zero_index) ? &ctx.in(zero_index) : nullptr;
  if (lp.scale->dtype() != DType::f32) ctx.unsupported(std::string("scale of type ") + dtype_name(lp.scale->dtype()));
  if (ctx.node.attr_i("block_size", 0) != 0) ctx.unsupported("blocked quantization (block_size)");
  const int64_t n = lp.scale->numel();
  if (lp.zero && lp.zero->numel() != n) ctx.invalid("zero point and scale differ in size");
  if (lp.scale->rank() == 0 || n == 1) return lp;
  if (lp.scale->rank() != 1) ctx.invalid("scale must be a scalar or 1-D");
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", 1), x.rank());
  if (x.dim(int(axis)) != n) ctx.invalid("scale has " + std::to_string(n) + " values for axis of size " + std::to_string(x.dim(int(axis))));
  lp.per_axis = true;
  lp.dim = n;
  for (int d = int(axis) + 1; d < x.rank(); ++d) lp.inner *= x.dim(d);
  return lp;
}

void run_quantize_linear(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32) ctx.unsupported(std::string("QuantizeLinear of ") + dtype_name(x.dtype()));
  const LinearParams lp = linear_params(ctx, x, 1, 2);
  DType out = lp.zero ? lp.zero->dtype() : DType::u8;
  if (ctx.node.has_attr("output_dtype") && ctx.node.attr_i("output_dtype", 0) != 0) {
    const int64_t od = ctx.node.attr_i("output_dtype", 0);
    out = od == 3 ? DType::i8 : od == 2 ? DType::u8 : DType::undefined;
  }
  if (!is_q8(out)) ctx.unsupported("QuantizeLinear to a type other than int8/uint8");
  if (lp.zero && lp.zero->dtype() != out) ctx.invalid("zero point type differs from the output type");
  Tensor& y = ctx.out(0, out, x.shape());
  const float* xs = x.data<float>();
  const int32_t lo = q8_lo(out), hi = q8_hi(out);
  if (!lp.per_axis && out == DType::u8) {  // the common per-tensor uint8 case: the vector kernel
    const float scale = lp.scale_at(0);
    const int32_t zero = lp.zero_at(0);
    uint8_t* ys = y.data<uint8_t>();
    parallel_chunks(x.numel(), [&](int64_t b, int64_t e) { kernels::quantize_u8(xs + b, e - b, scale, zero, ys + b); });
    return;
  }
  parallel_chunks(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) store_q8(y, i, kernels::quantize_value(xs[i] / lp.scale_at(i), lp.zero_at(i), lo, hi));
  });
}

void run_dequantize_linear(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (!is_q8(x.dtype()) && x.dtype() != DType::i32) ctx.unsupported(std::string("DequantizeLinear of ") + dtype_name(x.dtype()));
  const LinearParams lp = linear_params(ctx, x, 1, 2);
  if (lp.zero && lp.zero->dtype() != x.dtype()) ctx.invalid("zero point type differs from the input's");
  Tensor& y = ctx.out(0, DType::f32, x.shape());
  float* ys = y.data<float>();
  if (!lp.per_axis && x.dtype() == DType::u8) {  // per tensor: a loop the compiler vectorizes
    const float scale = lp.scale_at(0);
    const int32_t zero = lp.zero_at(0);
    const uint8_t* xs = x.data<uint8_t>();
    parallel_chunks(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ys[i] = float(int32_t(xs[i]) - zero) * scale;
    });
    return;
  }
  parallel_chunks(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t v = x.dtype() == DType::i32 ? int64_t(x.data<int32_t>()[i]) : int64_t(q8_at(x, i));
      ys[i] = float(v - lp.zero_at(i)) * lp.scale_at(i);
    }
  });
}

// The scale and zero point that map [min(x, 0), max(x, 0)] onto [0, 255]
// (uint8), as the ONNX definition of DynamicQuantizeLinear computes them;
// scale 0 for a tensor of zeros.
struct DynamicRange {
  float scale = 0;
  int32_t zero = 0;
};

DynamicRange dynamic_uint8_range(const OpContext& ctx, const Tensor& x) {
  const float* xs = x.data<float>();
  // Chunks in parallel (min and max do not depend on the order); the error
  // names the first element that is not finite.
  std::mutex m;
  float lo = 0.f, hi = 0.f;
  int64_t first_bad = x.numel();
  parallel_chunks(x.numel(), [&](int64_t b, int64_t e) {
    float l = 0.f, h = 0.f;
    int64_t bad = x.numel();
    for (int64_t i = b; i < e; ++i) {
      if (!std::isfinite(xs[i])) {
        bad = i;
        break;
      }
      l = std::min(l, xs[i]);
      h = std::max(h, xs[i]);
    }
    std::lock_guard<std::mutex> lock(m);
    lo = std::min(lo, l), hi = std::max(hi, h), first_bad = std::min(first_bad, bad);
  });
  if (first_bad < x.numel()) ctx.invalid("input contains NaN or infinity at element " + std::to_string(first_bad));
  DynamicRange r;
  r.scale = float((double(hi) - double(lo)) / 255.0);
  if (r.scale > 0.f) r.zero = int32_t(std::nearbyint(std::clamp(0.f - lo / r.scale, 0.f, 255.f)));
  return r;
}

void run_dynamic_quantize_linear(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32) ctx.unsupported(std::string("DynamicQuantizeLinear of ") + dtype_name(x.dtype()));
  const DynamicRange r = dynamic_uint8_range(ctx, x);
  Tensor& y = ctx.out(0, DType::u8, x.shape());
  ctx.out(1, DType::f32, {}).data<float>()[0] = r.scale;
  ctx.out(2, DType::u8, {}).data<uint8_t>()[0] = uint8_t(r.zero);
  uint8_t* ys = y.data<uint8_t>();
  if (!(r.scale > 0.f)) {  // all zeros (or a range too small for a float scale): every byte 0, as the zero point
    std::fill(ys, ys + x.numel(), uint8_t(0));
    return;
  }
  // quantize_value(x / scale) per element, vectorized (the same bits).
  parallel_chunks(x.numel(), [&](int64_t b, int64_t e) { kernels::quantize_u8(x.data<float>() + b, e - b, r.scale, r.zero, ys + b); });
}

// Integer matmul with numpy broadcasting of the batch dims; per-row zero
// points / scales of A and per-column ones of B where given as 1-D. The
// result goes through `finish(flat_index, row, col, sum)`.
template <class Finish>
Shape integer_matmul(const OpContext& ctx, const Tensor& a, const Tensor& b, const Tensor* a_zero, const Tensor* b_zero, Finish finish,
                     bool shape_only = false) {
  if (!is_q8(a.dtype()) || !is_q8(b.dtype())) ctx.unsupported("integer matmul needs int8/uint8 operands");
  if (a.rank() < 1 || b.rank() < 1) ctx.invalid("operands must have rank >= 1");
  Shape as = a.shape(), bs = b.shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) ctx.invalid("inner dimensions differ: " + shape_to_string(a.shape()) + " x " + shape_to_string(b.shape()));
  const Shape batch_a(as.begin(), as.end() - 2), batch_b(bs.begin(), bs.end() - 2);
  const Shape batch = broadcast_shapes(ctx.node, batch_a, batch_b);
  Shape out = batch;
  if (!a_vec) out.push_back(m);
  if (!b_vec) out.push_back(n);
  if (shape_only) return out;
  auto zp = [&](const Tensor* z, int64_t i, int64_t count) -> int32_t {
    if (!z) return 0;
    if (!is_q8(z->dtype())) ctx.invalid("zero point must be int8/uint8");
    if (z->numel() == 1) return q8_at(*z, 0);
    if (z->numel() != count) ctx.invalid("zero point has " + std::to_string(z->numel()) + " values, expected 1 or " + std::to_string(count));
    return q8_at(*z, i);
  };
  const std::vector<int64_t> sa = broadcast_strides(batch_a, batch), sb = broadcast_strides(batch_b, batch);
  const int64_t batches = shape_numel(batch);
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t oa = 0, ob = 0;
    for (int64_t d = int64_t(batch.size()) - 1, rest = bi; d >= 0; --d) {
      const int64_t c = rest % batch[size_t(d)];
      rest /= batch[size_t(d)];
      oa += c * sa[size_t(d)];
      ob += c * sb[size_t(d)];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t sum = 0;
        const int32_t za = zp(a_zero, i, m), zb = zp(b_zero, j, n);
        for (int64_t p = 0; p < k; ++p) sum += int64_t(q8_at(a, (oa * m + i) * k + p) - za) * (q8_at(b, (ob * k + p) * n + j) - zb);
        finish((bi * m + i) * n + j, i, j, sum);
      }
  }
  return out;
}

void run_matmul_integer(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  const Shape out = integer_matmul(ctx, a, b, nullptr, nullptr, [](int64_t, int64_t, int64_t, int64_t) {}, true);
  Tensor& y = ctx.out(0, DType::i32, out);
  int32_t* ys = y.data<int32_t>();
  integer_matmul(ctx, a, b, ctx.has(2) ? &ctx.in(2) : nullptr, ctx.has(3) ? &ctx.in(3) : nullptr,
                 [&](int64_t at, int64_t, int64_t, int64_t s) { ys[at] = int32_t(s); });
}

float scale_of(const OpContext& ctx, const Tensor& s, int64_t i, int64_t count, const char* what) {
  if (s.dtype() != DType::f32) ctx.unsupported(std::string(what) + " of type " + dtype_name(s.dtype()));
  if (s.numel() == 1) return s.data<float>()[0];
  if (s.numel() != count) ctx.invalid(std::string(what) + " has " + std::to_string(s.numel()) + " values, expected 1 or " + std::to_string(count));
  return s.data<float>()[i];
}

void run_qlinear_matmul(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(3);
  const Tensor& y_zero = ctx.in(7);
  if (!is_q8(y_zero.dtype()) || y_zero.numel() != 1) ctx.invalid("y_zero_point must be one int8/uint8 value");
  const Shape out = integer_matmul(ctx, a, b, nullptr, nullptr, [](int64_t, int64_t, int64_t, int64_t) {}, true);
  const int64_t m = a.rank() == 1 ? 1 : a.dim(a.rank() - 2), n = b.rank() == 1 ? 1 : b.dim(b.rank() - 1);
  Tensor& y = ctx.out(0, y_zero.dtype(), out);
  const float ys = scale_of(ctx, ctx.in(6), 0, 1, "y_scale");
  const int32_t yz = q8_at(y_zero, 0), lo = q8_lo(y.dtype()), hi = q8_hi(y.dtype());
  integer_matmul(ctx, a, b, &ctx.in(2), &ctx.in(5), [&](int64_t at, int64_t i, int64_t j, int64_t s) {
    // the multiplier in float, as the reference computes it
    const float mult = scale_of(ctx, ctx.in(1), i, m, "a_scale") * scale_of(ctx, ctx.in(4), j, n, "b_scale") / ys;
    store_q8(y, at, kernels::quantize_value(float(double(s) * double(mult)), yz, lo, hi));
  });
}

// ConvInteger and QLinearConv: the integer conv kernel with int32 or
// requantized output.
void run_integer_conv(OpContext& ctx, bool qlinear) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(qlinear ? 3 : 1);
  if (!is_q8(x.dtype()) || !is_q8(w.dtype())) ctx.unsupported("integer conv needs int8/uint8 data and weights");
  kernels::Int8ConvParams p;
  p.geo = conv_params(ctx, x, w);
  p.x_signed = x.dtype() == DType::i8;
  const Tensor* xz = ctx.has(2) ? &ctx.in(2) : nullptr;
  const Tensor* wz = ctx.has(qlinear ? 5 : 3) ? &ctx.in(qlinear ? 5 : 3) : nullptr;
  if (xz && (xz->numel() != 1 || xz->dtype() != x.dtype())) ctx.invalid("x_zero_point must be one value of the input's type");
  p.x_zero = xz ? q8_at(*xz, 0) : 0;
  std::vector<int32_t> w_zero;
  if (wz) {
    if (wz->dtype() != w.dtype() || (wz->numel() != 1 && wz->numel() != p.geo.c_out)) ctx.invalid("w_zero_point must have 1 or one per output channel values");
    for (int64_t i = 0; i < wz->numel(); ++i) w_zero.push_back(q8_at(*wz, i));
  }
  const int64_t k = p.geo.c_in / p.geo.group * p.geo.kh * p.geo.kw;
  const kernels::Int8Weights packed = kernels::pack_int8_weights(w.raw(), w.dtype() == DType::i8, p.geo.c_out, k,
                                                                 w_zero.empty() ? nullptr : w_zero.data(), int64_t(w_zero.size()));
  const Shape out = conv_output_shape(x, p.geo);
  std::vector<float> mult;
  std::vector<int32_t> bias;
  if (!qlinear) {
    p.out.kind = kernels::Int8Output::i32;
    Tensor& y = ctx.out(0, DType::i32, out);
    kernels::int8_conv2d(p, x.raw(), packed, y.raw());
    return;
  }
  const Tensor& y_zero = ctx.in(7);
  if (!is_q8(y_zero.dtype()) || y_zero.numel() != 1) ctx.invalid("y_zero_point must be one int8/uint8 value");
  const float xs = scale_of(ctx, ctx.in(1), 0, 1, "x_scale"), ys = scale_of(ctx, ctx.in(6), 0, 1, "y_scale");
  for (int64_t oc = 0; oc < p.geo.c_out; ++oc) mult.push_back(xs * scale_of(ctx, ctx.in(4), oc, p.geo.c_out, "w_scale") / ys);
  if (ctx.has(8)) {
    const Tensor& b = ctx.in(8);
    if (b.dtype() != DType::i32 || b.numel() != p.geo.c_out) ctx.invalid("B must be int32 with one value per output channel");
    bias.assign(b.data<int32_t>(), b.data<int32_t>() + b.numel());
  }
  p.out.kind = kernels::Int8Output::q8;
  p.out.scale = mult.data();
  p.out.bias_i32 = bias.empty() ? nullptr : bias.data();
  p.out.y_zero = q8_at(y_zero, 0);
  p.out.y_signed = y_zero.dtype() == DType::i8;
  Tensor& y = ctx.out(0, y_zero.dtype(), out);
  kernels::int8_conv2d(p, x.raw(), packed, y.raw());
}

void run_conv_integer(OpContext& ctx) { run_integer_conv(ctx, false); }
void run_qlinear_conv(OpContext& ctx) { run_integer_conv(ctx, true); }

void infer_quantize(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  const ir::ValueType* z = ctx.type(2);
  if (!x) return;
  ctx.out_types[0] = *x;
  ctx.out_types[0].dtype = z ? z->dtype : DType::u8;
  const int64_t od = ctx.node.attr_i("output_dtype", 0);
  if (od == 3) ctx.out_types[0].dtype = DType::i8;
  if (od == 2) ctx.out_types[0].dtype = DType::u8;
}

void infer_dequantize(InferContext& ctx) {
  if (!ctx.type(0)) return;
  ctx.out_types[0] = *ctx.type(0);
  ctx.out_types[0].dtype = DType::f32;
}

void infer_dynamic_quantize(InferContext& ctx) {
  if (ctx.type(0)) {
    ctx.out_types[0] = *ctx.type(0);
    ctx.out_types[0].dtype = DType::u8;
  }
  if (ctx.out_types.size() > 1) ctx.out_types[1] = ir::ValueType{DType::f32, true, {}, {}};
  if (ctx.out_types.size() > 2) ctx.out_types[2] = ir::ValueType{DType::u8, true, {}, {}};
}

void infer_conv_integer(InferContext& ctx) { infer_conv_from(ctx, 0, 1, DType::i32); }
void infer_qlinear_conv(InferContext& ctx) {
  const ir::ValueType* z = ctx.type(7);
  infer_conv_from(ctx, 0, 3, z ? z->dtype : DType::u8);
}

}  // namespace

int8_t weight_code(float w, float scale) {
  float v = scale != 0.f ? std::nearbyint(w / scale) : 0.f;
  if (std::isnan(v)) v = 0.f;
  return int8_t(std::clamp(v, -128.f, 127.f));
}

namespace {

// fold_qdq's attributes on a Conv, checked: a model may carry them itself.
// With x_dynamic (a DynamicQuantizeLinear's output folded) the input's
// scale and zero point come from x itself, per run.
struct Int8ConvAttrs {
  float x_scale = 0;
  int32_t x_zero = 0;
  bool dynamic = false;
  // The node's own list (read in place: a copy per call was a heap
  // allocation per int8 conv and run).
  std::span<const float> w_scales;
};

Int8ConvAttrs int8_conv_attrs(const OpContext& ctx, int64_t c_out, const Tensor* x = nullptr) {
  Int8ConvAttrs a;
  const ir::Attribute* scales = ctx.node.attr("w_scales");
  if (scales && scales->kind == ir::AttrKind::floats) a.w_scales = scales->floats;
  if (int64_t(a.w_scales.size()) != c_out) ctx.invalid("int8 attributes (x_scale, x_zero_point, w_scales) do not fit the node");
  for (float s : a.w_scales)
    if (!std::isfinite(s)) ctx.invalid("int8 attribute w_scales holds a value that is not finite");
  a.dynamic = ctx.node.attr_i("x_dynamic", 0) != 0;
  if (a.dynamic) {
    if (!x || x->dtype() != DType::f32 || ctx.node.has_attr("x_scale")) ctx.invalid("x_dynamic needs a float input and no x_scale");
    const DynamicRange r = dynamic_uint8_range(ctx, *x);
    // A tensor of zeros: DynamicQuantizeLinear's scale 0 makes every byte
    // the zero point 0 and the dequantized input 0; scale 1 gives the same
    // bytes (and the same zero sums) and stays a valid scale here.
    a.x_scale = r.scale > 0.f ? r.scale : 1.f;
    a.x_zero = r.zero;
    return a;
  }
  a.x_scale = ctx.node.attr_f("x_scale", 0.f);
  const int64_t zero = ctx.node.attr_i("x_zero_point", 0);
  if (!(a.x_scale > 0.f) || !std::isfinite(a.x_scale) || zero < 0 || zero > 255)
    ctx.invalid("int8 attributes (x_scale, x_zero_point) do not fit the node");
  a.x_zero = int32_t(zero);
  return a;
}

// What an int8 conv derives from its weights: the int8 values (the float
// weights are q * scale) and the float epilogue's per-channel scales.
struct Int8ConvPlan {
  kernels::Int8Weights weights;
  std::vector<float> scale;  // x_scale * w_scale (a static x_scale; a dynamic one multiplies per run)
  // As read and checked when the plan was made (a dynamic x's range is per
  // run); w_scales views the node's attribute, which outlives the executor.
  Int8ConvAttrs attrs;
};

std::shared_ptr<const Int8ConvPlan> make_int8_plan(const kernels::ConvParams& p, const Tensor& w, const Int8ConvAttrs& a) {
  const int64_t k = p.c_in * p.kh * p.kw;
  std::vector<int8_t> q(size_t(p.c_out * k));
  auto plan = std::make_shared<Int8ConvPlan>();
  if (w.dtype() == DType::i8) {  // the codes themselves (a compiled artifact stores them so)
    if (w.numel() != p.c_out * k) fail(StatusCode::internal, "int8 weights do not fit the conv");
    std::copy(w.data<int8_t>(), w.data<int8_t>() + w.numel(), q.begin());
  }
  for (int64_t o = 0; o < p.c_out; ++o) {
    const float s = a.w_scales[size_t(o)];
    if (w.dtype() != DType::i8)
      for (int64_t i = 0; i < k; ++i) q[size_t(o * k + i)] = weight_code(w.data<float>()[o * k + i], s);
    plan->scale.push_back(a.x_scale * s);
  }
  plan->weights = kernels::pack_int8_weights(q.data(), true, p.c_out, k, nullptr, 0);
  kernels::prepare_shifted_weights(plan->weights, p);
  plan->attrs = a;
  return plan;
}

// x to uint8 as QuantizeLinear does, into this thread's grow-only buffer
// (the workers write through the pointer; valid until the next call here).
// A uint8 x is already that: its producer rounded it with these x_scale and
// x_zero_point (passes/fuse_quantize.cpp).
const uint8_t* quantize_input(const Tensor& x, const Int8ConvAttrs& a) {
  if (x.dtype() == DType::u8) return x.data<uint8_t>();
  uint8_t* xq = kernels::thread_scratch<uint8_t, 5>(size_t(x.numel()));
  const float* xf = x.data<float>();
  // NCHW (the conv's input): rounded in bands of rows, as the conv splits its pixels.
  parallel_elementwise(x.shape(), x.numel(), [&](int64_t b, int64_t e) { kernels::quantize_u8(xf + b, e - b, a.x_scale, a.x_zero, xq + b); });
  return xq;
}

}  // namespace

void run_conv_int8(OpContext& ctx, const kernels::ConvParams& p, const Tensor& x, const Tensor& w, const float* bias, float* y,
                   const kernels::QuantizedOutput& quant) {
  if (p.group != 1) ctx.invalid("int8 conv attributes on a grouped conv");
  // Once per executor when the weights are a graph constant (as for float
  // convs); weights fed at run time are converted on every call. The
  // attributes come with the plan: read and checked per call they were
  // a scan of the node's attributes per lookup (PP-OCR cls: ~40 convs).
  std::optional<Int8ConvAttrs> read_now;  // this call's, where the plan was made by it
  const std::shared_ptr<const void> held = prepared_once(ctx, 1, stamps::kInt8ConvPlan, [&]() -> std::shared_ptr<const void> {
    read_now = int8_conv_attrs(ctx, p.c_out, &x);
    return make_int8_plan(p, w, *read_now);
  });
  const auto& plan = *static_cast<const Int8ConvPlan*>(held.get());
  // A dynamic x's scale and zero point come from x itself on every call
  // (once per call: the call that made the plan measured them already).
  const Int8ConvAttrs a = read_now ? *read_now : plan.attrs.dynamic ? int8_conv_attrs(ctx, p.c_out, &x) : plan.attrs;
  kernels::Int8ConvParams q;
  q.geo = p;
  q.x_zero = a.x_zero;
  q.out.kind = kernels::Int8Output::f32;
  thread_local std::vector<float> run_scale;  // x_scale * w_scale of this run's dynamic x_scale
  if (a.dynamic) {
    run_scale.resize(a.w_scales.size());
    for (size_t o = 0; o < a.w_scales.size(); ++o) run_scale[o] = a.x_scale * a.w_scales[o];
  }
  q.out.scale = a.dynamic ? run_scale.data() : plan.scale.data();
  q.out.bias_f32 = bias;
  q.out.act = p.epilogue;
  q.out.quant = quant;
  kernels::int8_conv2d(q, quantize_input(x, a), plan.weights, quant.data ? static_cast<void*>(quant.data) : y);
}

// A MatMul fold_qdq marked int8 (x_scale, x_zero_point, w_scales: one per
// column of B): A [..., m, k] float, rounded to uint8 on the way; B a
// constant [k, n] of the float values q * w_scale its DequantizeLinear
// stood for, turned back into q once per executor.
struct Int8MatmulPlan {
  kernels::Int8MatmulWeights weights;
  std::vector<float> scale;  // x_scale * w_scale
};

// The operands and attributes of an int8 MatMul, checked (errors name the node).
Int8ConvAttrs int8_matmul_attrs(const OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  if (a.dtype() != DType::f32 || b.dtype() != DType::f32) ctx.unsupported("an int8 MatMul reads float A and B");
  if (a.rank() < 1 || b.rank() != 2) ctx.invalid("an int8 MatMul needs A of rank >= 1 and a 2-D B, got " + shape_to_string(a.shape()) + " x " + shape_to_string(b.shape()));
  const int64_t k = b.dim(0), n = b.dim(1);
  if (a.shape().back() != k) ctx.invalid("inner dimensions differ: " + shape_to_string(a.shape()) + " x " + shape_to_string(b.shape()));
  if (k <= 0 || n <= 0) ctx.invalid("an int8 MatMul needs a non-empty B, got " + shape_to_string(b.shape()));
  if (k > kernels::kMaxInt8ConvK) ctx.unsupported("an int8 MatMul with k = " + std::to_string(k) + " (at most " + std::to_string(kernels::kMaxInt8ConvK) + ")");
  return int8_conv_attrs(ctx, n);
}

void run_matmul_int8(OpContext& ctx) {
  const Int8ConvAttrs at = int8_matmul_attrs(ctx);
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  const int64_t k = b.dim(0), n = b.dim(1);
  const std::shared_ptr<const void> held = prepared_once(ctx, 1, stamps::kInt8MatMulPlan, [&]() -> std::shared_ptr<const void> {
    std::vector<int8_t> q(size_t(k * n));
    const float* bf = b.data<float>();
    auto plan = std::make_shared<Int8MatmulPlan>();
    for (int64_t i = 0; i < k * n; ++i) q[size_t(i)] = weight_code(bf[i], at.w_scales[size_t(i % n)]);
    for (float s : at.w_scales) plan->scale.push_back(at.x_scale * s);
    plan->weights = kernels::pack_int8_matmul_weights(q.data(), k, n);
    return plan;
  });
  const auto& plan = *static_cast<const Int8MatmulPlan*>(held.get());
  ctx.path = "int8";
  Shape out = a.shape();  // [..., m, n], or [n] for a 1-D A
  out.back() = n;
  Tensor& y = ctx.out(0, DType::f32, out);
  kernels::int8_matmul(a.data<float>(), a.numel() / k, plan.weights, at.x_scale, at.x_zero, plan.scale.data(), y.data<float>());
}

const float* fake_quantized_input(const OpContext& ctx, const Tensor& x, int64_t c_out) {
  const Int8ConvAttrs a = int8_conv_attrs(ctx, c_out, &x);
  const uint8_t* xq = quantize_input(x, a);
  // Per-thread scratch that only grows: no page faults of a fresh
  // input-sized tensor per call (every value is written below).
  float* out = kernels::thread_scratch<float, 8>(size_t(x.numel()));
  parallel_chunks(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = float(int32_t(xq[i]) - a.x_zero) * a.x_scale;
  });
  return out;
}

Tensor matmul_input_on_int8_grid(const OpContext& ctx) {
  const Int8ConvAttrs at = int8_matmul_attrs(ctx);
  const Tensor& a = ctx.in(0);
  const float* rounded = fake_quantized_input(ctx, a, int64_t(at.w_scales.size()));
  Tensor out = Tensor::empty(DType::f32, a.shape());
  std::copy(rounded, rounded + a.numel(), out.data<float>());
  return out;
}

namespace {

// pareto::QGlobalAveragePool(x u8, x_scale, x_zero_point, y_scale,
// y_zero_point): DequantizeLinear -> GlobalAveragePool -> QuantizeLinear on
// the integers (fold_qdq makes it). Each plane's sum is exact in integers;
// one float product then rounds, y = round_half_even(float(sum - n zx) *
// (sx / (sy n))) + zy, the arithmetic of ONNX Runtime's
// QLinearGlobalAveragePool, which ONNX Runtime runs for the same QDQ nodes.
// A float sum of the dequantized values rounds at every add and landed a
// step away from it near the rounding boundaries (rec's squeeze-excite
// pools: 2 of 240 values, each rescaling a whole channel after the gate).
void run_qglobal_average_pool(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::u8) ctx.unsupported(std::string("QGlobalAveragePool of ") + dtype_name(x.dtype()));
  if (x.rank() < 3) ctx.invalid("input must have rank >= 3");
  for (size_t i = 1; i < 5; ++i)
    if (ctx.in(i).numel() != 1) ctx.invalid("quantization parameters must be scalars");
  if (ctx.in(1).dtype() != DType::f32 || ctx.in(3).dtype() != DType::f32 || ctx.in(2).dtype() != DType::u8 || ctx.in(4).dtype() != DType::u8)
    ctx.invalid("scales must be float and zero points uint8");
  Shape out = x.shape();
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  const int64_t planes = x.dim(0) * x.dim(1), plane = planes ? x.numel() / planes : 0;
  if (plane <= 0 || plane >= (int64_t(1) << 23)) ctx.invalid("plane of " + std::to_string(plane) + " values (1 .. 2^23 supported)");
  const int64_t zx = ctx.in(2).data<uint8_t>()[0], zy = ctx.in(4).data<uint8_t>()[0];
  const float sx = ctx.in(1).data<float>()[0], sy = ctx.in(3).data<float>()[0];
  const float scale = sx / (sy * float(plane));
  // ONNX Runtime refuses scales outside [2^-32, 256) too; here a NaN or an
  // infinity would reach the float -> uint8 conversion.
  if (!(sx > 0.f) || !(sy > 0.f) || !(scale >= 0x1.0p-32f && scale < 256.f))
    ctx.invalid("scales " + std::to_string(sx) + " / (" + std::to_string(sy) + " x " + std::to_string(plane) + ") out of range");
  Tensor& y = ctx.out(0, DType::u8, out);
  const uint8_t* xs = x.data<uint8_t>();
  uint8_t* ys = y.data<uint8_t>();
  parallel_for(planes, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const uint8_t* s = xs + p * plane;
      int64_t sum = 0;
      for (int64_t i = 0; i < plane; ++i) sum += s[i];
      const float v = std::nearbyint(float(sum - zx * plane) * scale) + float(zy);
      ys[p] = uint8_t(std::clamp(v, 0.f, 255.f));
    }
  });
}

void infer_qglobal_average_pool(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  if (!x) return;
  ctx.out_types[0] = *x;
  ctx.out_types[0].dtype = DType::u8;
  ctx.out_types[0].dim_params.clear();
  for (size_t i = 2; i < ctx.out_types[0].dims.size(); ++i) ctx.out_types[0].dims[i] = 1;
}

// pareto::QLookup(x u8|i8, table [T, 256] f32|u8|i8; axis, default 1):
// y[i] = table[t][byte of x[i]], t the index along `axis` when T > 1 (one
// table per channel), else 0. fold_qdq_lookup makes it from a
// DequantizeLinear and the elementwise ops after it, whose result is a
// function of the byte and the channel only (the table is that function,
// computed by the same ops at compile time).
void run_qlookup(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& table = ctx.in(1);
  if (!is_q8(x.dtype())) ctx.unsupported(std::string("QLookup of ") + dtype_name(x.dtype()));
  if (table.rank() != 2 || table.dim(1) != 256) ctx.invalid("table must be [T, 256]");
  if (table.dtype() != DType::f32 && !is_q8(table.dtype())) ctx.invalid(std::string("table of ") + dtype_name(table.dtype()));
  const int64_t axis = ctx.node.attr_i("axis", 1), tables = table.dim(0);
  if (tables != 1 && (axis < 0 || axis >= int64_t(x.rank()) || x.dim(size_t(axis)) != tables))
    ctx.invalid(std::to_string(tables) + " tables for axis " + std::to_string(axis) + " of a rank-" + std::to_string(x.rank()) + " input");
  int64_t inner = 1;  // values per table run: the dims after the axis
  for (size_t d = size_t(axis) + 1; tables > 1 && d < size_t(x.rank()); ++d) inner *= x.dim(d);
  Tensor& y = ctx.out(0, table.dtype(), x.shape());
  const uint8_t* xs = static_cast<const uint8_t*>(x.raw());
  const bool floats = table.dtype() == DType::f32;
  // Float tables as byte planes (kernels/lookup.h), split once per node.
  std::shared_ptr<const void> planes;
  if (floats)
    planes = prepared_once(ctx, 1, stamps::kLookupPlanes, [&]() -> std::shared_ptr<const void> {
      auto p = std::make_shared<std::vector<uint8_t>>(size_t(tables) * 1024);
      for (int64_t t = 0; t < tables; ++t) kernels::split_float_table(table.data<float>() + t * 256, p->data() + t * 1024);
      return p;
    });
  const uint8_t* split = floats ? static_cast<const std::vector<uint8_t>*>(planes.get())->data() : nullptr;
  parallel_elementwise(x.shape(), x.numel(), [&](int64_t b, int64_t e) {
    while (b < e) {  // one table's run at a time
      const int64_t t = tables == 1 ? 0 : (b / inner) % tables;
      const int64_t stop = tables == 1 ? e : std::min(e, (b / inner + 1) * inner);
      if (floats) kernels::lookup_floats(xs + b, stop - b, split + t * 1024, y.data<float>() + b);
      else kernels::lookup_bytes(xs + b, stop - b, static_cast<const uint8_t*>(table.raw()) + t * 256, static_cast<uint8_t*>(y.raw()) + b);
      b = stop;
    }
  });
}

void infer_qlookup(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  const ir::ValueType* t = ctx.type(1);
  if (!x || !t) return;
  ctx.out_types[0] = *x;
  ctx.out_types[0].dtype = t->dtype;
}

}  // namespace

void register_quant_ops(OpRegistry& r) {
  r.add("QuantizeLinear", run_quantize_linear, infer_quantize);
  r.add("DequantizeLinear", run_dequantize_linear, infer_dequantize);
  r.add("DynamicQuantizeLinear", run_dynamic_quantize_linear, infer_dynamic_quantize);
  r.add("MatMulInteger", run_matmul_integer);
  r.add("QLinearMatMul", run_qlinear_matmul);
  r.add("ConvInteger", run_conv_integer, infer_conv_integer);
  r.add("QLinearConv", run_qlinear_conv, infer_qlinear_conv);
  r.add("QGlobalAveragePool", run_qglobal_average_pool, infer_qglobal_average_pool);  // domain pareto (fold_qdq)
  r.add("QLookup", run_qlookup, infer_qlookup);                                          // domain pareto (fold_qdq_lookup)
}

}  // namespace pareto::runtime
