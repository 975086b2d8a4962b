// Reductions (ReduceSum/Mean/Max/...) and ArgMax/ArgMin.
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

enum class Red { sum, mean, max, min, prod, l1, l2, log_sum, log_sum_exp, sum_square };

template <Red op>
void run_reduce(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  bool axes_as_input = ctx.opset >= 18 || (op == Red::sum && ctx.opset >= 13);
  std::vector<int64_t> axes = axes_as_input ? (ctx.has(1) ? input_ints(ctx, 1) : std::vector<int64_t>{})
                                            : ctx.node.attr_ints("axes");
  bool keep = ctx.node.attr_i("keepdims", 1);
  bool noop_empty = ctx.node.attr_i("noop_with_empty_axes", 0);
  int64_t r = x.rank();
  std::vector<bool> reduced(size_t(r), axes.empty() && !noop_empty);
  for (int64_t a : axes) reduced[size_t(normalize_axis(ctx, a, r))] = true;
  Shape keep_shape = x.shape(), out;
  for (int64_t d = 0; d < r; ++d) {
    if (reduced[size_t(d)]) keep_shape[size_t(d)] = 1;
    if (!reduced[size_t(d)] || keep) out.push_back(keep_shape[size_t(d)]);
  }
  int64_t n_out = shape_numel(keep_shape);
  int64_t count = n_out ? x.numel() / n_out : 0;
  double init = 0;
  if (op == Red::max) init = -std::numeric_limits<double>::infinity();
  if (op == Red::min) init = std::numeric_limits<double>::infinity();
  if (op == Red::prod) init = 1;
  std::vector<double> acc(size_t(n_out), init);
  // Log-sum-exp is shifted by the maximum for stability.
  std::vector<double> shift(size_t(n_out), 0);
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    if (op == Red::log_sum_exp) {
      std::fill(shift.begin(), shift.end(), -std::numeric_limits<double>::infinity());
      for_each_broadcast<1>(x.shape(), {&keep_shape}, [&](int64_t o, const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
        for (int64_t i = 0; i < n; ++i) shift[size_t(off[0] + i * st[0])] = std::max(shift[size_t(off[0] + i * st[0])], double(s[o + i]));
      });
      for (double& v : shift)
        if (!std::isfinite(v)) v = 0;
    }
    for_each_broadcast<1>(x.shape(), {&keep_shape}, [&](int64_t o, const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
      for (int64_t i = 0; i < n; ++i) {
        double v = double(s[o + i]);
        double& a = acc[size_t(off[0] + i * st[0])];
        switch (op) {
          case Red::sum: case Red::mean: case Red::log_sum: a += v; break;
          case Red::max: a = (v > a || std::isnan(v)) ? v : a; break;
          case Red::min: a = (v < a || std::isnan(v)) ? v : a; break;
          case Red::prod: a *= v; break;
          case Red::l1: a += std::abs(v); break;
          case Red::l2: case Red::sum_square: a += v * v; break;
          case Red::log_sum_exp: a += std::exp(v - shift[size_t(off[0] + i * st[0])]); break;
        }
      }
    });
    Tensor& y = ctx.out(0, x.dtype(), out);
    scalar_t* d = y.data<scalar_t>();
    for (int64_t i = 0; i < n_out; ++i) {
      double a = acc[size_t(i)];
      switch (op) {
        case Red::mean: a = count ? a / double(count) : std::nan(""); break;
        case Red::l2: a = std::sqrt(a); break;
        case Red::log_sum: a = std::log(a); break;
        case Red::log_sum_exp: a = std::log(a) + shift[size_t(i)]; break;
        default: break;
      }
      if constexpr (std::is_integral_v<scalar_t>) {
        if (std::isinf(a)) a = a > 0 ? double(std::numeric_limits<scalar_t>::max()) : double(std::numeric_limits<scalar_t>::lowest());
      }
      // Integer outputs saturate: an empty max/min reduction (+-inf) or an
      // overflowing sum must not reach an out-of-range conversion.
      if constexpr (std::is_integral_v<scalar_t>) {
        const double lo = double(std::numeric_limits<scalar_t>::lowest()), hi = double(std::numeric_limits<scalar_t>::max());
        d[i] = !(a > lo) ? std::numeric_limits<scalar_t>::lowest() : a >= hi ? std::numeric_limits<scalar_t>::max() : scalar_t(a);
      } else {
        d[i] = scalar_t(a);
      }
    }
  });
}

template <bool is_max>
void run_arg(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", 0), x.rank());
  bool keep = ctx.node.attr_i("keepdims", 1), last = ctx.node.attr_i("select_last_index", 0);
  int64_t outer = 1, len = x.dim(int(axis)), inner = 1;
  Shape out;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (d < axis) outer *= x.dim(int(d));
    if (d > axis) inner *= x.dim(int(d));
    if (d != axis) out.push_back(x.dim(int(d)));
    else if (keep) out.push_back(1);
  }
  if (len == 0) ctx.invalid("cannot take arg over an empty axis");
  Tensor& y = ctx.out(0, DType::i64, out);
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    int64_t* d = y.data<int64_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        const scalar_t* p = s + o * len * inner + in;
        int64_t best = 0;
        for (int64_t i = 1; i < len; ++i) {
          scalar_t v = p[i * inner], b = p[best * inner];
          bool better = is_max ? (v > b || (last && v == b)) : (v < b || (last && v == b));
          if (better) best = i;
        }
        d[o * inner + in] = best;
      }
  });
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  r.add("ReduceSum", run_reduce<Red::sum>);
  r.add("ReduceMean", run_reduce<Red::mean>);
  r.add("ReduceMax", run_reduce<Red::max>);
  r.add("ReduceMin", run_reduce<Red::min>);
  r.add("ReduceProd", run_reduce<Red::prod>);
  r.add("ReduceL1", run_reduce<Red::l1>);
  r.add("ReduceL2", run_reduce<Red::l2>);
  r.add("ReduceLogSum", run_reduce<Red::log_sum>);
  r.add("ReduceLogSumExp", run_reduce<Red::log_sum_exp>);
  r.add("ReduceSumSquare", run_reduce<Red::sum_square>);
  r.add("ArgMax", run_arg<true>);
  r.add("ArgMin", run_arg<false>);
}

}  // namespace pareto::runtime
