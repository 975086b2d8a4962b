// Normalizations: BatchNormalization (inference), Instance, Layer, LRN,
// MeanVarianceNormalization. Statistics accumulate in double.
#include <cmath>

#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

void run_batch_norm(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (ctx.node.attr_i("training_mode", 0)) ctx.unsupported("training_mode=1");
  if (x.rank() < 2) ctx.invalid("input must have rank >= 2");
  int64_t c = x.dim(1), n = x.dim(0), plane = x.numel() / std::max<int64_t>(1, n * c);
  for (size_t i = 1; i <= 4; ++i)
    if (ctx.in(i).numel() != c) ctx.invalid("scale/bias/mean/var must have one value per channel");
  double eps = ctx.node.attr_f("epsilon", 1e-5f);
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    std::vector<scalar_t> mul(static_cast<size_t>(c)), add(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ++ch) {
      double s = ctx.in(1).as_double(ch) / std::sqrt(ctx.in(4).as_double(ch) + eps);
      mul[size_t(ch)] = scalar_t(s);
      add[size_t(ch)] = scalar_t(ctx.in(2).as_double(ch) - ctx.in(3).as_double(ch) * s);
    }
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch) {
        int64_t base = (b * c + ch) * plane;
        for (int64_t i = 0; i < plane; ++i) dst[base + i] = src[base + i] * mul[size_t(ch)] + add[size_t(ch)];
      }
  });
}

void run_instance_norm(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.rank() < 3) ctx.invalid("input must have rank >= 3");
  int64_t c = x.dim(1), n = x.dim(0), plane = x.numel() / std::max<int64_t>(1, n * c);
  if (ctx.in(1).numel() != c || ctx.in(2).numel() != c) ctx.invalid("scale/bias must have one value per channel");
  double eps = ctx.node.attr_f("epsilon", 1e-5f);
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch) {
        const scalar_t* s = src + (b * c + ch) * plane;
        scalar_t* d = dst + (b * c + ch) * plane;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < plane; ++i) mean += s[i];
        mean /= double(plane);
        for (int64_t i = 0; i < plane; ++i) var += (s[i] - mean) * (s[i] - mean);
        var /= double(plane);
        double k = ctx.in(1).as_double(ch) / std::sqrt(var + eps), bias = ctx.in(2).as_double(ch);
        for (int64_t i = 0; i < plane; ++i) d[i] = scalar_t((s[i] - mean) * k + bias);
      }
  });
}

// y = x / sqrt(mean(x^2) + eps) * scale over the axes from `axis` on (ONNX
// opset 23; also what the compiler writes for exported RMSNorm chains).
void run_rms_norm(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32) ctx.unsupported(std::string("RMSNormalization on ") + dtype_name(x.dtype()));
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", -1), x.rank());
  const double eps = ctx.node.attr_f("epsilon", 1e-5f);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < x.rank(); ++i) (i < axis ? outer : inner) *= x.dim(int(i));
  const Tensor& scale = ctx.in(1);
  if (scale.dtype() != DType::f32 || (scale.numel() != 1 && scale.numel() != inner)) ctx.invalid("scale must have 1 or " + std::to_string(inner) + " values");
  Tensor& y = ctx.out(0, DType::f32, x.shape());
  const float* s = x.data<float>();
  const float* g = scale.data<float>();
  float* d = y.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    double ss = 0;
    for (int64_t i = 0; i < inner; ++i) ss += double(s[o * inner + i]) * s[o * inner + i];
    const double inv = 1.0 / std::sqrt(ss / double(inner) + eps);
    for (int64_t i = 0; i < inner; ++i) d[o * inner + i] = float(s[o * inner + i] * inv * g[scale.numel() == 1 ? 0 : i]);
  }
}

void run_layer_norm(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", -1), x.rank());
  double eps = ctx.node.attr_f("epsilon", 1e-5f);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < x.rank(); ++i) (i < axis ? outer : inner) *= x.dim(int(i));
  const Tensor& scale = ctx.in(1);
  Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  if (broadcast_shapes(ctx.node, scale.shape(), norm_shape) != norm_shape) ctx.invalid("scale does not broadcast");
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  Shape stat_shape = x.shape();
  for (int64_t i = axis; i < x.rank(); ++i) stat_shape[size_t(i)] = 1;
  Tensor mean_t, inv_t;
  if (ctx.outputs.size() > 1 && ctx.node.outputs[1] >= 0) mean_t = ctx.out(1, DType::f32, stat_shape);
  if (ctx.outputs.size() > 2 && ctx.node.outputs[2] >= 0) inv_t = ctx.out(2, DType::f32, stat_shape);
  // Scale and bias broadcast to the normalized block; expand them once.
  auto expand = [&](size_t i) {
    std::vector<double> v(size_t(inner), i == 2 ? 0.0 : 1.0);
    if (!ctx.has(i)) return v;
    const Tensor& t = ctx.in(i);
    if (broadcast_shapes(ctx.node, t.shape(), norm_shape) != norm_shape) ctx.invalid(i == 1 ? "scale does not broadcast" : "bias does not broadcast");
    std::vector<int64_t> st = broadcast_strides(t.shape(), norm_shape);
    for (int64_t e = 0; e < inner; ++e) {
      int64_t rem = e, off = 0;
      for (size_t dd = norm_shape.size(); dd-- > 0;) {
        off += (rem % norm_shape[dd]) * st[dd];
        rem /= norm_shape[dd];
      }
      v[size_t(e)] = t.as_double(off);
    }
    return v;
  };
  std::vector<double> sc = expand(1), bi = expand(2);
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    for (int64_t o = 0; o < outer; ++o) {
      const scalar_t* s = src + o * inner;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < inner; ++i) mean += s[i];
      mean /= double(inner);
      for (int64_t i = 0; i < inner; ++i) var += (s[i] - mean) * (s[i] - mean);
      var /= double(inner);
      double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t i = 0; i < inner; ++i) dst[o * inner + i] = scalar_t((s[i] - mean) * inv * sc[size_t(i)] + bi[size_t(i)]);
      if (mean_t.defined()) mean_t.data<float>()[o] = float(mean);
      if (inv_t.defined()) inv_t.data<float>()[o] = float(inv);
    }
  });
  if (mean_t.defined()) ctx.set_out(1, mean_t);
  if (inv_t.defined()) ctx.set_out(2, inv_t);
}

void run_lrn(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32 || x.rank() < 3) ctx.unsupported("LRN needs a float input of rank >= 3");
  int64_t size = ctx.node.attr_i("size", 0);
  if (size <= 0) ctx.invalid("size must be positive");
  double alpha = ctx.node.attr_f("alpha", 1e-4f), beta = ctx.node.attr_f("beta", 0.75f), bias = ctx.node.attr_f("bias", 1.f);
  int64_t n = x.dim(0), c = x.dim(1), plane = x.numel() / std::max<int64_t>(1, n * c);
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  const float* s = x.data<float>();
  float* d = y.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < plane; ++i) {
        double sq = 0;
        for (int64_t k = std::max<int64_t>(0, ch - lo); k <= std::min(c - 1, ch + hi); ++k) {
          double v = s[(b * c + k) * plane + i];
          sq += v * v;
        }
        int64_t o = (b * c + ch) * plane + i;
        d[o] = float(s[o] / std::pow(bias + alpha / double(size) * sq, beta));
      }
}

void run_mvn(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  std::vector<int64_t> axes = ctx.node.attr_ints("axes", {0, 2, 3});
  std::vector<bool> red(size_t(x.rank()), false);
  for (int64_t a : axes) red[size_t(normalize_axis(ctx, a, x.rank()))] = true;
  Shape keep = x.shape();
  for (size_t d = 0; d < keep.size(); ++d)
    if (red[d]) keep[d] = 1;
  int64_t groups = shape_numel(keep), count = groups ? x.numel() / groups : 0;
  std::vector<double> mean(size_t(groups), 0), sq(size_t(groups), 0);
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    scalar_t* d = y.data<scalar_t>();
    for_each_broadcast<1>(x.shape(), {&keep}, [&](int64_t o, const std::array<int64_t, 1>& off, int64_t k, const std::array<int64_t, 1>& st) {
      for (int64_t i = 0; i < k; ++i) mean[size_t(off[0] + i * st[0])] += s[o + i];
    });
    for (double& m : mean) m /= double(count);
    for_each_broadcast<1>(x.shape(), {&keep}, [&](int64_t o, const std::array<int64_t, 1>& off, int64_t k, const std::array<int64_t, 1>& st) {
      for (int64_t i = 0; i < k; ++i) {
        double v = s[o + i] - mean[size_t(off[0] + i * st[0])];
        sq[size_t(off[0] + i * st[0])] += v * v;
      }
    });
    for_each_broadcast<1>(x.shape(), {&keep}, [&](int64_t o, const std::array<int64_t, 1>& off, int64_t k, const std::array<int64_t, 1>& st) {
      for (int64_t i = 0; i < k; ++i) {
        size_t gi = size_t(off[0] + i * st[0]);
        d[o + i] = scalar_t((s[o + i] - mean[gi]) / (std::sqrt(sq[gi] / double(count)) + 1e-9));
      }
    });
  });
}

}  // namespace

void register_norm_ops(OpRegistry& r) {
  r.add("BatchNormalization", run_batch_norm, infer_same_as_input);
  r.add("InstanceNormalization", run_instance_norm, infer_same_as_input);
  r.add("LayerNormalization", run_layer_norm, infer_same_as_input);
  r.add("RMSNormalization", run_rms_norm, infer_same_as_input);
  r.add("LRN", run_lrn, infer_same_as_input);
  r.add("MeanVarianceNormalization", run_mvn, infer_same_as_input);
}

}  // namespace pareto::runtime
