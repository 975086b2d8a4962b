// ConvTranspose / FusedConvTranspose (ONNX attributes to the kernel
// library's ConvParams) and FusedConvTransposePair
// (passes/fuse_conv_transpose_pair.cpp): two 2x2 stride-2 transposed convs
// in a row. The pair's inputs: x [N, C, H, W], w_a [C, Ca, 2, 2], b_a [Ca]
// (optional), w_b [Ca, Cb, 2, 2], b_b [Cb] (optional); attributes
// first_activation / first_alpha / first_beta (a's activation) and
// activation / alpha / beta (b's), as FusedConvTranspose's. Nodes may come
// from an artifact file: every shape is checked here.
#include <algorithm>
#include <limits>
#include <string>

#include "kernels/activation.h"
#include "pareto/limits.hpp"
#include "kernels/conv.h"
#include "runtime/ops/conv_params.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

// ConvTranspose geometry from attributes and shapes: kernel, strides,
// dilations, effective begin/end pads and the output spatial dims.
struct TransposeGeometry {
  std::vector<int64_t> kernel, strides, dil, pads, out;
};

TransposeGeometry conv_transpose_geometry(const ir::Node& node, const Shape& x, const Shape& w) {
  auto invalid = [&](const std::string& m) { fail_model(node.label() + ": " + m); };
  size_t d = x.size() - 2;
  TransposeGeometry g;
  g.kernel = node.attr_ints("kernel_shape", Shape(w.begin() + 2, w.end()));
  g.strides = node.attr_ints("strides", std::vector<int64_t>(d, 1));
  g.dil = node.attr_ints("dilations", std::vector<int64_t>(d, 1));
  g.pads = node.attr_ints("pads", std::vector<int64_t>(2 * d, 0));
  std::vector<int64_t> out_pad = node.attr_ints("output_padding", std::vector<int64_t>(d, 0));
  std::vector<int64_t> out_shape = node.attr_ints("output_shape", {});
  std::string auto_pad = node.attr_s("auto_pad", "NOTSET");
  if (g.kernel.size() != d || g.strides.size() != d || g.dil.size() != d || g.pads.size() != 2 * d || out_pad.size() != d)
    invalid("attribute lengths do not match the spatial rank");
  if (out_shape.size() > d) out_shape.erase(out_shape.begin(), out_shape.end() - long(d));
  if (!out_shape.empty() && out_shape.size() != d)
    invalid("output_shape has " + std::to_string(out_shape.size()) + " entries for " + std::to_string(d) + " spatial dims");
  g.out.resize(d);
  for (size_t i = 0; i < d; ++i) {
    if (g.kernel[i] <= 0 || g.strides[i] <= 0 || g.dil[i] <= 0) invalid("kernel, strides and dilations must be positive");
    if (g.kernel[i] != w[i + 2]) invalid("kernel_shape does not match the weight shape");
    if (g.pads[i] < 0 || g.pads[i + d] < 0 || out_pad[i] < 0) invalid("pads and output_padding must not be negative");
    if (g.strides[i] > kMaxGeometry || g.dil[i] > kMaxGeometry || g.pads[i] > kMaxGeometry || g.pads[i + d] > kMaxGeometry ||
        out_pad[i] > kMaxGeometry || x[i + 2] > kMaxGeometry || g.kernel[i] > kMaxGeometry)
      invalid("sizes, strides, dilations and pads above " + std::to_string(kMaxGeometry) + " are not supported");
    int64_t in = x[i + 2];
    int64_t full = g.strides[i] * (in - 1) + out_pad[i] + (g.kernel[i] - 1) * g.dil[i] + 1;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      if (!out_shape.empty() && (out_shape[i] <= 0 || out_shape[i] > kMaxGeometry)) invalid("output_shape is out of range");
      int64_t target = out_shape.empty() ? in * g.strides[i] : out_shape[i];
      int64_t total = std::max<int64_t>(0, full - target);
      g.pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pads[i + d] = total - g.pads[i];
      g.out[i] = target;
    } else {
      if (auto_pad == "VALID") std::fill(g.pads.begin(), g.pads.end(), 0);
      g.out[i] = full - g.pads[i] - g.pads[i + d];
    }
    if (g.out[i] <= 0) invalid("output size is not positive");
  }
  return g;
}

// Input i's bias of `count` floats, or null where absent.
const float* pair_bias(const OpContext& ctx, size_t i, int64_t count, const char* which) {
  if (!ctx.has(i)) return nullptr;
  const Tensor& b = ctx.in(i);
  if (b.dtype() != DType::f32 || b.numel() != count) ctx.invalid(std::string(which) + " bias must have one float per output channel");
  return b.data<float>();
}

bool upsampling_weights(const Tensor& w, int64_t c_in) {
  return w.dtype() == DType::f32 && w.rank() == 4 && w.dim(0) == c_in && w.dim(1) >= 1 && w.dim(2) == 2 && w.dim(3) == 2;
}

}  // namespace

void run_conv_transpose_pair(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32 || x.rank() != 4) ctx.unsupported("FusedConvTransposePair on anything but a 4-D f32 tensor");
  const Tensor& wa = ctx.in(1);
  if (!upsampling_weights(wa, x.dim(1))) ctx.invalid("first weights " + shape_to_string(wa.shape()) + " are not [C, C', 2, 2] f32 for " +
                                                     shape_to_string(x.shape()));
  const Tensor& wb = ctx.in(3);
  if (!upsampling_weights(wb, wa.dim(1))) ctx.invalid("second weights " + shape_to_string(wb.shape()) + " are not [" +
                                                      std::to_string(wa.dim(1)) + ", C', 2, 2] f32");
  // Four times the input's rows and columns, within the geometry cap every
  // transposed conv keeps (an artifact's shapes are untrusted); the middle
  // map [N, Ca, 2H, 2W], which only a CPU without the row kernels
  // allocates, checked as a tensor would be.
  if (x.dim(2) > kMaxGeometry || x.dim(3) > kMaxGeometry) ctx.invalid("input " + shape_to_string(x.shape()) + " too large to upsample 4x");
  const Shape mid = {x.dim(0), wa.dim(1), 2 * x.dim(2), 2 * x.dim(3)};
  if (uint64_t(shape_numel(mid)) > current_limits().tensor_bytes / sizeof(float))
    ctx.invalid("middle map " + shape_to_string(mid) + " above the tensor limit");
  kernels::ConvParams a = kernels::upsampling_2x2(x.dim(0), x.dim(1), x.dim(2), x.dim(3), wa.dim(1));
  kernels::ConvParams b = kernels::upsampling_2x2(x.dim(0), wa.dim(1), a.out_h, a.out_w, wb.dim(1));
  a.epilogue.act = fused_activation(ctx, "first_");
  b.epilogue.act = fused_activation(ctx);
  const float* ba = pair_bias(ctx, 2, a.c_out, "first");
  const float* bb = pair_bias(ctx, 4, b.c_out, "second");
  Tensor& y = ctx.out(0, DType::f32, Shape{b.n, b.c_out, b.out_h, b.out_w});
  kernels::f32_conv_transpose2x2_pair(a, x.data<float>(), wa.data<float>(), ba, b, wb.data<float>(), bb, y.data<float>());
}

void infer_conv_transpose_pair(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  const ir::ValueType* wb = ctx.type(3);
  if (!x) return;
  ctx.out_types[0].dtype = x->dtype;
  if (!x->rank_known || x->dims.size() != 4 || !wb || !wb->fully_known() || wb->dims.size() != 4) return;
  ctx.out_types[0].rank_known = true;
  const bool sized = x->fully_known() && x->dims[2] <= kMaxGeometry && x->dims[3] <= kMaxGeometry;
  ctx.out_types[0].dims = {x->dims[0], wb->dims[1], sized ? 4 * x->dims[2] : -1, sized ? 4 * x->dims[3] : -1};
}

void infer_conv_transpose(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  const ir::ValueType* w = ctx.type(1);
  if (!x || !w) return;
  ctx.out_types[0].dtype = x->dtype;
  if (!x->rank_known || !w->fully_known() || x->dims.size() < 3 || w->dims.size() != x->dims.size()) return;
  const int64_t group = ctx.node.attr_i("group", 1);
  if (group <= 0 || w->dims[1] > (int64_t(1) << 40) / group) return;  // the kernel refuses it
  Shape out = {x->dims[0], w->dims[1] * group};
  if (x->fully_known()) {
    TransposeGeometry g = conv_transpose_geometry(ctx.node, x->dims, w->dims);
    out.insert(out.end(), g.out.begin(), g.out.end());
  } else {  // an input of any size (a model compiled without bound shapes): the channels are known
    out.resize(x->dims.size(), -1);
  }
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = out;
}

void run_conv_transpose(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  if (x.dtype() != DType::f32 || w.dtype() != DType::f32) ctx.unsupported(std::string("ConvTranspose on ") + dtype_name(x.dtype()));
  if (x.rank() != 3 && x.rank() != 4) ctx.unsupported("only 1-D and 2-D transposed convolution");
  if (w.rank() != x.rank()) ctx.invalid("weight rank differs from input rank");
  bool one_d = x.rank() == 3;
  size_t d = size_t(x.rank() - 2);
  int64_t group = ctx.node.attr_i("group", 1);
  if (group <= 0 || x.dim(1) != w.dim(0) || x.dim(1) % group || w.dim(1) > (int64_t(1) << 40) / group)
    ctx.invalid("weight shape does not match input channels");
  TransposeGeometry g = conv_transpose_geometry(ctx.node, x.shape(), w.shape());
  kernels::ConvParams p;
  p.n = x.dim(0);
  p.c_in = x.dim(1);
  p.c_out = w.dim(1) * group;
  p.group = group;
  p.h = one_d ? 1 : x.dim(2);
  p.w = one_d ? x.dim(2) : x.dim(3);
  p.kh = one_d ? 1 : g.kernel[0];
  p.kw = g.kernel[d - 1];
  p.stride_h = one_d ? 1 : g.strides[0];
  p.stride_w = g.strides[d - 1];
  p.dil_h = one_d ? 1 : g.dil[0];
  p.dil_w = g.dil[d - 1];
  p.pad_top = one_d ? 0 : g.pads[0];
  p.pad_left = g.pads[d - 1];
  p.out_h = one_d ? 1 : g.out[0];
  p.out_w = g.out[d - 1];
  const float* bias = conv_bias(ctx, p.c_out);
  Shape y_shape = one_d ? Shape{p.n, p.c_out, p.out_w} : Shape{p.n, p.c_out, p.out_h, p.out_w};
  if (ctx.node.op_type == "FusedConvTranspose") p.epilogue.act = fused_activation(ctx);  // no residual input
  Tensor& y = ctx.out(0, DType::f32, y_shape);
  kernels::f32_conv_transpose2d(p, x.data<float>(), w.data<float>(), bias, y.data<float>());
}

}  // namespace pareto::runtime
