// Convolutions (the transposed ones: conv_transpose.cpp): ONNX attributes to the kernel
// library's ConvParams, the choice of kernel (int8, bf16, Winograd,
// pointwise, tiled GEMM) and the weights packed once per executor.
#include <cmath>
#include <limits>
#include <mutex>

#include "kernels/bf16_conv.h"
#include "kernels/f16_conv.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/int8_conv.h"
#include "kernels/u8_depthwise.h"
#include "runtime/executor.h"
#include "runtime/ops/cache_stamps.h"
#include "runtime/ops/conv_params.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

struct Spatial {
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begins then ends
};

// An ints attribute, or n copies of fill where the node has none (the
// default built only then: this runs on every conv call).
std::vector<int64_t> ints_or(const ir::Node& node, std::string_view name, size_t n, int64_t fill) {
  return node.has_attr(name) ? node.attr_ints(name) : std::vector<int64_t>(n, fill);
}

// Reads kernel/stride/dilation/pads for `dims` spatial dims and applies auto_pad.
Spatial conv_geometry(const ir::Node& node, const Shape& in_spatial, const std::vector<int64_t>& kernel) {
  size_t d = in_spatial.size();
  Spatial s;
  s.kernel = node.has_attr("kernel_shape") ? node.attr_ints("kernel_shape") : kernel;
  s.strides = ints_or(node, "strides", d, 1);
  s.dilations = ints_or(node, "dilations", d, 1);
  s.pads = ints_or(node, "pads", 2 * d, 0);
  if (s.kernel.size() != d || s.strides.size() != d || s.dilations.size() != d || s.pads.size() != 2 * d)
    fail_model(node.label() + ": " + "kernel_shape/strides/dilations/pads do not match " + std::to_string(d) + " spatial dims");
  for (size_t i = 0; i < d; ++i) {
    if (s.kernel[i] <= 0 || s.strides[i] <= 0 || s.dilations[i] <= 0 || s.pads[i] < 0 || s.pads[i + d] < 0)
      fail_model(node.label() + ": " + "kernel, strides and dilations must be positive and pads non-negative");
    // Bounded so that the output-size arithmetic below cannot overflow.
    if (s.strides[i] > kMaxGeometry || s.dilations[i] > kMaxGeometry || s.pads[i] > kMaxGeometry || s.pads[i + d] > kMaxGeometry)
      fail_model(node.label() + ": strides, dilations and pads above " + std::to_string(kMaxGeometry) + " are not supported");
    if (s.kernel[i] != kernel[i]) fail_model(node.label() + ": " + "kernel_shape does not match the weight shape");
  }
  std::string auto_pad = node.attr_s("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < d; ++i) {
      int64_t out = (in_spatial[i] + s.strides[i] - 1) / s.strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * s.strides[i] + (s.kernel[i] - 1) * s.dilations[i] + 1 - in_spatial[i]);
      int64_t small = total / 2, big = total - small;
      s.pads[i] = auto_pad == "SAME_UPPER" ? small : big;
      s.pads[i + d] = total - s.pads[i];
    }
  } else if (auto_pad == "VALID") {
    std::fill(s.pads.begin(), s.pads.end(), 0);
  } else if (auto_pad != "NOTSET") {
    fail_model(node.label() + ": " + "unknown auto_pad '" + auto_pad + "'");
  }
  return s;
}

// Weights the compiler packed into a compiled artifact
// (passes/prepack_weights.cpp): input 4, used when they were packed for
// this machine's kernel level and for the form this call takes (the GEMM's
// packed A or Winograd's transform), else null and they are packed here.
// The artifact is untrusted: the size is checked against the form's own.
const float* prepacked_conv_weights(const OpContext& ctx, const kernels::ConvParams& p, bool winograd) {
  if (!ctx.has(4) || p.group != 1) return nullptr;
  const std::string form = ctx.node.attr_s("prepacked", "");
  if (form != (winograd ? "winograd" : "gemm") || ctx.node.attr_i("prepacked_level", -1) != int64_t(kernels::kernel_table().level)) return nullptr;
  const Tensor& t = ctx.in(4);
  const size_t want = winograd ? kernels::winograd_weights_floats(p) : kernels::f32_gemm_packed_a_floats(p.c_out, p.c_in * p.kh * p.kw);
  if (t.dtype() != DType::f32 || size_t(t.numel()) != want)
    ctx.invalid("prepacked " + form + " weights hold " + std::to_string(t.numel()) + " values, the form needs " + std::to_string(want));
  return t.data<float>();
}

// A conv the precision pass marked compute=bf16 (passes/assign_precision):
// weights rounded and packed once per executor when they are a constant.
void run_conv_bf16(const OpContext& ctx, const kernels::ConvParams& p, const Tensor& x, const Tensor& w, const float* bias, float* y) {
  const int64_t k = p.c_in / p.group * p.kh * p.kw;
  auto make = [&]() -> std::shared_ptr<const void> {
    return std::make_shared<kernels::Bf16Weights>(kernels::pack_bf16_weights(w.data<float>(), p.c_out, k));
  };
  const std::shared_ptr<const void> held = prepared_once(ctx, 1, stamps::kBf16Weights, make);
  kernels::bf16_conv2d(p, x.data<float>(), *static_cast<const kernels::Bf16Weights*>(held.get()), bias, y);
}

// A conv the precision pass marked compute=f16: weights scaled, rounded and
// packed once per executor. False where the input (or the weights) fall
// outside what the f16 kernel's scaling covers: the f32 conv runs.
bool run_conv_f16(const OpContext& ctx, const kernels::ConvParams& p, const Tensor& x, const Tensor& w, const float* bias, float* y) {
  const int64_t k = p.c_in / p.group * p.kh * p.kw;
  auto make = [&]() -> std::shared_ptr<const void> {
    return std::make_shared<kernels::F16Weights>(kernels::pack_f16_weights(w.data<float>(), p.c_out, k));
  };
  const std::shared_ptr<const void> held = prepared_once(ctx, 1, stamps::kF16ConvWeights, make);
  return kernels::f16_conv2d(p, x.data<float>(), *static_cast<const kernels::F16Weights*>(held.get()), bias, y);
}

}  // namespace

const float* conv_bias(const OpContext& ctx, int64_t c_out) {
  if (!ctx.has(2)) return nullptr;
  if (ctx.in(2).numel() != c_out || ctx.in(2).dtype() != DType::f32) ctx.invalid("bias must have one value per output channel");
  return ctx.in(2).data<float>();
}

// The activation attributes the compiler's fusion passes write on
// FusedConv and FusedConvTranspose (passes/fuse_activation.cpp).
kernels::Activation fused_activation(const OpContext& ctx, const std::string& prefix) {
  kernels::Activation a;
  const std::string name = ctx.node.attr_s(prefix + "activation", "");
  a.kind = kernels::act_kind_by_name(name);
  a.alpha = ctx.node.attr_f(prefix + "alpha", 0.f);
  a.beta = ctx.node.attr_f(prefix + "beta", 0.f);
  a.scale = ctx.node.attr_f(prefix + "post_scale", 1.f);
  a.shift = ctx.node.attr_f(prefix + "post_shift", 0.f);
  a.floor = ctx.node.attr_f(prefix + "post_floor", -std::numeric_limits<float>::infinity());
  if (ctx.node.has_attr(prefix + "activation") && a.kind == kernels::ActKind::none) ctx.unsupported("fused activation '" + name + "'");
  return a;
}

// A group-1 conv whose weights are a graph constant: the weights packed for
// the GEMM (or Winograd-transformed and packed) once per executor and
// kernel level instead of on every call.
std::shared_ptr<const void> packed_conv_weights(const OpContext& ctx, const kernels::ConvParams& p, bool winograd, const float* w,
                                                size_t w_input, int slot) {
  if (p.group != 1 || !is_constant_input(ctx, w_input)) return nullptr;
  const int level = int(kernels::kernel_table().level);
  // The key tells the two forms apart: one node may meet both when its
  // input shape changes between runs.
  return ctx.executor->node_cache(ctx.node, stamps::packed_conv(slot, level, winograd), [&]() -> std::shared_ptr<const void> {
    std::shared_ptr<std::vector<float>> buf;
    if (winograd) {
      buf = std::make_shared<std::vector<float>>(kernels::winograd_weights_floats(p));
      kernels::winograd_transform_weights(p, w, buf->data());
    } else {
      kernels::GemmArgs g;
      g.m = p.c_out;
      g.k = p.c_in * p.kh * p.kw;
      g.a = w;
      g.lda = g.k;
      buf = std::make_shared<std::vector<float>>(kernels::f32_gemm_packed_a_floats(g.m, g.k));
      kernels::f32_gemm_pack_a(g, buf->data());
    }
    return std::shared_ptr<const void>(buf, buf->data());
  });
}

kernels::ConvParams conv_params_of(const ir::Node& node, const Shape& xs, const Shape& ws) {
  auto invalid = [&](const std::string& m) { fail_model(node.label() + ": " + m); };
  if (xs.size() != 3 && xs.size() != 4) fail_unsupported(node.label() + ": only 1-D and 2-D convolution (input rank " + std::to_string(xs.size()) + ")");
  if (ws.size() != xs.size()) invalid("weight rank differs from input rank");
  const bool one_d = xs.size() == 3;
  Shape spatial(xs.begin() + 2, xs.end());
  std::vector<int64_t> kernel(ws.begin() + 2, ws.end());
  Spatial s = conv_geometry(node, spatial, kernel);
  int64_t group = node.attr_i("group", 1);
  kernels::ConvParams p;
  p.n = xs[0];
  p.c_in = xs[1];
  p.h = one_d ? 1 : xs[2];
  p.w = one_d ? xs[2] : xs[3];
  p.c_out = ws[0];
  p.group = group;
  if (group <= 0 || p.c_in % group || p.c_out % group || ws[1] > INT64_MAX / group || ws[1] * group != p.c_in)
    invalid("channels " + std::to_string(p.c_in) + " / weight " + shape_to_string(ws) + " / group " + std::to_string(group) + " are inconsistent");
  size_t d = spatial.size();
  auto at = [&](const std::vector<int64_t>& v, size_t i2d, int64_t def) { return one_d ? (i2d == 0 ? def : v[0]) : v[i2d]; };
  p.kh = at(s.kernel, 0, 1);
  p.kw = at(s.kernel, 1, 1);
  p.stride_h = at(s.strides, 0, 1);
  p.stride_w = at(s.strides, 1, 1);
  p.dil_h = at(s.dilations, 0, 1);
  p.dil_w = at(s.dilations, 1, 1);
  p.pad_top = one_d ? 0 : s.pads[0];
  p.pad_left = one_d ? s.pads[0] : s.pads[1];
  int64_t pad_bottom = one_d ? 0 : s.pads[d], pad_right = one_d ? s.pads[d] : s.pads[d + 1];
  p.out_h = (p.h + p.pad_top + pad_bottom - p.dil_h * (p.kh - 1) - 1) / p.stride_h + 1;
  p.out_w = (p.w + p.pad_left + pad_right - p.dil_w * (p.kw - 1) - 1) / p.stride_w + 1;
  if (p.out_h <= 0 || p.out_w <= 0) invalid("kernel larger than padded input " + shape_to_string(xs));
  return p;
}

namespace {

// What conv_setup caches of a conv node's attributes (values unchecked;
// a value is read only where its presence says the call reads it).
struct ConvNodeAttrs {
  bool fused = false;  // FusedConv: act from its activation attributes
  kernels::Activation act;
  bool int8_compute = false, has_x_scale = false, has_w_scales = false, has_out_scale = false, has_compute = false;
  bool compute_bf16 = false, compute_f16 = false;
  float x_scale = 0, out_scale = 0;
  int64_t x_zero = 0, out_zero = 0;
};

struct ConvSetup {
  kernels::ConvParams p;
  ConvNodeAttrs a;
};

// A node's geometry for the input and weight shapes it last ran with:
// read from its attributes once per executor and change of shape (the
// parse took a dozen attribute lookups and vectors per call, several
// percent of PP-OCR cls's run), not on every call. The cache hands out
// shared const entries, so the slot's fields are mutable and guarded by
// its own mutex (sessions may run one executor's nodes at once).
struct ConvParamsSlot {
  mutable std::mutex mutex;
  mutable bool set = false;
  mutable Shape x, w;
  mutable kernels::ConvParams p;
  mutable bool attrs_set = false;
  mutable ConvNodeAttrs attrs;
};

// The attributes run_conv reads on every call, read once: ~25 lookups
// per conv and call, each a scan over the node's attributes (20-odd
// structs of ~300 bytes), were 4% of PP-OCR cls int8's run. The values
// are checked where they are used, as before.
ConvNodeAttrs read_conv_node_attrs(const OpContext& ctx) {
  const ir::Node& node = ctx.node;
  ConvNodeAttrs a;
  a.fused = node.op_type == "FusedConv";
  if (a.fused) a.act = fused_activation(ctx);
  a.int8_compute = ir::int8_compute(node);
  a.has_x_scale = node.has_attr("x_scale");
  a.has_w_scales = node.has_attr("w_scales");
  a.has_out_scale = node.has_attr("out_scale");
  a.has_compute = node.has_attr("compute");
  // Each value read only where the call would have read it (its kind
  // is checked on reading: a stray attribute of another kind stays harmless).
  if (a.has_compute && !a.int8_compute) {
    const std::string compute = node.attr_s("compute", "");
    a.compute_bf16 = compute == "bf16";
    a.compute_f16 = compute == "f16";
  }
  if (a.has_x_scale) {
    a.x_scale = node.attr_f("x_scale", 0.f);
    a.x_zero = node.attr_i("x_zero_point", 0);
  }
  if (a.has_out_scale) {
    a.out_scale = node.attr_f("out_scale", 0.f);
    a.out_zero = node.attr_i("out_zero_point", 0);
  }
  return a;
}

// The node's slot, its geometry brought up to date for x and w (under the
// slot's lock).
kernels::ConvParams slot_geometry(const ConvParamsSlot& slot, const OpContext& ctx, const Tensor& x, const Tensor& w) {
  if (!slot.set || slot.x != x.shape() || slot.w != w.shape()) {
    slot.p = conv_params_of(ctx.node, x.shape(), w.shape());  // a bad geometry throws here, before the slot changes
    slot.x = x.shape();
    slot.w = w.shape();
    slot.set = true;
  }
  return slot.p;
}

const ConvParamsSlot& params_slot(const OpContext& ctx, std::shared_ptr<const void>& held) {
  held = ctx.executor->node_cache(ctx.node, stamps::kConvGeometry, []() -> std::shared_ptr<const void> { return std::make_shared<const ConvParamsSlot>(); });
  return *static_cast<const ConvParamsSlot*>(held.get());
}

}  // namespace

kernels::ConvParams conv_params(const OpContext& ctx, const Tensor& x, const Tensor& w) {
  if (!ctx.executor) return conv_params_of(ctx.node, x.shape(), w.shape());
  std::shared_ptr<const void> held;
  const ConvParamsSlot& slot = params_slot(ctx, held);
  std::lock_guard<std::mutex> lock(slot.mutex);
  return slot_geometry(slot, ctx, x, w);
}

// Conv and FusedConv: the geometry and the attributes run_conv reads, both
// from the node's slot.
static ConvSetup conv_setup(const OpContext& ctx, const Tensor& x, const Tensor& w) {
  if (!ctx.executor) return {conv_params_of(ctx.node, x.shape(), w.shape()), read_conv_node_attrs(ctx)};
  std::shared_ptr<const void> held;
  const ConvParamsSlot& slot = params_slot(ctx, held);
  std::lock_guard<std::mutex> lock(slot.mutex);
  ConvSetup s{slot_geometry(slot, ctx, x, w), {}};
  if (!slot.attrs_set) {
    slot.attrs = read_conv_node_attrs(ctx);  // an unsupported activation throws here, on every call
    slot.attrs_set = true;
  }
  s.a = slot.attrs;
  return s;
}

Shape conv_output_shape(const Tensor& x, const kernels::ConvParams& p) {
  return x.rank() == 3 ? Shape{p.n, p.c_out, p.out_w} : Shape{p.n, p.c_out, p.out_h, p.out_w};
}

void infer_conv_from(InferContext& ctx, size_t x_index, size_t w_index, DType out_dtype) {
  const ir::ValueType* x = ctx.type(x_index);
  const ir::ValueType* w = ctx.type(w_index);
  if (!x || !w) return;
  ctx.out_types[0].dtype = out_dtype == DType::undefined ? x->dtype : out_dtype;
  if (!x->rank_known || !w->rank_known || x->dims.size() < 3 || w->dims.size() != x->dims.size()) return;
  Shape spatial(x->dims.begin() + 2, x->dims.end());
  std::vector<int64_t> kernel(w->dims.begin() + 2, w->dims.end());
  Shape out = {x->dims[0], w->dims[0]};
  bool known = true;
  for (int64_t d : spatial) known &= d >= 0;
  for (int64_t k : kernel) known &= k >= 0;
  if (known) {
    Spatial s = conv_geometry(ctx.node, spatial, kernel);
    size_t d = spatial.size();
    for (size_t i = 0; i < d; ++i)
      out.push_back((spatial[i] + s.pads[i] + s.pads[i + d] - s.dilations[i] * (kernel[i] - 1) - 1) / s.strides[i] + 1);
  } else {
    out.resize(x->dims.size(), -1);
  }
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = out;
}

// out_scale / out_zero_point (passes/fuse_quantize.cpp): a depthwise conv
// or an int8 conv writes its output rounded to uint8 for the quantized
// convs reading it. Checked here: the node may come from an artifact file.
static kernels::QuantizedOutput quantized_output(const OpContext& ctx, const kernels::ConvParams& p, const ConvNodeAttrs& a) {
  kernels::QuantizedOutput q;
  q.scale = a.out_scale;
  const int64_t zero = a.out_zero;
  if (!(q.scale > 0.f) || !std::isfinite(q.scale) || zero < 0 || zero > 255) ctx.invalid("out_scale / out_zero_point out of range");
  if ((!kernels::f32_conv_is_depthwise(p) && !a.int8_compute) || a.has_compute)
    ctx.unsupported("a uint8 output (out_scale) on a conv that is neither depthwise nor int8");
  q.zero = int32_t(zero);
  return q;
}

// x_scale / x_zero_point on a depthwise conv (fold_qdq): its input is read
// on that uint8 grid, stored so (x uint8) or rounded on the way (x float).
static kernels::QuantizedInput quantized_input(const OpContext& ctx, const Tensor& x, const ConvNodeAttrs& a) {
  kernels::QuantizedInput q;
  q.scale = a.x_scale;
  const int64_t zero = a.x_zero;
  if (!(q.scale > 0.f) || !std::isfinite(q.scale) || zero < 0 || zero > 255) ctx.invalid("x_scale / x_zero_point out of range");
  q.zero = int32_t(zero);
  if (x.dtype() == DType::u8) q.data = x.data<uint8_t>();
  return q;
}

// Whether run_conv_f32_out runs an int8 (x_scale) conv on the int8 kernel,
// rather than in float on its rounded input: as Winograd, or as one
// matrix-vector product where the conv has one pixel (squeeze-excite convs:
// the int8 kernel's quantizing and packing cost more than their at most
// kernels::kMaxDotRowsProducts multiplies).
static bool takes_int8_kernel(const kernels::ConvParams& p) {
  if (kernels::f32_conv_is_single_pixel(p)) return false;
  return !kernels::winograd_applicable(p) || kernels::int8_conv_takes_shifted(p);
}

// Every conv form with a float output y; x is float, or uint8 for an int8 conv.
static void run_conv_f32_out(OpContext& ctx, kernels::ConvParams& p, const Tensor& x, const Tensor& w, const float* bias, float* y,
                             const ConvNodeAttrs& a) {
  const bool winograd = kernels::winograd_applicable(p);
  const float* xin = x.dtype() == DType::u8 ? nullptr : x.data<float>();
  ctx.path = winograd ? "winograd" : "f32";
  if (p.quant_in.active()) {  // depthwise on a uint8 grid
    ctx.path = p.int8_weights.quads ? "u8 int8 -> f32" : "u8 -> f32";
    return kernels::f32_conv2d(p, xin, w.data<float>(), bias, y);
  }
  if (a.int8_compute) {
    if (takes_int8_kernel(p)) {
      ctx.path = "int8";
      return run_conv_int8(ctx, p, x, w, bias, y);
    }
    // (Single-pixel convs: see takes_int8_kernel.)
    // Winograd does a 3x3 conv with a quarter of the multiplies, which
    // beats the int8 kernel's 4x faster multiplies plus its im2col lowering:
    // the same function (the int8 conv of the rounded input), computed in
    // float on the input rounded to its int8 grid. (The shifted int8 form,
    // without the lowering, beats Winograd where it applies.)
    xin = fake_quantized_input(ctx, x, p.c_out);
  }
  // bf16 reads x itself, not xin: never for an int8 conv (the rounded input).
  if (!a.int8_compute && a.compute_bf16 && kernels::bf16_conv_preferred(p) && kernels::bf16_conv_available()) {
    ctx.path = "bf16";
    return run_conv_bf16(ctx, p, x, w, bias, y);
  }
  if (!a.int8_compute && a.compute_f16 && kernels::f16_conv_preferred(p) && kernels::f16_conv_available()) {
    ctx.path = "f16";
    if (run_conv_f16(ctx, p, x, w, bias, y)) return;
    ctx.path = "f32";  // the input was out of the f16 kernel's range
  }
  std::shared_ptr<const void> packed;
  const bool uses_packed = kernels::f32_conv_uses_packed_weights(p);
  const float* ready = uses_packed ? prepacked_conv_weights(ctx, p, winograd) : nullptr;
  if (!ready && uses_packed) {
    packed = packed_conv_weights(ctx, p, winograd, w.data<float>());
    ready = static_cast<const float*>(packed.get());
  }
  (winograd ? p.winograd_weights : p.packed_weights) = ready;
  if (ctx.path == std::string_view("f32") && kernels::small_cin_direct_applicable(p)) ctx.path = "f32 direct";
  kernels::f32_conv2d(p, xin, w.data<float>(), bias, y);
}

// A residual fused where the shapes were not known when the model was
// compiled (fuse_activation's residual_broadcast) that turns out not to
// have the conv's output shape: the Add it replaced, as ONNX broadcasts
// it, then the activation. The conv's own output goes through scratch.
static void run_conv_broadcast_residual(OpContext& ctx, kernels::ConvParams& p, const Tensor& x, const Tensor& w, const float* bias,
                                        const Shape& out, const ConvNodeAttrs& a) {
  const Tensor& r = ctx.in(3);
  const Shape shape = broadcast_shapes(ctx.node, out, r.shape());
  Tensor sum = Tensor::empty(DType::f32, out);
  const kernels::Activation act = p.epilogue.act;
  p.epilogue = {};
  run_conv_f32_out(ctx, p, x, w, bias, sum.data<float>(), a);
  Tensor& y = ctx.out(0, DType::f32, shape);
  const float* c = sum.data<float>();
  const float* rp = r.data<float>();
  float* yp = y.data<float>();
  for_each_broadcast<2>(shape, {&out, &r.shape()}, [&](int64_t o, const std::array<int64_t, 2>& in, int64_t n, const std::array<int64_t, 2>& step) {
    for (int64_t i = 0; i < n; ++i) yp[o + i] = c[in[0] + i * step[0]] + rp[in[1] + i * step[1]];
  });
  kernels::apply_activation(act, yp, nullptr, y.numel());
}

// out_scale: the output rounded to uint8 where it is made (depthwise
// planes, int8 rows); a conv the int8 kernel does not run (Winograd on the
// rounded input) computes floats into scratch and rounds them after.
static void run_conv_u8_out(OpContext& ctx, kernels::ConvParams& p, const Tensor& x, const Tensor& w, const float* bias, const Shape& out,
                            const ConvNodeAttrs& a) {
  kernels::QuantizedOutput q = quantized_output(ctx, p, a);
  q.data = ctx.out(0, DType::u8, out).data<uint8_t>();
  if (kernels::f32_conv_is_depthwise(p)) {
    p.quant_out = q;
    ctx.path = p.int8_weights.quads ? "u8 int8 -> u8" : p.quant_in.active() ? "u8 -> u8" : "f32 -> u8";
    return kernels::f32_conv2d(p, p.quant_in.data ? nullptr : x.data<float>(), w.data<float>(), bias, nullptr);
  }
  if (takes_int8_kernel(p)) {
    ctx.path = "int8 -> u8";
    return run_conv_int8(ctx, p, x, w, bias, nullptr, q);
  }
  const int64_t count = shape_numel(out);
  thread_local std::vector<float> buf;  // grow-only, as the other per-call buffers
  buf.resize(size_t(count));
  run_conv_f32_out(ctx, p, x, w, bias, buf.data(), a);
  parallel_chunks(count, [&](int64_t b, int64_t e) { kernels::quantize_u8(buf.data() + b, e - b, q.scale, q.zero, q.data + b); });
}

// An int8 conv's weights given as their int8 codes (a compiled artifact
// stores them so): the floats they stand for, code * w_scale per output
// channel, made once per executor for the paths that compute in float.
static Tensor weights_from_codes(const OpContext& ctx, const Tensor& codes, int64_t c_out) {
  const ir::Attribute* a = ctx.node.attr("w_scales");
  if (!a || a->kind != ir::AttrKind::floats || int64_t(a->floats.size()) != c_out || codes.numel() % c_out)
    ctx.invalid("int8 weights and w_scales do not fit the node");
  const std::vector<float>& scales = a->floats;
  const std::shared_ptr<const void> held = prepared_once(ctx, 1, stamps::kInt8ConvFloatWeights, [&]() -> std::shared_ptr<const void> {
    auto t = std::make_shared<Tensor>(Tensor::empty(DType::f32, codes.shape()));
    const int64_t per = codes.numel() / c_out;
    const int8_t* c = codes.data<int8_t>();
    float* out = t->data<float>();
    for (int64_t o = 0; o < c_out; ++o)
      for (int64_t i = 0; i < per; ++i) out[o * per + i] = float(c[o * per + i]) * scales[size_t(o)];
    return t;
  });
  return *static_cast<const Tensor*>(held.get());
}

void run_conv(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w_in = ctx.in(1);
  // An int8 conv (x_scale) may read its input already rounded to uint8,
  // and its weights as their codes (w_scales). Checked first, as before the
  // attributes were cached (the lookups only for tensors that are not float).
  const bool x_u8 = x.dtype() == DType::u8 && ctx.node.has_attr("x_scale");
  const bool w_codes = w_in.dtype() == DType::i8 && ctx.node.has_attr("w_scales");
  if ((x.dtype() != DType::f32 && !x_u8) || (w_in.dtype() != DType::f32 && !w_codes))
    ctx.unsupported(std::string("Conv on ") + dtype_name(x.dtype()) + " with " + dtype_name(w_in.dtype()) + " weights" +
                    (w_in.dtype() == DType::i8 ? " and no w_scales" : ""));
  ConvSetup setup = conv_setup(ctx, x, w_in);
  kernels::ConvParams& p = setup.p;
  const ConvNodeAttrs& a = setup.a;
  // The int8 GEMM reads weight codes themselves; every other path computes
  // with the floats they stand for.
  const bool int8_gemm = a.int8_compute && !kernels::f32_conv_is_depthwise(p) && takes_int8_kernel(p);
  const Tensor w = w_codes && !int8_gemm ? weights_from_codes(ctx, w_in, p.c_out) : w_in;
  const float* bias = conv_bias(ctx, p.c_out);
  Shape out = conv_output_shape(x, p);
  if (a.fused) {  // pareto's fused form: residual input 3, activation attributes
    p.epilogue.act = a.act;
    if (ctx.has(3)) {
      const Tensor& r = ctx.in(3);
      if (r.dtype() == DType::f32 && r.shape() != out && ctx.node.has_attr("residual_broadcast") && !a.has_out_scale && !a.has_x_scale)
        return run_conv_broadcast_residual(ctx, p, x, w, bias, out, a);
      if (r.dtype() != DType::f32 || r.shape() != out) ctx.invalid("residual " + shape_to_string(r.shape()) + " differs from the output " + shape_to_string(out));
      p.epilogue.residual = r.data<float>();
    }
  }
  // A depthwise conv with x_scale reads its input on the uint8 grid (the
  // plane kernels run in float on it; with fold_qdq's w_scales too, int8
  // weights, it sums in integers where the CPU has the kernel for it);
  // other int8 convs use the int8 kernel.
  std::shared_ptr<const void> int8_weights;
  if (a.has_x_scale && kernels::f32_conv_is_depthwise(p)) {
    p.quant_in = quantized_input(ctx, x, a);
    if (a.has_w_scales && kernels::u8_depthwise_fast(p)) int8_weights = use_depthwise_int8_weights(ctx, p, w);
  }
  if (a.has_out_scale) return run_conv_u8_out(ctx, p, x, w, bias, out, a);
  Tensor& y = ctx.out(0, DType::f32, out);
  run_conv_f32_out(ctx, p, x, w, bias, y.data<float>(), a);
}

// f32 out, or uint8 with out_scale; an int8 conv reading uint8 gives f32.
void infer_conv(InferContext& ctx) {
  infer_conv_from(ctx, 0, 1, ctx.node.has_attr("out_scale") ? DType::u8 : ctx.node.has_attr("x_scale") ? DType::f32 : DType::undefined);
  // A residual that may broadcast (residual_broadcast) may widen the output
  // past the conv's: its channels stay where they are not 1, nothing else is sure.
  if (ctx.node.has_attr("residual_broadcast") && ctx.out_types[0].rank_known) {
    Shape& d = ctx.out_types[0].dims;
    for (size_t i = 0; i < d.size(); ++i)
      if (i != 1 || d[i] == 1) d[i] = -1;
  }
}

}  // namespace pareto::runtime
