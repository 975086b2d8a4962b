// pareto's fused matrix ops (domain "pareto", written by the compiler):
// FusedGemm / FusedMatMul run the plain op and apply the activation to its
// output in place, saving the activation node and its intermediate tensor.
// (FusedConv lives with Conv in nn.cpp: its activation runs per output block.)
// FusedAdd (passes/fuse_upsample.cpp) is a + a*gate + upsample(b) in one
// pass, FusedConcat a channel concat of upsampled inputs; either may write
// its output rounded to uint8 (out_scale, out_zero_point: fuse_quantize)
// for the int8 convs that alone read it.
//
// FusedAdd must equal the unfused Mul, Add, Add bit for bit: contraction of
// a*g + a into one FMA would round once where they round twice. x86-64's
// base flags have no FMA and the AArch64 build turns contraction off, but a
// build with -march=native would not; off here whatever the flags.
#pragma GCC optimize("fp-contract=off")
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "core/checked.h"
#include "pareto/limits.hpp"
#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/int8_conv.h"
#include "runtime/op_registry.h"
#include "runtime/executor.h"
#include "runtime/ops/cache_stamps.h"
#include "runtime/ops/conv_params.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

template <const char* Base>
void run_fused(OpContext& ctx) {
  static const OpDef* base = op_registry().find("", Base);
  base->run(ctx);
  kernels::Activation act;
  act.kind = kernels::act_kind_by_name(ctx.node.attr_s("activation", ""));
  act.alpha = ctx.node.attr_f("alpha", 0.f);
  act.beta = ctx.node.attr_f("beta", 0.f);
  if (act.kind == kernels::ActKind::none) ctx.unsupported("fused activation '" + ctx.node.attr_s("activation", "") + "'");
  Tensor& y = ctx.outputs[0];
  if (y.dtype() != DType::f32) ctx.unsupported(std::string("fused activation on ") + dtype_name(y.dtype()));
  kernels::apply_activation(act, y.data<float>(), nullptr, y.numel());
}

// Nearest upsampling of one row by an integer factor.
void widen_row(const float* src, int64_t n, int64_t factor, float* dst) {
  for (int64_t j = 0; j < n; ++j, dst += factor) std::fill(dst, dst + factor, src[j]);
}

// One output row: a + a*g (when gated) + up, in the order the unfused
// Mul, Add, Add nodes compute it (no FMA contraction in this file), so the
// result is theirs bit for bit.
void gated_add_row(const float* a, const float* up, const float* gate, float* out, int64_t w) {
  if (gate && up) {
    const float g = *gate;
    for (int64_t i = 0; i < w; ++i) out[i] = (a[i] + a[i] * g) + up[i];
  } else if (gate) {
    const float g = *gate;
    for (int64_t i = 0; i < w; ++i) out[i] = a[i] + a[i] * g;
  } else {
    for (int64_t i = 0; i < w; ++i) out[i] = a[i] + up[i];
  }
}

// out_scale / out_zero_point: the output rounded to uint8 as
// QuantizeLinear would round it, a band of a plane's rows at a time while it is in cache.
// Checked here: the node may come from an artifact file.
struct RoundedOutput {
  bool on = false;
  float scale = 1;
  int32_t zero = 0;
};

RoundedOutput rounded_output(const OpContext& ctx) {
  RoundedOutput q;
  if (!ctx.node.has_attr("out_scale")) return q;
  q.on = true;
  q.scale = ctx.node.attr_f("out_scale", 0.f);
  const int64_t zero = ctx.node.attr_i("out_zero_point", 0);
  if (!(q.scale > 0.f) || !std::isfinite(q.scale) || zero < 0 || zero > 255) ctx.invalid("out_scale / out_zero_point out of range");
  q.zero = int32_t(zero);
  return q;
}

// Where the n output values of a band of a plane's rows starting at element
// `at` are computed: the float output itself, or (rounded output) this
// thread's buffer, rounded into the uint8 output by finish() in one call (a
// call per row cost more than the rounding of short rows).
struct PlaneSink {
  const RoundedOutput& q;
  Tensor& y;
  std::vector<float>& buf;
  float* plane(int64_t at, int64_t n) {
    if (!q.on) return y.data<float>() + at;
    if (buf.size() < size_t(n)) buf.resize(size_t(n));
    return buf.data();
  }
  void finish(int64_t at, int64_t n) {
    if (q.on) kernels::quantize_u8(buf.data(), n, q.scale, q.zero, y.data<uint8_t>() + at);
  }
};

// FusedAdd's and FusedSqueezeExcite's: x's shape, uint8 with out_scale.
void infer_fused_add(InferContext& ctx) {
  infer_same_as_input(ctx);
  if (ctx.node.has_attr("out_scale")) ctx.out_types[0].dtype = DType::u8;
  // With broadcast_fallback a run may broadcast past x's shape: only the rank is sure.
  if (ctx.node.has_attr("broadcast_fallback") && ctx.out_types[0].rank_known)
    std::fill(ctx.out_types[0].dims.begin(), ctx.out_types[0].dims.end(), int64_t(-1));
}

// A FusedAdd compiled without known shapes (fuse_upsample's
// broadcast_fallback) whose run is not its form: the nodes it replaced, as
// ONNX computes them: Mul(a, gate) and Add(a, that) where there is a gate,
// b repeated fh x fw (the nearest upsample) and added, each broadcast (an
// operand that broadcasts no way is refused by name, as the Add would be).
void fused_add_broadcast(OpContext& ctx, const Tensor& a, const Tensor* b, const Tensor* gate, int64_t fh, int64_t fw) {
  using Steps = std::array<int64_t, 2>;
  // out = lhs op rhs over their broadcast shape.
  auto binary = [&](const Tensor& lhs, const Tensor& rhs, Tensor& out, bool add) {
    const float *lp = lhs.data<float>(), *rp = rhs.data<float>();
    float* op = out.data<float>();
    for_each_broadcast<2>(out.shape(), {&lhs.shape(), &rhs.shape()}, [&](int64_t o, const Steps& in, int64_t k, const Steps& st) {
      for (int64_t i = 0; i < k; ++i) op[o + i] = add ? lp[in[0] + i * st[0]] + rp[in[1] + i * st[1]] : lp[in[0] + i * st[0]] * rp[in[1] + i * st[1]];
    });
  };
  Tensor left = a;
  if (gate) {
    const Shape shape = broadcast_shapes(ctx.node, a.shape(), gate->shape());
    Tensor product = Tensor::empty(DType::f32, shape), sum = Tensor::empty(DType::f32, broadcast_shapes(ctx.node, a.shape(), shape));
    binary(a, *gate, product, false);
    binary(a, product, sum, true);
    left = sum;
  }
  Tensor up;
  if (b) {
    if (b->rank() != 4) ctx.invalid("upsampled operand " + shape_to_string(b->shape()) + " is not 4-D");
    if (b->dim(2) > INT64_MAX / fh || b->dim(3) > INT64_MAX / fw) ctx.invalid("upsampled operand " + shape_to_string(b->shape()) + " too large");
    up = Tensor::empty(DType::f32, {b->dim(0), b->dim(1), b->dim(2) * fh, b->dim(3) * fw});
    const float* bp = b->data<float>();
    float* u = up.data<float>();
    for (int64_t plane = 0; plane < up.dim(0) * up.dim(1); ++plane)
      for (int64_t r = 0; r < up.dim(2); ++r) widen_row(bp + (plane * b->dim(2) + r / fh) * b->dim(3), b->dim(3), fw, u + (plane * up.dim(2) + r) * up.dim(3));
  }
  const Shape shape = b ? broadcast_shapes(ctx.node, left.shape(), up.shape()) : left.shape();
  Tensor& y = ctx.out(0, DType::f32, shape);
  if (b) binary(left, up, y, true);
  else std::copy_n(left.data<float>(), left.numel(), y.data<float>());
}

// Inputs a [N, C, H, W], b [N, C, H/fh, W/fw] (optional), gate [N|1, C, 1, 1]
// (optional); attribute upsample = [fh, fw]. The node may come from an
// artifact file, so every shape is checked here, not assumed from the pass.
void run_fused_add(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor* b = ctx.has(1) ? &ctx.in(1) : nullptr;
  const Tensor* gate = ctx.has(2) ? &ctx.in(2) : nullptr;
  if (!b && !gate) ctx.invalid("needs an upsampled operand or a gate");
  if (a.dtype() != DType::f32 || a.rank() != 4) ctx.unsupported("FusedAdd on anything but a 4-D f32 tensor");
  const int64_t n = a.dim(0), c = a.dim(1), h = a.dim(2), w = a.dim(3);
  const std::vector<int64_t> f = ctx.node.attr_ints("upsample", {1, 1});
  if (f.size() != 2 || f[0] < 1 || f[1] < 1) ctx.invalid("upsample must be two factors of at least 1");
  // Divisions, not products: hostile factors cannot overflow.
  const bool b_fits = !b || (b->dtype() == DType::f32 && b->rank() == 4 && b->dim(0) == n && b->dim(1) == c && h % f[0] == 0 &&
                             w % f[1] == 0 && b->dim(2) == h / f[0] && b->dim(3) == w / f[1]);
  const bool gate_fits = !gate || (gate->dtype() == DType::f32 && gate->rank() == 4 && (gate->dim(0) == 1 || gate->dim(0) == n) &&
                                   gate->dim(1) == c && gate->dim(2) == 1 && gate->dim(3) == 1);
  // Compiled without known shapes: a run that is not the fused form is the unfused nodes' (float operands only).
  if ((!b_fits || !gate_fits) && ctx.node.has_attr("broadcast_fallback") && !ctx.node.has_attr("out_scale") &&
      (!b || b->dtype() == DType::f32) && (!gate || gate->dtype() == DType::f32))
    return fused_add_broadcast(ctx, a, b, gate, f[0], f[1]);
  if (!b_fits)
    ctx.invalid("upsampled operand " + shape_to_string(b->shape()) + " times " + std::to_string(f[0]) + "x" + std::to_string(f[1]) +
                " does not give " + shape_to_string(a.shape()));
  if (!gate_fits)
    ctx.invalid("gate " + shape_to_string(gate->shape()) + " is not one value per channel of " + shape_to_string(a.shape()));
  const RoundedOutput q = rounded_output(ctx);
  Tensor& y = ctx.out(0, q.on ? DType::u8 : DType::f32, a.shape());
  const int64_t bw = w / f[1];
  // Bands of rows of every plane per thread, as the convolutions around it split their pixels.
  parallel_plane_bands(n * c, h, w, [&](int64_t plane, int64_t r0, int64_t r1) {
    thread_local std::vector<float> row, plane_buf;
    row.resize(size_t(f[1] > 1 ? w : 0));
    PlaneSink sink{q, y, plane_buf};
    const int64_t at = (plane * h + r0) * w, count = (r1 - r0) * w;
    const float* ap = a.data<float>() + at;
    float* yp = sink.plane(at, count);
    const float* g = gate ? gate->data<float>() + (gate->dim(0) == 1 ? plane % c : plane) : nullptr;
    if (!b) {
      gated_add_row(ap, nullptr, g, yp, count);
      sink.finish(at, count);
      return;
    }
    const float* bp = b->data<float>() + plane * (h / f[0]) * bw;
    for (int64_t r = r0; r < r1;) {  // each source row widened once for the output rows it feeds
      const int64_t i = r / f[0], last = std::min(r1, (i + 1) * f[0]);
      const float* up = bp + i * bw;
      if (f[1] > 1) {
        widen_row(up, bw, f[1], row.data());
        up = row.data();
      }
      for (; r < last; ++r) gated_add_row(ap + (r - r0) * w, up, g, yp + (r - r0) * w, w);
    }
    sink.finish(at, count);
  });
}

// Concat along channels of inputs [N, C_i, H/fh_i, W/fw_i], each upsampled
// by nearest-neighbour at its factors (attribute upsample = fh_0, fw_0,
// fh_1, ...) to [N, C_i, H, W]: each input's rows go straight into its
// slice of the output.
struct ConcatPart {
  const float* data;
  int64_t channels, fh, fw, first;  // first: its first output channel
};

std::vector<ConcatPart> concat_parts(const OpContext& ctx, Shape* out) {
  const std::vector<int64_t> f = ctx.node.attr_ints("upsample");
  if (ctx.num_inputs() == 0 || f.size() != 2 * ctx.num_inputs()) ctx.invalid("upsample needs two factors per input");
  std::vector<ConcatPart> parts;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& x = ctx.in(i);
    const int64_t fh = f[2 * i], fw = f[2 * i + 1];
    if (x.dtype() != DType::f32 || x.rank() != 4) ctx.unsupported("FusedConcat of anything but 4-D f32 tensors");
    // Products checked against the first input's by division: hostile factors cannot overflow.
    if (fh < 1 || fw < 1 || (i == 0 && (x.dim(2) > INT64_MAX / fh || x.dim(3) > INT64_MAX / fw)))
      ctx.invalid("upsample factors of input " + std::to_string(i) + " are out of range");
    if (i == 0) *out = {x.dim(0), 0, x.dim(2) * fh, x.dim(3) * fw};
    const Shape& o = *out;
    if (x.dim(0) != o[0] || o[2] % fh || o[3] % fw || x.dim(2) != o[2] / fh || x.dim(3) != o[3] / fw)
      ctx.invalid("input " + std::to_string(i) + " " + shape_to_string(x.shape()) + " upsampled " + std::to_string(fh) + "x" +
                  std::to_string(fw) + " is not [" + std::to_string(o[0]) + ", C, " + std::to_string(o[2]) + ", " + std::to_string(o[3]) + "]");
    // Zero-element inputs can carry any channel count: the sum is checked.
    if (x.dim(1) > INT64_MAX - o[1]) ctx.invalid("channels of input " + std::to_string(i) + " overflow the output's");
    parts.push_back({x.data<float>(), x.dim(1), fh, fw, o[1]});
    (*out)[1] += x.dim(1);
  }
  return parts;
}

void run_fused_concat(OpContext& ctx) {
  Shape shape;
  const std::vector<ConcatPart> parts = concat_parts(ctx, &shape);
  const RoundedOutput q = rounded_output(ctx);
  Tensor& y = ctx.out(0, q.on ? DType::u8 : DType::f32, shape);
  const int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  // Bands of rows of every plane per thread, as the convolutions around it split their pixels.
  parallel_plane_bands(n * c, h, w, [&](int64_t plane, int64_t r0, int64_t r1) {
    thread_local std::vector<float> plane_buf;
    PlaneSink sink{q, y, plane_buf};
    const int64_t image = plane / c, ch = plane % c;
    size_t k = 0;
    while (k + 1 < parts.size() && ch >= parts[k + 1].first) ++k;
    const ConcatPart& p = parts[k];
    const int64_t sh = h / p.fh, sw = w / p.fw;
    const float* src = p.data + (image * p.channels + (ch - p.first)) * sh * sw;
    const int64_t at = (plane * h + r0) * w, count = (r1 - r0) * w;
    float* dst = sink.plane(at, count);
    for (int64_t r = r0; r < r1;) {  // each source row widened once, then copied to the other rows it feeds
      const int64_t i = r / p.fh, last = std::min(r1, (i + 1) * p.fh);
      const float* s = src + i * sw;
      float* first = dst + (r - r0) * w;
      if (p.fw > 1) widen_row(s, sw, p.fw, first);
      else std::copy(s, s + sw, first);
      for (++r; r < last; ++r) std::copy(first, first + w, dst + (r - r0) * w);
    }
    sink.finish(at, count);
  });
}

void infer_fused_concat(InferContext& ctx) {
  const std::vector<int64_t> f = ctx.node.attr_ints("upsample");
  ctx.out_types[0].dtype = ctx.node.has_attr("out_scale") ? DType::u8 : DType::f32;
  Shape out;
  for (size_t i = 0; i < ctx.in_types.size(); ++i) {
    const ir::ValueType* t = ctx.type(i);
    if (!t || !t->fully_known() || t->dims.size() != 4 || f.size() != 2 * ctx.in_types.size()) return;
    if (f[2 * i] < 1 || f[2 * i + 1] < 1 || t->dims[2] > INT64_MAX / f[2 * i] || t->dims[3] > INT64_MAX / f[2 * i + 1]) return;
    if (i == 0) out = {t->dims[0], 0, t->dims[2] * f[0], t->dims[3] * f[1]};
    if (out[1] > INT64_MAX - t->dims[1]) return;
    out[1] += t->dims[1];
  }
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = out;
}

// FusedSqueezeExcite (passes/fuse_squeeze_excite.cpp). Inputs x [N, C, H, W],
// w1 [R, C, 1, 1], b1 [R] (optional), w2 [C, R, 1, 1], b2 [C] (optional);
// y = x * gate with, per image, gate = excite(w2 . squeeze(w1 . mean(x) + b1) + b2).
// Each step is the unfused node's kernel: the pool's kernels::plane_means,
// the convs' kernels::f32_conv2d (se_conv), the Mul's product; with
// out_scale the product is rounded to uint8 while it is in cache.

// One conv of the block: the activation the pass copied from a FusedConv
// (its name, and alpha, beta, post_scale, post_shift, post_floor in one
// list; absent: none), and the int8 input grid of an int8 conv.
struct SeStep {
  kernels::Activation act;
  bool on_grid = false;
  float x_scale = 1;
  int32_t x_zero = 0;
};

struct SeStepNames {
  std::string_view activation, args, x_scale, x_zero_point;
};

SeStep se_step(const OpContext& ctx, const SeStepNames& names) {
  SeStep st;
  if (const ir::Attribute* kind = ctx.node.attr(names.activation)) {
    st.act.kind = kernels::act_kind_by_name(kind->s);
    if (st.act.kind == kernels::ActKind::none) ctx.unsupported("fused activation '" + kind->s + "'");
    const ir::Attribute* args = ctx.node.attr(names.args);
    if (!args || args->kind != ir::AttrKind::floats || args->floats.size() != 5)
      ctx.invalid(std::string(names.args) + " must hold alpha, beta, post_scale, post_shift, post_floor");
    const std::vector<float>& v = args->floats;
    st.act.alpha = v[0];
    st.act.beta = v[1];
    st.act.scale = v[2];
    st.act.shift = v[3];
    st.act.floor = v[4];
  }
  if (ctx.node.has_attr(names.x_scale)) {
    st.on_grid = true;
    st.x_scale = ctx.node.attr_f(names.x_scale, 0.f);
    const int64_t zero = ctx.node.attr_i(names.x_zero_point, 0);
    if (!(st.x_scale > 0.f) || !std::isfinite(st.x_scale) || zero < 0 || zero > 255)
      ctx.invalid(std::string(names.x_scale) + " / " + std::string(names.x_zero_point) + " out of range");
    st.x_zero = int32_t(zero);
  }
  return st;
}

// One conv of the block, k channels to m, on n one-pixel images v into y:
// the ConvParams and packed weights run_conv gives such a conv, then
// kernels::f32_conv2d, so the path (a dot product per image where
// f32_conv_is_single_pixel, else the pointwise or GEMM kernel) and the bits
// are the unfused conv's on every machine. An int8 conv (on_grid) reads v
// rounded to the uint8 grid first, as fake_quantized_input rounds it; the
// unfused one runs so where f32_conv_is_single_pixel (the pass fuses it
// only there), and elsewhere on the int8 kernel, whose exact sums these
// equal up to float rounding (a compiled artifact moved to such a machine).
void se_conv(const OpContext& ctx, const SeStep& st, size_t w_input, int slot, const float* w, const float* bias, const float* v,
             int64_t n, int64_t k, int64_t m, float* y) {
  thread_local std::vector<uint8_t> codes;
  thread_local std::vector<float> rounded;
  if (st.on_grid) {  // (q - zero) * scale: fake_quantized_input's formula, dequantize_u8's
    codes.resize(size_t(n * k));
    rounded.resize(size_t(n * k));
    kernels::quantize_u8(v, n * k, st.x_scale, st.x_zero, codes.data());
    kernels::dequantize_u8(codes.data(), n * k, st.x_scale, st.x_zero, rounded.data());
    v = rounded.data();
  }
  kernels::ConvParams p;
  p.n = n;
  p.c_in = k;
  p.h = p.w = p.out_h = p.out_w = 1;
  p.c_out = m;
  p.epilogue.act = st.act;
  std::shared_ptr<const void> packed;
  if (kernels::f32_conv_uses_packed_weights(p)) {
    packed = packed_conv_weights(ctx, p, false, w, w_input, slot);
    p.packed_weights = static_cast<const float*>(packed.get());
  }
  kernels::f32_conv2d(p, v, w, bias, y);
}

// A constant of the block checked against the shape it must have (the
// node may come from an artifact file); null for an absent optional bias.
// (The shape as a list: no vector built per call.)
const float* se_operand(const OpContext& ctx, size_t i, std::initializer_list<int64_t> want, const char* what) {
  if (!ctx.has(i)) {
    if (want.size() == 1) return nullptr;
    ctx.invalid(std::string(what) + " is missing");
  }
  const Tensor& t = ctx.in(i);
  const Shape& s = t.shape();
  if (t.dtype() != DType::f32 || !std::equal(s.begin(), s.end(), want.begin(), want.end()))
    ctx.invalid(std::string(what) + " " + dtype_name(t.dtype()) + " " + shape_to_string(s) + " is not float32 " + shape_to_string(Shape(want)));
  return t.data<float>();
}

// The block's attributes, read and checked once per executor (per call,
// a dozen scans of the node's attribute list: PP-OCR cls runs ten of
// these per image); an invalid attribute throws on every call.
struct SeSteps {
  SeStep squeeze, excite;
  RoundedOutput q;
};

SeSteps se_steps(const OpContext& ctx) {
  auto read = [&] {
    return SeSteps{se_step(ctx, {"squeeze_activation", "squeeze_args", "squeeze_x_scale", "squeeze_x_zero_point"}),
                   se_step(ctx, {"excite_activation", "excite_args", "excite_x_scale", "excite_x_zero_point"}), rounded_output(ctx)};
  };
  if (!ctx.executor) return read();
  const std::shared_ptr<const void> held = ctx.executor->node_cache(ctx.node, stamps::kSqueezeExciteSteps, [&]() -> std::shared_ptr<const void> {
    return std::make_shared<const SeSteps>(read());
  });
  return *static_cast<const SeSteps*>(held.get());
}

void run_squeeze_excite(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32 || x.rank() != 4) ctx.unsupported("FusedSqueezeExcite on anything but a 4-D f32 tensor");
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), plane = h * w;
  if (!ctx.has(1) || ctx.in(1).rank() != 4) ctx.invalid("the squeeze weights must be [R, C, 1, 1]");
  const int64_t r = ctx.in(1).dim(0);
  // The buffers of means and gates hold n * c and n * r values: refused
  // where the product overflows or passes the tensor limit (x and w1 may
  // have no elements and any count beside the zero), as the unfused pool's
  // and conv's outputs would be.
  for (const int64_t channels : {c, r}) {
    const std::optional<uint64_t> count = checked_mul(uint64_t(n), uint64_t(channels));
    if (!count || *count > current_limits().tensor_elements)
      ctx.invalid("the gates of " + std::to_string(n) + " images x " + std::to_string(channels) + " channels are too many");
  }
  const float* w1 = se_operand(ctx, 1, {r, c, 1, 1}, "squeeze weights");
  const float* b1 = se_operand(ctx, 2, {r}, "squeeze bias");
  const float* w2 = se_operand(ctx, 3, {c, r, 1, 1}, "excite weights");
  const float* b2 = se_operand(ctx, 4, {c}, "excite bias");
  const SeSteps steps = se_steps(ctx);
  const SeStep& squeeze = steps.squeeze;
  const SeStep& excite = steps.excite;
  const RoundedOutput& q = steps.q;
  Tensor& y = ctx.out(0, q.on ? DType::u8 : DType::f32, x.shape());
  // The gate of every image and channel first (the pool as its own op takes it: kernels::plane_means).
  thread_local std::vector<float> mean, hidden, gate;
  mean.resize(size_t(n * c));
  hidden.resize(size_t(n * r));
  gate.resize(size_t(n * c));
  const float* xs = x.data<float>();
  float* m = mean.data();
  kernels::plane_means(xs, plane, n * c, m);
  se_conv(ctx, squeeze, 1, 1, w1, b1, m, n, c, r, hidden.data());
  se_conv(ctx, excite, 3, 2, w2, b2, hidden.data(), n, r, c, gate.data());
  const float* gates = gate.data();
  // x * gate over planes [p0, p1) rows [r0, r1) each (whole planes where p1 > p0 + 1), rounded where asked.
  auto scale = [&](std::vector<float>& buf, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
    const int64_t rows = (r1 - r0) * w, at = (p0 * h + r0) * w;
    if (q.on) {  // the product rounded in the same pass (the same bytes as rounding the float product after)
      for (int64_t p = p0; p < p1; ++p)
        kernels::quantize_u8_scaled(xs + (p * h + r0) * w, rows, gates[p], q.scale, q.zero, y.data<uint8_t>() + at + (p - p0) * rows);
      return;
    }
    PlaneSink sink{q, y, buf};
    float* yp = sink.plane(at, (p1 - p0) * rows);
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = xs + (p * h + r0) * w;
      float* out = yp + (p - p0) * rows;
      const float g = gates[p];
      for (int64_t i = 0; i < rows; ++i) out[i] = xp[i] * g;
    }
    sink.finish(at, (p1 - p0) * rows);
  };
  const int64_t planes = n * c;
  if (planes * plane >= (int64_t(1) << 15) && num_threads() > 1) {
    parallel_plane_bands(planes, h, w, [&](int64_t p, int64_t r0, int64_t r1) {
      thread_local std::vector<float> band_buf;
      scale(band_buf, p, p + 1, r0, r1);
    });
    return;
  }
  thread_local std::vector<float> plane_buf;
  // One thread: small planes (PP-OCR cls: 192 values) a group of about
  // 2048 values at a time, one rounding call per group, not per plane.
  const int64_t group = std::max<int64_t>(1, 2048 / std::max<int64_t>(1, plane));
  for (int64_t p0 = 0; p0 < planes; p0 += group) scale(plane_buf, p0, std::min(planes, p0 + group), 0, h);
}

constexpr char kGemm[] = "Gemm";
constexpr char kMatMul[] = "MatMul";

}  // namespace

void register_fused_ops(OpRegistry& r) {
  r.add("FusedGemm", run_fused<kGemm>, r.find("", "Gemm") ? r.find("", "Gemm")->infer : nullptr);
  r.add("FusedAdd", run_fused_add, infer_fused_add);
  r.add("FusedConcat", run_fused_concat, infer_fused_concat);
  r.add("FusedSqueezeExcite", run_squeeze_excite, infer_fused_add);
  r.add("FusedMatMul", run_fused<kMatMul>, r.find("", "MatMul") ? r.find("", "MatMul")->infer : nullptr);
}

}  // namespace pareto::runtime
