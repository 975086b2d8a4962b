// Index-driven ops: CumSum, TopK, OneHot, NonZero, Scatter/Gather ND and
// elements, EyeLike, Compress. Every index read from a tensor is range-checked.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

int64_t checked_index(const OpContext& ctx, int64_t i, int64_t dim) {
  if (i < -dim || i >= dim) ctx.invalid("index " + std::to_string(i) + " is out of range for size " + std::to_string(dim));
  return i < 0 ? i + dim : i;
}

void run_cumsum(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t axis = normalize_axis(ctx, ctx.in(1).as_int(0), x.rank());
  bool exclusive = ctx.node.attr_i("exclusive", 0), reverse = ctx.node.attr_i("reverse", 0);
  int64_t outer = 1, len = x.dim(int(axis)), inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d < axis) outer *= x.dim(int(d));
    else if (d > axis) inner *= x.dim(int(d));
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    scalar_t* d = y.data<scalar_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        scalar_t acc = 0;
        for (int64_t k = 0; k < len; ++k) {
          int64_t i = reverse ? len - 1 - k : k;
          int64_t off = (o * len + i) * inner + in;
          if (exclusive) {
            d[off] = acc;
            acc = scalar_t(acc + s[off]);
          } else {
            acc = scalar_t(acc + s[off]);
            d[off] = acc;
          }
        }
      }
  });
}

void run_topk(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", -1), x.rank());
  int64_t k = ctx.opset < 10 ? ctx.node.attr_i("k", 0) : ctx.in(1).as_int(0);
  bool largest = ctx.node.attr_i("largest", 1), sorted = ctx.node.attr_i("sorted", 1);
  (void)sorted;  // always sorted: allowed by the spec
  int64_t len = x.dim(int(axis));
  if (k < 0 || k > len) ctx.invalid("k=" + std::to_string(k) + " is out of range for axis size " + std::to_string(len));
  Shape out = x.shape();
  out[size_t(axis)] = k;
  Tensor& vals = ctx.out(0, x.dtype(), out);
  Tensor& idx = ctx.out(1, DType::i64, out);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d < axis) outer *= x.dim(int(d));
    else if (d > axis) inner *= x.dim(int(d));
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    std::vector<int64_t> order(static_cast<size_t>(len));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        auto at = [&](int64_t i) { return s[(o * len + i) * inner + in]; };
        std::iota(order.begin(), order.end(), 0);
        // Ties keep the lower index first, as the ONNX reference does.
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return largest ? at(a) > at(b) : at(a) < at(b); });
        for (int64_t j = 0; j < k; ++j) {
          vals.data<scalar_t>()[(o * k + j) * inner + in] = at(order[size_t(j)]);
          idx.data<int64_t>()[(o * k + j) * inner + in] = order[size_t(j)];
        }
      }
  });
}

void run_onehot(OpContext& ctx) {
  const Tensor& indices = ctx.in(0);
  if (ctx.in(1).numel() != 1) ctx.invalid("depth must be a scalar");
  const int64_t depth = ctx.in(1).as_int(0);  // saturating: NaN or huge depths are refused below or by the limits
  const Tensor& values = ctx.in(2);
  if (depth <= 0) ctx.invalid("depth must be positive");
  if (values.numel() != 2) ctx.invalid("values must hold [off, on]");
  int64_t r = indices.rank() + 1;
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", -1), r);
  Shape out = indices.shape();
  out.insert(out.begin() + axis, depth);
  Tensor& y = ctx.out(0, values.dtype(), out);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < indices.rank(); ++d) (d < axis ? outer : inner) *= indices.dim(int(d));
  size_t es = dtype_size(values.dtype());
  const uint8_t* off = static_cast<const uint8_t*>(values.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  for (int64_t e = 0; e < y.numel(); ++e) std::memcpy(dst + size_t(e) * es, off, es);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      int64_t i = int64_t(indices.as_double(o * inner + in));
      if (i < -depth || i >= depth) continue;  // out-of-range indices give an all-off row
      if (i < 0) i += depth;
      std::memcpy(dst + size_t((o * depth + i) * inner + in) * es, off + es, es);
    }
}

void run_nonzero(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  std::vector<int64_t> hits;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (x.as_double(i) != 0) hits.push_back(i);
  int64_t r = std::max(x.rank(), 1);
  Tensor& y = ctx.out(0, DType::i64, {r, int64_t(hits.size())});
  std::vector<int64_t> st = strides_of(x.shape());
  for (size_t h = 0; h < hits.size(); ++h)
    for (int64_t d = 0; d < x.rank(); ++d) y.data<int64_t>()[d * int64_t(hits.size()) + int64_t(h)] = hits[h] / st[size_t(d)] % x.dim(int(d));
  if (x.rank() == 0)
    for (size_t h = 0; h < hits.size(); ++h) y.data<int64_t>()[h] = 0;
}

enum class Reduction { none, add, mul, max, min };

Reduction reduction_of(const OpContext& ctx) {
  std::string r = ctx.node.attr_s("reduction", "none");
  if (r == "none") return Reduction::none;
  if (r == "add") return Reduction::add;
  if (r == "mul") return Reduction::mul;
  if (r == "max") return Reduction::max;
  if (r == "min") return Reduction::min;
  ctx.invalid("unknown reduction '" + r + "'");
}

template <class T>
void combine(T& dst, T v, Reduction r) {
  switch (r) {
    case Reduction::none: dst = v; break;
    case Reduction::add: dst = T(dst + v); break;
    case Reduction::mul: dst = T(dst * v); break;
    case Reduction::max: dst = std::max(dst, v); break;
    case Reduction::min: dst = std::min(dst, v); break;
  }
}

void run_scatter_elements(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& idx = ctx.in(1);
  const Tensor& upd = ctx.in(2);
  if (idx.shape() != upd.shape() || idx.rank() != x.rank()) ctx.invalid("indices and updates must have the data's rank and one shape");
  if (upd.dtype() != x.dtype()) ctx.invalid(std::string("updates are ") + dtype_name(upd.dtype()) + ", data " + dtype_name(x.dtype()));
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", 0), x.rank());
  Reduction red = reduction_of(ctx);
  Tensor y = x.clone();
  std::vector<int64_t> xs = strides_of(x.shape()), is = strides_of(idx.shape());
  std::vector<int64_t> ids = input_ints(ctx, 1);
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    scalar_t* d = y.data<scalar_t>();
    const scalar_t* u = upd.data<scalar_t>();
    for (int64_t e = 0; e < idx.numel(); ++e) {
      int64_t off = 0;
      for (int64_t k = 0; k < x.rank(); ++k) {
        int64_t c = e / is[size_t(k)] % idx.dim(int(k));
        if (k == axis) c = checked_index(ctx, ids[size_t(e)], x.dim(int(k)));
        else if (c >= x.dim(int(k))) ctx.invalid("indices shape exceeds data shape");
        off += c * xs[size_t(k)];
      }
      combine(d[off], u[e], red);
    }
  });
  ctx.set_out(0, y);
}

void run_scatter_nd(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& idx = ctx.in(1);
  const Tensor& upd = ctx.in(2);
  if (idx.rank() < 1) ctx.invalid("indices must have rank >= 1");
  if (upd.dtype() != x.dtype()) ctx.invalid(std::string("updates are ") + dtype_name(upd.dtype()) + ", data " + dtype_name(x.dtype()));
  int64_t k = idx.dim(idx.rank() - 1);
  if (k > x.rank()) ctx.invalid("index depth exceeds data rank");
  Reduction red = reduction_of(ctx);
  std::vector<int64_t> xs = strides_of(x.shape()), ids = input_ints(ctx, 1);
  int64_t slice = 1;
  for (int64_t d = k; d < x.rank(); ++d) slice *= x.dim(int(d));
  int64_t n = k ? int64_t(ids.size()) / k : 0;
  if (upd.numel() != n * slice) ctx.invalid("updates shape does not match indices and data");
  Tensor y = x.clone();
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    scalar_t* d = y.data<scalar_t>();
    const scalar_t* u = upd.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j) off += checked_index(ctx, ids[size_t(i * k + j)], x.dim(int(j))) * xs[size_t(j)];
      for (int64_t s = 0; s < slice; ++s) combine(d[off + s], u[i * slice + s], red);
    }
  });
  ctx.set_out(0, y);
}

void run_gather_nd(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& idx = ctx.in(1);
  int64_t b = ctx.node.attr_i("batch_dims", 0);
  if (idx.rank() < 1 || b < 0 || b >= std::min(x.rank(), idx.rank())) ctx.invalid("bad indices rank or batch_dims");
  int64_t k = idx.dim(idx.rank() - 1);
  if (b + k > x.rank()) ctx.invalid("index depth exceeds data rank");
  for (int64_t d = 0; d < b; ++d)
    if (idx.dim(int(d)) != x.dim(int(d))) ctx.invalid("batch dimension " + std::to_string(d) + " of the indices differs from the data's");
  Shape out(idx.shape().begin(), idx.shape().end() - 1);
  out.insert(out.end(), x.shape().begin() + b + k, x.shape().end());
  Tensor& y = ctx.out(0, x.dtype(), out);
  std::vector<int64_t> xs = strides_of(x.shape()), ids = input_ints(ctx, 1);
  int64_t batch = 1;
  for (int64_t d = 0; d < b; ++d) batch *= x.dim(int(d));
  int64_t slice = 1;
  for (int64_t d = b + k; d < x.rank(); ++d) slice *= x.dim(int(d));
  // Index rows per batch from the indices' shape, not their count: with k = 0
  // every row takes the whole batch slice (and no output element may stay unwritten).
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < idx.rank(); ++d) rows *= idx.dim(int(d));
  int64_t per_batch = batch ? rows / batch : 0;
  int64_t x_batch = batch ? x.numel() / batch : 0;
  size_t es = dtype_size(x.dtype());
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < per_batch; ++i) {
      int64_t off = bi * x_batch;
      for (int64_t j = 0; j < k; ++j)
        off += checked_index(ctx, ids[size_t((bi * per_batch + i) * k + j)], x.dim(int(b + j))) * xs[size_t(b + j)];
      std::memcpy(static_cast<uint8_t*>(y.raw()) + size_t((bi * per_batch + i) * slice) * es,
                  static_cast<const uint8_t*>(x.raw()) + size_t(off) * es, size_t(slice) * es);
    }
}

void run_eye_like(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.rank() != 2) ctx.invalid("input must be 2-D");
  int64_t k = ctx.node.attr_i("k", 0);
  DType dt = ctx.node.has_attr("dtype") ? DType(ctx.node.attr_i("dtype", 1)) : x.dtype();
  Tensor& y = ctx.out(0, dt, x.shape());
  std::memset(y.raw(), 0, y.nbytes());
  PARETO_DISPATCH_NUMERIC(ctx, dt, {
    for (int64_t i = 0; i < x.dim(0); ++i)
      if (i + k >= 0 && i + k < x.dim(1)) y.data<scalar_t>()[i * x.dim(1) + i + k] = scalar_t(1);
  });
}

void run_compress(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& cond = ctx.in(1);
  Tensor src = x;
  int64_t axis = 0;
  if (ctx.node.has_attr("axis")) axis = normalize_axis(ctx, ctx.node.attr_i("axis", 0), x.rank());
  else src = x.reshaped({x.numel()});
  int64_t len = src.dim(int(axis)), outer = 1, inner = 1;
  for (int64_t d = 0; d < src.rank(); ++d)
    if (d < axis) outer *= src.dim(int(d));
    else if (d > axis) inner *= src.dim(int(d));
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < std::min(len, cond.numel()); ++i)
    if (cond.as_double(i) != 0) keep.push_back(i);
  Shape out = src.shape();
  out[size_t(axis)] = int64_t(keep.size());
  Tensor& y = ctx.out(0, x.dtype(), out);
  size_t es = dtype_size(x.dtype()), row = size_t(inner) * es;
  for (int64_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < keep.size(); ++j)
      std::memcpy(static_cast<uint8_t*>(y.raw()) + (size_t(o) * keep.size() + j) * row,
                  static_cast<const uint8_t*>(src.raw()) + size_t(o * len + keep[j]) * row, row);
}

}  // namespace

void register_index_ops(OpRegistry& r) {
  r.add("CumSum", run_cumsum, infer_same_as_input);
  r.add("TopK", run_topk);
  r.add("OneHot", run_onehot);
  r.add("NonZero", run_nonzero);
  r.add("ScatterElements", run_scatter_elements, infer_same_as_input);
  r.add("Scatter", run_scatter_elements, infer_same_as_input);
  r.add("ScatterND", run_scatter_nd, infer_same_as_input);
  r.add("GatherND", run_gather_nd);
  r.add("EyeLike", run_eye_like);
  r.add("Compress", run_compress);
}

}  // namespace pareto::runtime
