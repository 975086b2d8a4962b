// FusedConvTransposePair (passes/fuse_conv_transpose_pair.cpp): two 2x2
// stride-2 transposed convs in a row. Inputs x [N, C, H, W], w_a [C, Ca,
// 2, 2], b_a [Ca] (optional), w_b [Ca, Cb, 2, 2], b_b [Cb] (optional);
// attributes first_activation / first_alpha / first_beta (a's activation)
// and activation / alpha / beta (b's), as FusedConvTranspose's. The node may
// come from an artifact file: every shape is checked here.
#include <limits>
#include <string>

#include "kernels/activation.h"
#include "kernels/conv.h"
#include "runtime/ops/conv_params.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

kernels::Activation pair_activation(const OpContext& ctx, const std::string& prefix) {
  kernels::Activation a;
  const std::string name = ctx.node.attr_s(prefix + "activation", "");
  a.kind = kernels::act_kind_by_name(name);
  a.alpha = ctx.node.attr_f(prefix + "alpha", 0.f);
  a.beta = ctx.node.attr_f(prefix + "beta", 0.f);
  if (ctx.node.has_attr(prefix + "activation") && a.kind == kernels::ActKind::none) ctx.unsupported("fused activation '" + name + "'");
  return a;
}

// The 2x2 stride-2 upsampling of x [n, c, h, w] by w [c, c_out, 2, 2].
kernels::ConvParams upsampling(int64_t n, int64_t c, int64_t h, int64_t w, int64_t c_out) {
  kernels::ConvParams p;
  p.n = n;
  p.c_in = c;
  p.c_out = c_out;
  p.h = h;
  p.w = w;
  p.kh = p.kw = p.stride_h = p.stride_w = 2;
  p.out_h = 2 * h;
  p.out_w = 2 * w;
  return p;
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
  // Four times the input's rows and columns: checked against int64 first (an artifact's shapes are untrusted).
  if (x.dim(2) > std::numeric_limits<int64_t>::max() / 4 || x.dim(3) > std::numeric_limits<int64_t>::max() / 4)
    ctx.invalid("input " + shape_to_string(x.shape()) + " too large to upsample 4x");
  kernels::ConvParams a = upsampling(x.dim(0), x.dim(1), x.dim(2), x.dim(3), wa.dim(1));
  kernels::ConvParams b = upsampling(x.dim(0), wa.dim(1), a.out_h, a.out_w, wb.dim(1));
  a.epilogue.act = pair_activation(ctx, "first_");
  b.epilogue.act = pair_activation(ctx, "");
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
  if (!x->fully_known() || x->dims.size() != 4 || !wb || !wb->fully_known() || wb->dims.size() != 4) return;
  if (x->dims[2] > std::numeric_limits<int64_t>::max() / 4 || x->dims[3] > std::numeric_limits<int64_t>::max() / 4) return;
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = {x->dims[0], wb->dims[1], 4 * x->dims[2], 4 * x->dims[3]};
}

}  // namespace pareto::runtime
