// MaxPool, AveragePool and the global pools.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/conv.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

kernels::PoolParams pool_geometry(const ir::Node& node, int64_t opset, const Shape& xs, bool is_max) {
  if (xs.size() != 3 && xs.size() != 4)
    fail_unsupported(node.label() + ": only 1-D and 2-D pooling (input rank " + std::to_string(xs.size()) + ")");
  size_t d = xs.size() - 2;
  bool one_d = d == 1;
  std::vector<int64_t> k = node.attr_ints("kernel_shape");
  std::vector<int64_t> s = node.attr_ints("strides", std::vector<int64_t>(d, 1));
  std::vector<int64_t> dil = node.attr_ints("dilations", std::vector<int64_t>(d, 1));
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * d, 0));
  if (k.size() != d || s.size() != d || dil.size() != d || pads.size() != 2 * d)
    fail_model(node.label() + ": " + "kernel_shape/strides/dilations/pads do not match the spatial rank");
  if (!is_max && opset < 19 && node.has_attr("dilations") && (dil[0] != 1 || dil[d - 1] != 1))
    fail_unsupported(node.label() + ": " + "dilated AveragePool");
  bool ceil_mode = node.attr_i("ceil_mode", 0);
  std::string auto_pad = node.attr_s("auto_pad", "NOTSET");
  std::vector<int64_t> out(d);
  for (size_t i = 0; i < d; ++i) {
    if (k[i] <= 0 || s[i] <= 0 || dil[i] <= 0 || pads[i] < 0 || pads[i + d] < 0) fail_model(node.label() + ": " + "bad pooling geometry");
    // Bounded like convolution geometry: no overflow in the extent arithmetic, no kernel loop of 2^40 taps.
    constexpr int64_t kMax = int64_t(1) << 20;
    if (k[i] > kMax || s[i] > kMax || dil[i] > kMax || pads[i] > kMax || pads[i + d] > kMax || xs[i + 2] > kMax)
      fail_model(node.label() + ": pooling sizes, strides, dilations and pads above " + std::to_string(kMax) + " are not supported");
    int64_t in = xs[i + 2], ext = (k[i] - 1) * dil[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out[i] = (in + s[i] - 1) / s[i];
      int64_t total = std::max<int64_t>(0, (out[i] - 1) * s[i] + ext - in);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[i + d] = total - pads[i];
    } else if (auto_pad == "VALID") {
      pads[i] = pads[i + d] = 0;
      out[i] = (in - ext) / s[i] + 1;
      if (ceil_mode) out[i] = (in - ext + s[i] - 1) / s[i] + 1;
    } else {
      int64_t span = in + pads[i] + pads[i + d] - ext;
      out[i] = (ceil_mode ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
      if (ceil_mode && (out[i] - 1) * s[i] >= in + pads[i]) --out[i];
    }
    if (out[i] <= 0) fail_model(node.label() + ": " + "pooling window larger than the padded input");
  }
  kernels::PoolParams p;
  p.n = xs[0];
  p.c = xs[1];
  p.h = one_d ? 1 : xs[2];
  p.w = xs[d + 1];
  p.kh = one_d ? 1 : k[0];
  p.kw = k[d - 1];
  p.stride_h = one_d ? 1 : s[0];
  p.stride_w = s[d - 1];
  p.dil_h = one_d ? 1 : dil[0];
  p.dil_w = dil[d - 1];
  p.pad_top = one_d ? 0 : pads[0];
  p.pad_left = pads[d - 1];
  p.pad_bottom = one_d ? 0 : pads[d];
  p.pad_right = pads[2 * d - 1];
  p.out_h = one_d ? 1 : out[0];
  p.out_w = out[d - 1];
  p.count_include_pad = node.attr_i("count_include_pad", 0);
  return p;
}

Shape pool_out_shape(const Tensor& x, const kernels::PoolParams& p) {
  return x.rank() == 3 ? Shape{p.n, p.c, p.out_w} : Shape{p.n, p.c, p.out_h, p.out_w};
}

void run_maxpool(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32) ctx.unsupported(std::string("MaxPool on ") + dtype_name(x.dtype()));
  if (ctx.node.attr_i("storage_order", 0) != 0) ctx.unsupported("storage_order=1");
  kernels::PoolParams p = pool_geometry(ctx.node, ctx.opset, x.shape(), true);
  Tensor& y = ctx.out(0, DType::f32, pool_out_shape(x, p));
  int64_t* idx = nullptr;
  if (ctx.outputs.size() > 1 && ctx.node.outputs[1] >= 0) idx = ctx.out(1, DType::i64, pool_out_shape(x, p)).data<int64_t>();
  kernels::f32_maxpool2d(p, x.data<float>(), y.data<float>(), idx);
}

void run_avgpool(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32) ctx.unsupported(std::string("AveragePool on ") + dtype_name(x.dtype()));
  kernels::PoolParams p = pool_geometry(ctx.node, ctx.opset, x.shape(), false);
  if (p.dil_h != 1 || p.dil_w != 1) ctx.unsupported("dilated AveragePool");
  Tensor& y = ctx.out(0, DType::f32, pool_out_shape(x, p));
  kernels::f32_avgpool2d(p, x.data<float>(), y.data<float>());
}

template <bool is_max>
void infer_pool(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  if (!x) return;
  ctx.out_types[0].dtype = x->dtype;
  if (!x->fully_known()) return;
  kernels::PoolParams p = pool_geometry(ctx.node, ctx.opset, x->dims, is_max);
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = x->dims.size() == 3 ? Shape{p.n, p.c, p.out_w} : Shape{p.n, p.c, p.out_h, p.out_w};
  if (ctx.out_types.size() > 1) ctx.out_types[1] = ir::ValueType{DType::i64, true, ctx.out_types[0].dims, {}};
}

void infer_global_pool(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  if (!x) return;
  ctx.out_types[0] = *x;
  ctx.out_types[0].dim_params.clear();
  for (size_t i = 2; i < ctx.out_types[0].dims.size(); ++i) ctx.out_types[0].dims[i] = 1;
}

template <class T>
T plane_max(const T* s, int64_t n) {
  T acc = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) acc = std::max(acc, s[j]);
  return acc;
}

// Planes [begin, end): their maximum, or their mean (a float mean: kernels::plane_means).
template <bool is_max, class T>
void global_pool_planes(const T* s, T* d, int64_t plane, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) d[i] = is_max ? plane_max(s + i * plane, plane) : kernels::plane_sum_ref(s + i * plane, plane) / T(plane);
}

template <bool is_max, class T>
void global_pool(const T* s, T* d, int64_t plane, int64_t nc) {
  if constexpr (std::is_same_v<T, float> && !is_max) kernels::plane_means(s, plane, nc, d);  // in chunks, the threads' row bands
  else parallel_for(nc, [&](int64_t begin, int64_t end) { global_pool_planes<is_max>(s, d, plane, begin, end); });
}

template <bool is_max>
void run_global_pool(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.rank() < 2) ctx.invalid("input must have rank >= 2");
  Shape out = x.shape();
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  int64_t nc = x.dim(0) * x.dim(1), plane = nc ? x.numel() / nc : 0;
  Tensor& y = ctx.out(0, x.dtype(), out);
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    scalar_t* d = y.data<scalar_t>();
    global_pool<is_max>(s, d, plane, nc);
  });
}

}  // namespace

void register_pool_ops(OpRegistry& r) {
  r.add("MaxPool", run_maxpool, infer_pool<true>);
  r.add("AveragePool", run_avgpool, infer_pool<false>);
  r.add("GlobalAveragePool", run_global_pool<false>, infer_global_pool);
  r.add("GlobalMaxPool", run_global_pool<true>, infer_global_pool);
}

}  // namespace pareto::runtime
