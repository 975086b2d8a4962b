// Broadcasting binary and variadic ops: arithmetic, comparison, logic, Where.
#include <cmath>
#include <type_traits>

#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

template <class T, class R, class F>
void binary_loop(const Tensor& a, const Tensor& b, Tensor& y, F f) {
  const T* pa = static_cast<const T*>(a.raw());
  const T* pb = static_cast<const T*>(b.raw());
  R* py = static_cast<R*>(y.raw());
  for_each_broadcast<2>(y.shape(), {&a.shape(), &b.shape()},
                        [&](int64_t o, const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                          const T* x0 = pa + off[0];
                          const T* x1 = pb + off[1];
                          R* d = py + o;
                          if (st[0] == 1 && st[1] == 1)
                            for (int64_t i = 0; i < n; ++i) d[i] = f(x0[i], x1[i]);
                          else if (st[0] == 1 && st[1] == 0)
                            for (int64_t i = 0; i < n; ++i) d[i] = f(x0[i], *x1);
                          else if (st[0] == 0 && st[1] == 1)
                            for (int64_t i = 0; i < n; ++i) d[i] = f(*x0, x1[i]);
                          else
                            for (int64_t i = 0; i < n; ++i) d[i] = f(x0[i * st[0]], x1[i * st[1]]);
                        },
                        true);
}

void check_same_type(const OpContext& ctx, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    ctx.invalid(std::string("input types differ: ") + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
}

enum class Arith { add, sub, mul, div, max, min };

template <class T>
T arith(Arith op, T x, T y) {
  switch (op) {
    case Arith::add: return T(x + y);
    case Arith::sub: return T(x - y);
    case Arith::mul: return T(x * y);
    case Arith::div:
      if constexpr (std::is_integral_v<T>) {
        if (y == 0) return 0;  // defined result instead of a trap on hostile input
        if constexpr (std::is_signed_v<T>)
          if (y == T(-1)) return T(T(0) - x);
      }
      return T(x / y);
    case Arith::max: return (x != x || x > y) ? x : y;
    case Arith::min: return (x != x || x < y) ? x : y;
  }
  return x;
}

// y = a op b, y already shaped to the broadcast of a and b (and not
// sharing memory with either: Add/Mul/... never write in place).
void arith_into(const OpContext& ctx, Arith op, const Tensor& a, const Tensor& b, Tensor& y) {
  PARETO_DISPATCH_NUMERIC(ctx, a.dtype(), {
    switch (op) {
      case Arith::add: binary_loop<scalar_t, scalar_t>(a, b, y, [](scalar_t x, scalar_t z) { return scalar_t(x + z); }); break;
      case Arith::sub: binary_loop<scalar_t, scalar_t>(a, b, y, [](scalar_t x, scalar_t z) { return scalar_t(x - z); }); break;
      case Arith::mul: binary_loop<scalar_t, scalar_t>(a, b, y, [](scalar_t x, scalar_t z) { return scalar_t(x * z); }); break;
      // A select per element, not a switch: the loop vectorizes (openWakeWord's
      // embedding CNN spent 0.1 ms in each max(x, leaky(x)) over 56K values).
      case Arith::max: binary_loop<scalar_t, scalar_t>(a, b, y, [](scalar_t x, scalar_t z) { return (x != x || x > z) ? x : z; }); break;
      case Arith::min: binary_loop<scalar_t, scalar_t>(a, b, y, [](scalar_t x, scalar_t z) { return (x != x || x < z) ? x : z; }); break;
      case Arith::div:
        if constexpr (std::is_floating_point_v<scalar_t>) {
          binary_loop<scalar_t, scalar_t>(a, b, y, [](scalar_t x, scalar_t z) { return scalar_t(x / z); });
          break;
        }
        [[fallthrough]];  // integers: the checked division below
      default: binary_loop<scalar_t, scalar_t>(a, b, y, [op](scalar_t x, scalar_t z) { return arith(op, x, z); });
    }
  });
}

Tensor arith_pair(const OpContext& ctx, Arith op, const Tensor& a, const Tensor& b) {
  check_same_type(ctx, a, b);
  Tensor y = Tensor::empty(a.dtype(), broadcast_shapes(ctx.node, a.shape(), b.shape()));
  arith_into(ctx, op, a, b, y);
  return y;
}

// Into the output's planned arena slot: a fresh heap tensor per run (9.8 MB
// for PP-OCR det's neck Adds) is returned to the system and faulted back
// in page by page whenever other allocations shift the heap between runs.
template <Arith op>
void run_arith(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  check_same_type(ctx, a, b);
  arith_into(ctx, op, a, b, ctx.out(0, a.dtype(), broadcast_shapes(ctx.node, a.shape(), b.shape())));
}

// Max, Min, Sum, Mean over any number of inputs.
template <Arith op, bool mean = false>
void run_variadic(OpContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.invalid("needs at least one input");
  if (ctx.num_inputs() == 2 && !mean) {  // the common form, into the planned slot as run_arith does
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    check_same_type(ctx, a, b);
    arith_into(ctx, op, a, b, ctx.out(0, a.dtype(), broadcast_shapes(ctx.node, a.shape(), b.shape())));
    return;
  }
  Tensor acc = ctx.in(0);
  for (size_t i = 1; i < ctx.num_inputs(); ++i) acc = arith_pair(ctx, op, acc, ctx.in(i));
  if (ctx.num_inputs() == 1) acc = acc.clone();
  if constexpr (mean) {
    PARETO_DISPATCH_FLOAT(ctx, acc.dtype(), {
      scalar_t* d = acc.data<scalar_t>();
      for (int64_t i = 0; i < acc.numel(); ++i) d[i] /= scalar_t(ctx.num_inputs());
    });
  }
  ctx.set_out(0, acc);
}

void run_pow(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  Tensor& y = ctx.out(0, a.dtype(), broadcast_shapes(ctx.node, a.shape(), b.shape()));
  PARETO_DISPATCH_NUMERIC(ctx, a.dtype(), {
    using base_t = scalar_t;
    if (b.dtype() == a.dtype()) {
      binary_loop<base_t, base_t>(a, b, y, [](base_t x, base_t e) {
        if constexpr (std::is_same_v<base_t, float>)
          if (e == 2.f) return x * x;
        return base_t(std::pow(double(x), double(e)));
      });
    } else {
      Tensor bd = Tensor::empty(DType::f64, b.shape());
      for (int64_t i = 0; i < b.numel(); ++i) bd.data<double>()[i] = b.as_double(i);
      Tensor ad = Tensor::empty(DType::f64, a.shape());
      for (int64_t i = 0; i < a.numel(); ++i) ad.data<double>()[i] = a.as_double(i);
      binary_loop<double, base_t>(ad, bd, y, [](double x, double e) { return base_t(std::pow(x, e)); });
    }
  });
}

template <class T>
T mod_value(T x, T z, bool fmod) {
  if constexpr (std::is_integral_v<T>) {
    if (z == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (z == -1) return 0;
      T r = T(x % z);
      if (!fmod && r != 0 && ((r < 0) != (z < 0))) r = T(r + z);
      return r;
    } else {
      return T(x % z);
    }
  } else {
    T r = std::fmod(x, z);
    if (!fmod && r != 0 && ((r < 0) != (z < 0))) r += z;
    return r;
  }
}

void run_mod(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  check_same_type(ctx, a, b);
  bool fmod = ctx.node.attr_i("fmod", 0);
  Tensor& y = ctx.out(0, a.dtype(), broadcast_shapes(ctx.node, a.shape(), b.shape()));
  PARETO_DISPATCH_NUMERIC(ctx, a.dtype(), {
    binary_loop<scalar_t, scalar_t>(a, b, y, [fmod](scalar_t x, scalar_t z) { return mod_value(x, z, fmod); });
  });
}

enum class Cmp { eq, lt, gt, le, ge };

template <Cmp op>
void run_compare(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  check_same_type(ctx, a, b);
  Tensor& y = ctx.out(0, DType::boolean, broadcast_shapes(ctx.node, a.shape(), b.shape()));
  auto cmp = [](auto x, auto z) -> uint8_t {
    switch (op) {
      case Cmp::eq: return x == z;
      case Cmp::lt: return x < z;
      case Cmp::gt: return x > z;
      case Cmp::le: return x <= z;
      case Cmp::ge: return x >= z;
    }
    return 0;
  };
  if (a.dtype() == DType::boolean) {
    binary_loop<uint8_t, uint8_t>(a, b, y, cmp);
    return;
  }
  PARETO_DISPATCH_NUMERIC(ctx, a.dtype(), { binary_loop<scalar_t, uint8_t>(a, b, y, cmp); });
}

enum class Logic { and_, or_, xor_ };

template <Logic op>
void run_logic(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  if (a.dtype() != DType::boolean || b.dtype() != DType::boolean) ctx.invalid("inputs must be bool");
  Tensor& y = ctx.out(0, DType::boolean, broadcast_shapes(ctx.node, a.shape(), b.shape()));
  binary_loop<uint8_t, uint8_t>(a, b, y, [](uint8_t x, uint8_t z) -> uint8_t {
    if (op == Logic::and_) return x && z;
    if (op == Logic::or_) return x || z;
    return bool(x) != bool(z);
  });
}

void run_bitshift(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  check_same_type(ctx, a, b);
  bool left = ctx.node.attr_s("direction", "") == "LEFT";
  Tensor& y = ctx.out(0, a.dtype(), broadcast_shapes(ctx.node, a.shape(), b.shape()));
  auto go = [&](auto tag) {
    using T = decltype(tag);
    binary_loop<T, T>(a, b, y, [left](T x, T s) -> T {
      if (s >= T(sizeof(T) * 8)) return 0;
      return left ? T(x << s) : T(x >> s);
    });
  };
  switch (a.dtype()) {
    case DType::u8: go(uint8_t{}); break;
    case DType::u16: go(uint16_t{}); break;
    case DType::u32: go(uint32_t{}); break;
    case DType::u64: go(uint64_t{}); break;
    default: ctx.unsupported(std::string("BitShift on ") + dtype_name(a.dtype()));
  }
}

void run_prelu(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor slope = ctx.in(1);
  check_same_type(ctx, x, slope);
  // Before opset 7 a 1-D slope applied per channel (axis 1).
  if (ctx.opset < 7 && slope.rank() == 1 && x.rank() >= 2 && slope.numel() == x.dim(1) && slope.numel() != x.dim(x.rank() - 1)) {
    Shape s(size_t(x.rank() - 1), 1);
    s[0] = slope.numel();
    slope = slope.reshaped(s);
  }
  Tensor& y = ctx.out(0, x.dtype(), broadcast_shapes(ctx.node, x.shape(), slope.shape()));
  if (y.shape() != x.shape()) ctx.invalid("slope must broadcast to the input shape");
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    binary_loop<scalar_t, scalar_t>(x, slope, y, [](scalar_t v, scalar_t s) { return v > scalar_t(0) || v == scalar_t(0) ? v : scalar_t(v * s); });
  });
}

void run_where(OpContext& ctx) {
  const Tensor& c = ctx.in(0);
  const Tensor& a = ctx.in(1);
  const Tensor& b = ctx.in(2);
  if (c.dtype() != DType::boolean) ctx.invalid("condition must be bool");
  check_same_type(ctx, a, b);
  Shape out = broadcast_shapes(ctx.node, broadcast_shapes(ctx.node, c.shape(), a.shape()), b.shape());
  Tensor& y = ctx.out(0, a.dtype(), out);
  PARETO_DISPATCH_BYTES(ctx, a.dtype(), {
    const uint8_t* pc = static_cast<const uint8_t*>(c.raw());
    const scalar_t* pa = static_cast<const scalar_t*>(a.raw());
    const scalar_t* pb = static_cast<const scalar_t*>(b.raw());
    scalar_t* py = static_cast<scalar_t*>(y.raw());
    for_each_broadcast<3>(out, {&c.shape(), &a.shape(), &b.shape()},
                          [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                            for (int64_t i = 0; i < n; ++i)
                              py[o + i] = pc[off[0] + i * st[0]] ? pa[off[1] + i * st[1]] : pb[off[2] + i * st[2]];
                          },
                          true);
  });
}

void infer_where(InferContext& ctx) {
  infer_broadcast(ctx);
  if (ctx.type(1)) ctx.out_types[0].dtype = ctx.type(1)->dtype;
}

void infer_compare(InferContext& ctx) {
  infer_broadcast(ctx);
  ctx.out_types[0].dtype = DType::boolean;
}

}  // namespace

void register_math_ops(OpRegistry& r) {
  r.add("Add", run_arith<Arith::add>, infer_broadcast);
  r.add("Sub", run_arith<Arith::sub>, infer_broadcast);
  r.add("Mul", run_arith<Arith::mul>, infer_broadcast);
  r.add("Div", run_arith<Arith::div>, infer_broadcast);
  r.add("Max", run_variadic<Arith::max>, infer_broadcast);
  r.add("Min", run_variadic<Arith::min>, infer_broadcast);
  r.add("Sum", run_variadic<Arith::add>, infer_broadcast);
  r.add("Mean", run_variadic<Arith::add, true>, infer_broadcast);
  r.add("Pow", run_pow, infer_broadcast);
  r.add("Mod", run_mod, infer_broadcast);
  r.add("Equal", run_compare<Cmp::eq>, infer_compare);
  r.add("Less", run_compare<Cmp::lt>, infer_compare);
  r.add("Greater", run_compare<Cmp::gt>, infer_compare);
  r.add("LessOrEqual", run_compare<Cmp::le>, infer_compare);
  r.add("GreaterOrEqual", run_compare<Cmp::ge>, infer_compare);
  r.add("And", run_logic<Logic::and_>, infer_compare);
  r.add("Or", run_logic<Logic::or_>, infer_compare);
  r.add("Xor", run_logic<Logic::xor_>, infer_compare);
  r.add("BitShift", run_bitshift, infer_broadcast);
  r.add("PRelu", run_prelu, infer_same_as_input);
  r.add("Where", run_where, infer_where);
}

}  // namespace pareto::runtime
