// Unary activations and math functions applied element by element.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/activation.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

struct Params {
  double alpha = 0, beta = 0, gamma = 0;
  std::string mode;
};

template <class F>
void run_unary_float(OpContext& ctx, const Params& p) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  int64_t n = x.numel();
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    parallel_elementwise(x.shape(), n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = F::template apply<scalar_t>(src[i], p);
    });
  });
}

template <class F>
void run_unary_numeric(OpContext& ctx, const Params& p) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  int64_t n = x.numel();
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    parallel_elementwise(x.shape(), n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = F::template apply<scalar_t>(src[i], p);
    });
  });
}

#define FLOAT_OP(NAME, EXPR)                                              \
  struct NAME {                                                           \
    template <class T>                                                    \
    static T apply(T x, const Params& p) {                                \
      (void)p;                                                            \
      return T(EXPR);                                                     \
    }                                                                     \
  };

FLOAT_OP(Sigmoid, x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)))
FLOAT_OP(Tanh, std::tanh(x))
FLOAT_OP(Exp, std::exp(x))
FLOAT_OP(Log, std::log(x))
FLOAT_OP(Sqrt, std::sqrt(x))
FLOAT_OP(Reciprocal, T(1) / x)
FLOAT_OP(Floor, std::floor(x))
FLOAT_OP(Ceil, std::ceil(x))
FLOAT_OP(Round, std::nearbyint(x))
FLOAT_OP(Sin, std::sin(x))
FLOAT_OP(Cos, std::cos(x))
FLOAT_OP(Tan, std::tan(x))
FLOAT_OP(Asin, std::asin(x))
FLOAT_OP(Acos, std::acos(x))
FLOAT_OP(Atan, std::atan(x))
FLOAT_OP(Sinh, std::sinh(x))
FLOAT_OP(Cosh, std::cosh(x))
FLOAT_OP(Asinh, std::asinh(x))
FLOAT_OP(Acosh, std::acosh(x))
FLOAT_OP(Atanh, std::atanh(x))
FLOAT_OP(Erf, std::erf(x))
FLOAT_OP(Softplus, x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)))
FLOAT_OP(Softsign, x / (1 + std::abs(x)))
FLOAT_OP(HardSigmoid, std::max(T(0), std::min(T(1), T(p.alpha) * x + T(p.beta))))
FLOAT_OP(HardSwish, x * std::max(T(0), std::min(T(1), x * (T(1) / T(6)) + T(0.5))))  // ONNX: alpha = 1/6, beta = 0.5
FLOAT_OP(LeakyRelu, x >= 0 ? x : T(p.alpha) * x)
FLOAT_OP(Elu, x >= 0 ? x : T(p.alpha) * (std::exp(x) - 1))
FLOAT_OP(Selu, x > 0 ? T(p.gamma) * x : T(p.gamma) * (T(p.alpha) * std::exp(x) - T(p.alpha)))
FLOAT_OP(Celu, std::max(T(0), x) + std::min(T(0), T(p.alpha) * (std::exp(x / T(p.alpha)) - 1)))
FLOAT_OP(ThresholdedRelu, x > T(p.alpha) ? x : T(0))
FLOAT_OP(Mish, x * std::tanh(std::log1p(std::exp(x))))
FLOAT_OP(GeluErf, T(0.5) * x * (1 + std::erf(x / std::sqrt(T(2)))))
FLOAT_OP(GeluTanh, T(0.5) * x * (1 + std::tanh(std::sqrt(T(2) / T(M_PI)) * (x + T(0.044715) * x * x * x))))

#define NUMERIC_OP(NAME, EXPR) FLOAT_OP(NAME, EXPR)
NUMERIC_OP(Relu, x > T(0) ? x : T(0))
NUMERIC_OP(Abs, x < T(0) ? T(0) - x : x)
NUMERIC_OP(Neg, T(0) - x)
NUMERIC_OP(Sign, x > T(0) ? 1 : (x < T(0) ? -1 : 0))

template <class F>
void float_op(OpContext& ctx) {
  run_unary_float<F>(ctx, Params{});
}
template <class F>
void numeric_op(OpContext& ctx) {
  run_unary_numeric<F>(ctx, Params{});
}

// f32 Sigmoid through the epilogue kernel (vectorized exp where the CPU has
// it): chunks are copied to the output and transformed there in cache.
void sigmoid(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::f32) return run_unary_float<Sigmoid>(ctx, Params{});
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  const float* src = x.data<float>();
  float* dst = y.data<float>();
  kernels::Activation act;
  act.kind = kernels::ActKind::sigmoid;
  parallel_elementwise(x.shape(), x.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b += 4096) {
      const int64_t e = std::min(end, b + 4096);
      if (dst != src) std::copy(src + b, src + e, dst + b);
      kernels::apply_activation(act, dst + b, nullptr, e - b);
    }
  });
}

void hard_sigmoid(OpContext& ctx) {
  run_unary_float<HardSigmoid>(ctx, {ctx.node.attr_f("alpha", 0.2f), ctx.node.attr_f("beta", 0.5f), 0, ""});
}
void leaky_relu(OpContext& ctx) { run_unary_float<LeakyRelu>(ctx, {ctx.node.attr_f("alpha", 0.01f), 0, 0, ""}); }
void elu(OpContext& ctx) { run_unary_float<Elu>(ctx, {ctx.node.attr_f("alpha", 1.f), 0, 0, ""}); }
void selu(OpContext& ctx) {
  run_unary_float<Selu>(ctx, {ctx.node.attr_f("alpha", 1.67326319217681884765625f), 0,
                              ctx.node.attr_f("gamma", 1.05070102214813232421875f), ""});
}
void celu(OpContext& ctx) { run_unary_float<Celu>(ctx, {ctx.node.attr_f("alpha", 1.f), 0, 0, ""}); }
void thresholded_relu(OpContext& ctx) { run_unary_float<ThresholdedRelu>(ctx, {ctx.node.attr_f("alpha", 1.f), 0, 0, ""}); }
void gelu(OpContext& ctx) {
  std::string approx = ctx.node.attr_s("approximate", "none");
  if (approx == "tanh") run_unary_float<GeluTanh>(ctx, {});
  else if (approx == "none") run_unary_float<GeluErf>(ctx, {});
  else ctx.invalid("approximate must be 'none' or 'tanh', got '" + approx + "'");
}

// y = min(max(x, lo), hi) (numpy's clip: hi wins where lo > hi), NaN kept.
template <class T>
void clip_values(const Tensor& x, Tensor& y, T lo, T hi) {
  const T* s = x.data<T>();
  T* d = y.data<T>();
  parallel_elementwise(x.shape(), x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T t = s[i] < lo ? lo : s[i];
      d[i] = hi < t ? hi : t;
    }
  });
}
// f32 through the activation kernel's vector clip, the same min(max(x, lo),
// hi): the loop above stayed scalar (6 ms of PP-OCR det's QDQ run on one
// 32x320x320 map).
template <>
void clip_values<float>(const Tensor& x, Tensor& y, float lo, float hi) {
  const float* s = x.data<float>();
  float* d = y.data<float>();
  kernels::Activation act;
  act.kind = kernels::ActKind::clip;
  act.alpha = lo;
  act.beta = hi;
  parallel_elementwise(x.shape(), x.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b += 4096) {  // copied and clipped while in L1
      const int64_t e = std::min(end, b + 4096);
      if (d != s) std::copy(s + b, s + e, d + b);
      kernels::apply_activation(act, d + b, nullptr, e - b);
    }
  });
}

void clip(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  bool attr_form = ctx.opset < 11;
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    scalar_t lo = std::numeric_limits<scalar_t>::lowest(), hi = std::numeric_limits<scalar_t>::max();
    if (attr_form) {
      // The float attributes saturate into integer types (the default +-FLT_MAX
      // is outside int64: converting it unchecked is undefined).
      auto to_scalar = [](double v) {
        if constexpr (std::is_integral_v<scalar_t>) {
          if (!(v > double(std::numeric_limits<scalar_t>::lowest()))) return std::numeric_limits<scalar_t>::lowest();
          if (v >= double(std::numeric_limits<scalar_t>::max())) return std::numeric_limits<scalar_t>::max();
        }
        return scalar_t(v);
      };
      lo = to_scalar(ctx.node.attr_f("min", -std::numeric_limits<float>::max()));
      hi = to_scalar(ctx.node.attr_f("max", std::numeric_limits<float>::max()));
    } else {
      for (size_t i = 1; i <= 2; ++i)
        if (ctx.has(i)) {
          const Tensor& b = ctx.in(i);
          if (b.numel() != 1) ctx.invalid("min/max must be scalars");
          if (b.dtype() != x.dtype()) ctx.invalid("min/max type differs from input type");
          (i == 1 ? lo : hi) = b.data<scalar_t>()[0];
        }
    }
    clip_values<scalar_t>(x, y, lo, hi);
  });
}

void shrink(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  double lambd = ctx.node.attr_f("lambd", 0.5f), bias = ctx.node.attr_f("bias", 0.f);
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    scalar_t* d = y.data<scalar_t>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      double v = double(s[i]);
      d[i] = scalar_t(v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0));
    }
  });
}

void is_nan(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0, DType::boolean, x.shape());
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    for (int64_t i = 0; i < x.numel(); ++i) static_cast<uint8_t*>(y.raw())[i] = std::isnan(x.data<scalar_t>()[i]);
  });
}

void is_inf(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0, DType::boolean, x.shape());
  bool pos = ctx.node.attr_i("detect_positive", 1), neg = ctx.node.attr_i("detect_negative", 1);
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    for (int64_t i = 0; i < x.numel(); ++i) {
      scalar_t v = x.data<scalar_t>()[i];
      static_cast<uint8_t*>(y.raw())[i] = std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
    }
  });
}

void logical_not(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::boolean) ctx.invalid("input must be bool");
  Tensor& y = ctx.out(0, DType::boolean, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i)
    static_cast<uint8_t*>(y.raw())[i] = !static_cast<const uint8_t*>(x.raw())[i];
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  InferFn same = infer_same_as_input;
  r.add("Relu", numeric_op<Relu>, same);
  r.add("Abs", numeric_op<Abs>, same);
  r.add("Neg", numeric_op<Neg>, same);
  r.add("Sign", numeric_op<Sign>, same);
  r.add("Sigmoid", sigmoid, same);
  r.add("Tanh", float_op<Tanh>, same);
  r.add("Exp", float_op<Exp>, same);
  r.add("Log", float_op<Log>, same);
  r.add("Sqrt", float_op<Sqrt>, same);
  r.add("Reciprocal", float_op<Reciprocal>, same);
  r.add("Floor", float_op<Floor>, same);
  r.add("Ceil", float_op<Ceil>, same);
  r.add("Round", float_op<Round>, same);
  r.add("Sin", float_op<Sin>, same);
  r.add("Cos", float_op<Cos>, same);
  r.add("Tan", float_op<Tan>, same);
  r.add("Asin", float_op<Asin>, same);
  r.add("Acos", float_op<Acos>, same);
  r.add("Atan", float_op<Atan>, same);
  r.add("Sinh", float_op<Sinh>, same);
  r.add("Cosh", float_op<Cosh>, same);
  r.add("Asinh", float_op<Asinh>, same);
  r.add("Acosh", float_op<Acosh>, same);
  r.add("Atanh", float_op<Atanh>, same);
  r.add("Erf", float_op<Erf>, same);
  r.add("Softplus", float_op<Softplus>, same);
  r.add("Softsign", float_op<Softsign>, same);
  r.add("HardSwish", float_op<HardSwish>, same);
  r.add("Mish", float_op<Mish>, same);
  r.add("HardSigmoid", hard_sigmoid, same);
  r.add("LeakyRelu", leaky_relu, same);
  r.add("Elu", elu, same);
  r.add("Selu", selu, same);
  r.add("Celu", celu, same);
  r.add("ThresholdedRelu", thresholded_relu, same);
  r.add("Gelu", gelu, same);
  r.add("Clip", clip, same);
  r.add("Shrink", shrink, same);
  r.add("IsNaN", is_nan, nullptr);
  r.add("IsInf", is_inf, nullptr);
  r.add("Not", logical_not, same);
}

}  // namespace pareto::runtime
