// Data movement ops: Transpose, Concat, Slice, Split, Gather, Pad, Tile ...
#include <algorithm>
#include <cstring>
#include <optional>
#include <numeric>

#include "core/checked.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

// Copies x into y where y[out_index] = x[sum(idx[d] * in_stride[d])], shapes given by y.
template <class T>
void strided_copy(const T* src, T* dst, const Shape& out, const std::vector<int64_t>& in_strides, int64_t base = 0) {
  int64_t total = shape_numel(out);
  if (total == 0) return;
  size_t r = out.size();
  if (r == 0) {
    dst[0] = src[base];
    return;
  }
  std::vector<int64_t> counter(r, 0);
  int64_t inner = out[r - 1], step = in_strides[r - 1], off = base;
  for (int64_t o = 0; o < total; o += inner) {
    for (int64_t i = 0; i < inner; ++i) dst[o + i] = src[off + i * step];
    for (size_t d = r - 1; d-- > 0;) {
      ++counter[d];
      off += in_strides[d];
      if (counter[d] < out[d]) break;
      off -= in_strides[d] * out[d];
      counter[d] = 0;
    }
  }
}

std::vector<int64_t> row_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

void run_transpose(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  size_t r = size_t(x.rank());
  std::vector<int64_t> perm(r);
  for (size_t i = 0; i < r; ++i) perm[i] = int64_t(r - 1 - i);
  perm = ctx.node.attr_ints("perm", perm);
  if (perm.size() != r) ctx.invalid("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  for (int64_t& p : perm) {
    p = normalize_axis(ctx, p, int64_t(r));
    if (seen[size_t(p)]) ctx.invalid("perm repeats an axis");
    seen[size_t(p)] = true;
  }
  Shape out(r);
  std::vector<int64_t> st = row_strides(x.shape()), in_st(r);
  for (size_t i = 0; i < r; ++i) {
    out[i] = x.dim(int(perm[i]));
    in_st[i] = st[size_t(perm[i])];
  }
  Tensor& y = ctx.out(0, x.dtype(), out);
  PARETO_DISPATCH_BYTES(ctx, x.dtype(), {
    strided_copy(static_cast<const scalar_t*>(x.raw()), static_cast<scalar_t*>(y.raw()), out, in_st);
  });
}

void infer_transpose(InferContext& ctx) {
  const ir::ValueType* t = ctx.type(0);
  if (!t) return;
  ctx.out_types[0].dtype = t->dtype;
  if (!t->rank_known) return;
  size_t r = t->dims.size();
  std::vector<int64_t> perm(r);
  for (size_t i = 0; i < r; ++i) perm[i] = int64_t(r - 1 - i);
  perm = ctx.node.attr_ints("perm", perm);
  if (perm.size() != r) return;
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims.resize(r);
  for (size_t i = 0; i < r; ++i) ctx.out_types[0].dims[i] = t->dims[size_t(normalize_axis(ctx.node, perm[i], int64_t(r)))];
}

void run_concat(OpContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.invalid("needs at least one input");
  const Tensor& first = ctx.in(0);
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", 0), first.rank());
  Shape out = first.shape();
  out[size_t(axis)] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.in(i);
    if (t.dtype() != first.dtype() || t.rank() != first.rank()) ctx.invalid("inputs differ in type or rank");
    for (int d = 0; d < t.rank(); ++d)
      if (d != axis && t.dim(d) != first.dim(d))
        ctx.invalid("input shapes " + shape_to_string(first.shape()) + " and " + shape_to_string(t.shape()) + " differ off the axis");
    out[size_t(axis)] += t.dim(int(axis));
  }
  Tensor& y = ctx.out(0, first.dtype(), out);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[size_t(d)];
  size_t es = dtype_size(first.dtype());
  int64_t out_row = y.numel() / std::max<int64_t>(outer, 1);
  // One copy per (input, outer index), cut into 64 KiB pieces that the
  // threads share: a channel concat of large maps is a few big copies.
  struct Piece {
    uint8_t* dst;
    const uint8_t* src;
    size_t bytes;
  };
  std::vector<Piece> pieces;
  constexpr size_t kPiece = size_t(64) << 10;
  int64_t offset = 0;
  if (outer * int64_t(ctx.num_inputs()) > 64) {  // many small rows: copied in place, no list
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& t = ctx.in(i);
      const int64_t row = outer ? t.numel() / outer : 0;
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(static_cast<uint8_t*>(y.raw()) + size_t(o * out_row + offset) * es,
                    static_cast<const uint8_t*>(t.raw()) + size_t(o * row) * es, size_t(row) * es);
      offset += row;
    }
    return;
  }
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.in(i);
    int64_t row = outer ? t.numel() / outer : 0;
    for (int64_t o = 0; o < outer; ++o) {
      uint8_t* dst = static_cast<uint8_t*>(y.raw()) + size_t(o * out_row + offset) * es;
      const uint8_t* src = static_cast<const uint8_t*>(t.raw()) + size_t(o * row) * es;
      for (size_t done = 0, total = size_t(row) * es; done < total; done += kPiece)
        pieces.push_back({dst + done, src + done, std::min(kPiece, total - done)});
    }
    offset += row;
  }
  auto copy = [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) std::memcpy(pieces[size_t(k)].dst, pieces[size_t(k)].src, pieces[size_t(k)].bytes);
  };
  if (pieces.size() < 8) copy(0, int64_t(pieces.size()));
  else parallel_for(int64_t(pieces.size()), copy);
}

void infer_concat(InferContext& ctx) {
  const ir::ValueType* t0 = ctx.type(0);
  if (!t0) return;
  ctx.out_types[0].dtype = t0->dtype;
  if (!t0->rank_known) return;
  int64_t axis = normalize_axis(ctx.node, ctx.node.attr_i("axis", 0), int64_t(t0->dims.size()));
  Shape out = t0->dims;
  out[size_t(axis)] = 0;
  for (size_t i = 0; i < ctx.in_types.size(); ++i) {
    const ir::ValueType* t = ctx.type(i);
    if (!t || !t->rank_known || t->dims.size() != out.size()) return;
    for (size_t d = 0; d < out.size(); ++d) {
      if (int64_t(d) == axis) out[d] = (out[d] < 0 || t->dims[d] < 0) ? -1 : out[d] + t->dims[d];
      else if (out[d] < 0) out[d] = t->dims[d];
    }
  }
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = out;
}

struct SlicePlan {
  Shape out;
  std::vector<int64_t> begin, step;
};

SlicePlan plan_slice(const ir::Node& node, const Shape& in, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                     std::vector<int64_t> axes, std::vector<int64_t> steps) {
  auto invalid = [&](const std::string& m) { fail_model(node.label() + ": " + m); };
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    invalid("starts, ends, axes and steps differ in length");
  size_t r = in.size();
  SlicePlan plan{in, std::vector<int64_t>(r, 0), std::vector<int64_t>(r, 1)};
  std::vector<bool> seen(r, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t a = size_t(normalize_axis(node, axes[i], int64_t(r)));
    if (seen[a]) invalid("axis repeated");
    seen[a] = true;
    int64_t dim = in[a], s = starts[i], e = ends[i], st = steps[i];
    if (st == 0) invalid("step is zero");
    // Steps beyond any dimension select one element; clamped so (e - s + st - 1) and -st cannot overflow.
    st = std::clamp<int64_t>(st, -(int64_t(1) << 62), int64_t(1) << 62);
    if (s < 0) s = s < -dim ? -dim - 1 : s;  // avoid overflow before adding dim
    if (e < 0) e = e < -dim ? -dim - 1 : e;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      plan.out[a] = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      plan.out[a] = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    plan.begin[a] = s;
    plan.step[a] = st;
  }
  return plan;
}

// starts, ends, axes, steps: attributes before opset 10, inputs 1-4 after.
// `value(i)` gives input i when known; false if a needed input is unknown.
template <class ValueOf>
bool slice_args(const ir::Node& node, int64_t opset, ValueOf value, std::array<std::vector<int64_t>, 4>& args) {
  if (opset < 10) {
    args = {node.attr_ints("starts"), node.attr_ints("ends"), node.attr_ints("axes"), {}};
    return true;
  }
  for (size_t i = 1; i <= 4; ++i) {
    bool present = i < node.inputs.size() && node.inputs[i] >= 0;
    if (!present) continue;
    const Tensor* t = value(i);
    if (!t) return false;
    args[i - 1] = t->to_int_vector();
  }
  return true;
}

void run_slice(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  std::array<std::vector<int64_t>, 4> a;
  slice_args(ctx.node, ctx.opset, [&](size_t i) { return &ctx.in(i); }, a);
  SlicePlan plan = plan_slice(ctx.node, x.shape(), a[0], a[1], a[2], a[3]);
  size_t r = size_t(x.rank());
  std::vector<int64_t> st = row_strides(x.shape()), in_st(r);
  int64_t base = 0;
  for (size_t d = 0; d < r; ++d) {
    in_st[d] = st[d] * plan.step[d];
    if (plan.out[d] > 0) base += plan.begin[d] * st[d];
  }
  Tensor& y = ctx.out(0, x.dtype(), plan.out);
  PARETO_DISPATCH_BYTES(ctx, x.dtype(), {
    strided_copy(static_cast<const scalar_t*>(x.raw()), static_cast<scalar_t*>(y.raw()), plan.out, in_st, base);
  });
}

void infer_slice(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  if (!x) return;
  ctx.out_types[0].dtype = x->dtype;
  if (!x->rank_known) return;
  std::array<std::vector<int64_t>, 4> a;
  if (!slice_args(ctx.node, ctx.opset, [&](size_t i) { return ctx.value(i); }, a)) return;
  // Unknown dims stay unknown unless the slice fixes their size.
  Shape probe = x->dims;
  for (int64_t& d : probe)
    if (d < 0) d = INT64_MAX / 4;
  SlicePlan plan = plan_slice(ctx.node, probe, a[0], a[1], a[2], a[3]);
  for (size_t d = 0; d < probe.size(); ++d)
    if (x->dims[d] < 0 && (plan.out[d] > INT64_MAX / 8 || plan.out[d] == probe[d])) plan.out[d] = -1;
    else if (x->dims[d] < 0) plan.out[d] = plan.out[d] < (int64_t(1) << 40) ? plan.out[d] : -1;
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = plan.out;
}

void run_split(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", 0), x.rank());
  int64_t dim = x.dim(int(axis));
  size_t n_out = ctx.outputs.size();
  std::vector<int64_t> sizes = ctx.opset < 13 ? ctx.node.attr_ints("split") : (ctx.has(1) ? input_ints(ctx, 1) : std::vector<int64_t>{});
  if (sizes.empty()) {
    int64_t parts = ctx.node.attr_i("num_outputs", int64_t(n_out));
    if (parts <= 0) ctx.invalid("no outputs");
    if (parts != int64_t(n_out)) ctx.invalid("num_outputs is " + std::to_string(parts) + " for " + std::to_string(n_out) + " outputs");
    int64_t chunk = ctx.opset >= 18 ? (dim + parts - 1) / parts : dim / parts;
    if (ctx.opset < 18 && dim % parts) ctx.invalid("axis size " + std::to_string(dim) + " does not split evenly in " + std::to_string(parts));
    for (int64_t i = 0; i < parts; ++i) sizes.push_back(std::min(chunk, dim - chunk * i));
  }
  if (sizes.size() != n_out) ctx.invalid("split has " + std::to_string(sizes.size()) + " parts for " + std::to_string(n_out) + " outputs");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0 || s > dim) ctx.invalid("split size " + std::to_string(s) + " is outside the axis of " + std::to_string(dim));
    total += s;  // at most n_out * dim: no overflow
  }
  if (total != dim) ctx.invalid("split sizes sum to " + std::to_string(total) + ", axis has " + std::to_string(dim));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d < axis) outer *= x.dim(int(d));
    else if (d > axis) inner *= x.dim(int(d));
  size_t es = dtype_size(x.dtype());
  int64_t offset = 0;
  for (size_t i = 0; i < n_out; ++i) {
    Shape s = x.shape();
    s[size_t(axis)] = sizes[i];
    Tensor& y = ctx.out(i, x.dtype(), s);
    int64_t row = sizes[i] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(static_cast<uint8_t*>(y.raw()) + size_t(o * row) * es,
                  static_cast<const uint8_t*>(x.raw()) + size_t(o * dim * inner + offset) * es, size_t(row) * es);
    offset += row;
  }
}

void run_gather(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& idx = ctx.in(1);
  if (x.rank() == 0) ctx.invalid("data must have rank >= 1");
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", 0), x.rank());
  std::vector<int64_t> ids = input_ints(ctx, 1);
  int64_t dim = x.dim(int(axis));
  for (int64_t& i : ids) {
    if (i < -dim || i >= dim) ctx.invalid("index " + std::to_string(i) + " is out of range for axis size " + std::to_string(dim));
    if (i < 0) i += dim;
  }
  Shape out(x.shape().begin(), x.shape().begin() + axis);
  out.insert(out.end(), idx.shape().begin(), idx.shape().end());
  out.insert(out.end(), x.shape().begin() + axis + 1, x.shape().end());
  Tensor& y = ctx.out(0, x.dtype(), out);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d < axis) outer *= x.dim(int(d));
    else if (d > axis) inner *= x.dim(int(d));
  size_t es = dtype_size(x.dtype()), row = size_t(inner) * es;
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < ids.size(); ++k)
      std::memcpy(dst + (size_t(o) * ids.size() + k) * row, src + size_t(o * dim + ids[k]) * row, row);
}

void infer_gather(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  const ir::ValueType* idx = ctx.type(1);
  if (!x || !idx) return;
  ctx.out_types[0].dtype = x->dtype;
  if (!x->rank_known || !idx->rank_known || x->dims.empty()) return;
  int64_t axis = normalize_axis(ctx.node, ctx.node.attr_i("axis", 0), int64_t(x->dims.size()));
  Shape out(x->dims.begin(), x->dims.begin() + axis);
  out.insert(out.end(), idx->dims.begin(), idx->dims.end());
  out.insert(out.end(), x->dims.begin() + axis + 1, x->dims.end());
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = out;
}

void run_gather_elements(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& idx = ctx.in(1);
  if (idx.rank() != x.rank()) ctx.invalid("indices rank differs from data rank");
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", 0), x.rank());
  std::vector<int64_t> ids = input_ints(ctx, 1);
  Tensor& y = ctx.out(0, x.dtype(), idx.shape());
  std::vector<int64_t> xs = row_strides(x.shape());
  int64_t dim = x.dim(int(axis));
  size_t es = dtype_size(x.dtype());
  for (int64_t e = 0; e < idx.numel(); ++e) {
    int64_t rem = e, off = 0;
    for (int64_t d = x.rank(); d-- > 0;) {
      int64_t c = rem % idx.dim(int(d));
      rem /= idx.dim(int(d));
      if (d == axis) {
        c = ids[size_t(e)];
        if (c < -dim || c >= dim) ctx.invalid("index out of range");
        if (c < 0) c += dim;
      } else if (c >= x.dim(int(d))) {
        ctx.invalid("indices shape exceeds data shape");
      }
      off += c * xs[size_t(d)];
    }
    std::memcpy(static_cast<uint8_t*>(y.raw()) + size_t(e) * es, static_cast<const uint8_t*>(x.raw()) + size_t(off) * es, es);
  }
}

void run_tile(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  std::vector<int64_t> reps = input_ints(ctx, 1);
  if (int64_t(reps.size()) != x.rank()) ctx.invalid("repeats length differs from rank");
  Shape out = x.shape();
  for (size_t d = 0; d < out.size(); ++d) {
    if (reps[d] < 0) ctx.invalid("negative repeat");
    const std::optional<uint64_t> n = checked_mul(uint64_t(out[d]), uint64_t(reps[d]));
    if (!n || *n > uint64_t(INT64_MAX)) ctx.invalid("repeats overflow the dimension");
    out[d] = int64_t(*n);
  }
  Tensor& y = ctx.out(0, x.dtype(), out);
  std::vector<int64_t> xs = row_strides(x.shape());
  size_t es = dtype_size(x.dtype());
  for (int64_t e = 0; e < y.numel(); ++e) {
    int64_t rem = e, off = 0;
    for (size_t d = out.size(); d-- > 0;) {
      off += (rem % out[d]) % x.dim(int(d)) * xs[d];
      rem /= out[d];
    }
    std::memcpy(static_cast<uint8_t*>(y.raw()) + size_t(e) * es, static_cast<const uint8_t*>(x.raw()) + size_t(off) * es, es);
  }
}

// Output dims when the pads (and axes) are known statically.
void infer_pad(InferContext& ctx) {
  const ir::ValueType* t = ctx.type(0);
  if (!t) return;
  ctx.out_types[0].dtype = t->dtype;
  if (!t->rank_known) return;
  const size_t r = t->dims.size();
  std::vector<int64_t> pads;
  if (ctx.opset < 11) {
    pads = ctx.node.attr_ints("pads");
  } else {
    const Tensor* p = ctx.value(1);
    if (!p) return;
    pads = p->to_int_vector();
    if (ctx.node.inputs.size() > 3 && ctx.node.inputs[3] >= 0) {
      const Tensor* a = ctx.value(3);
      if (!a) return;
      const std::vector<int64_t> axes = a->to_int_vector();
      if (pads.size() != 2 * axes.size()) return;
      std::vector<int64_t> full(2 * r, 0);
      for (size_t i = 0; i < axes.size(); ++i) {
        const int64_t ax = axes[i] < 0 ? axes[i] + int64_t(r) : axes[i];
        if (ax < 0 || ax >= int64_t(r)) return;
        full[size_t(ax)] = pads[i];
        full[size_t(ax) + r] = pads[i + axes.size()];
      }
      pads = full;
    }
  }
  if (pads.size() != 2 * r) return;
  for (int64_t p : pads)
    if (p < -(int64_t(1) << 40) || p > (int64_t(1) << 40)) return;  // the kernel refuses it; no overflow here
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims.resize(r);
  for (size_t d = 0; d < r; ++d) ctx.out_types[0].dims[d] = t->dims[d] < 0 ? -1 : t->dims[d] + pads[d] + pads[d + r];
}

void run_pad(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  std::string mode = ctx.node.attr_s("mode", "constant");
  std::vector<int64_t> pads;
  double value = 0;
  size_t r = size_t(x.rank());
  if (ctx.opset < 11) {
    pads = ctx.node.attr_ints("pads");
    value = ctx.node.attr_f("value", 0.f);
  } else {
    pads = input_ints(ctx, 1);
    if (ctx.has(2) && ctx.in(2).numel() > 0) value = ctx.in(2).as_double(0);
    if (ctx.has(3)) {
      std::vector<int64_t> axes = input_ints(ctx, 3);
      if (pads.size() != 2 * axes.size()) ctx.invalid("pads length does not match axes");
      std::vector<int64_t> full(2 * r, 0);
      for (size_t i = 0; i < axes.size(); ++i) {
        size_t a = size_t(normalize_axis(ctx, axes[i], int64_t(r)));
        full[a] = pads[i];
        full[a + r] = pads[i + axes.size()];
      }
      pads = full;
    }
  }
  if (pads.size() != 2 * r) ctx.invalid("pads has " + std::to_string(pads.size()) + " entries for rank " + std::to_string(r));
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") ctx.invalid("unknown mode '" + mode + "'");
  Shape out(r);
  for (size_t d = 0; d < r; ++d) {
    constexpr int64_t kMaxPad = int64_t(1) << 40;  // |pads| bounded: the sums below cannot overflow
    if (pads[d] < -kMaxPad || pads[d] > kMaxPad || pads[d + r] < -kMaxPad || pads[d + r] > kMaxPad) ctx.invalid("pads out of range");
    out[d] = x.dim(int(d)) + pads[d] + pads[d + r];
    if (out[d] < 0) ctx.invalid("pads make a negative dimension");
    if (mode != "constant" && out[d] > 0 && x.dim(int(d)) == 0) ctx.invalid("cannot " + mode + "-pad an empty axis");
    if (mode == "reflect" && (pads[d] >= x.dim(int(d)) || pads[d + r] >= x.dim(int(d))) && (pads[d] > 0 || pads[d + r] > 0))
      ctx.invalid("reflect padding must be smaller than the axis size");
  }
  Tensor& y = ctx.out(0, x.dtype(), out);
  std::vector<int64_t> xs = row_strides(x.shape());
  PARETO_DISPATCH_NUMERIC(ctx, x.dtype(), {
    const scalar_t* s = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    scalar_t fill = scalar_t(value);
    for (int64_t e = 0; e < y.numel(); ++e) {
      int64_t rem = e, off = 0;
      bool outside = false;
      for (size_t d = r; d-- > 0;) {
        int64_t i = rem % out[d] - pads[d], n = x.dim(int(d));
        rem /= out[d];
        if (i < 0 || i >= n) {
          if (mode == "constant") { outside = true; break; }
          if (mode == "edge") i = i < 0 ? 0 : n - 1;
          else if (mode == "wrap") i = ((i % n) + n) % n;
          else {  // reflect without repeating the edge
            int64_t period = 2 * (n - 1);
            i = period == 0 ? 0 : ((i % period) + period) % period;
            if (i >= n) i = period - i;
          }
        }
        off += i * xs[d];
      }
      dst[e] = outside ? fill : s[off];
    }
  });
}

void run_depth_space(OpContext& ctx, bool to_space) {
  const Tensor& x = ctx.in(0);
  if (x.rank() != 4) ctx.invalid("input must be 4-D");
  int64_t b = ctx.node.attr_i("blocksize", 0);
  if (b <= 0 || b > (int64_t(1) << 16)) ctx.invalid("blocksize must be from 1 to 65536");
  int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Shape tmp, perm, out;
  if (to_space) {
    if (c % (b * b)) ctx.invalid("channels not divisible by blocksize^2");
    bool crd = ctx.node.attr_s("mode", "DCR") == "CRD";
    tmp = crd ? Shape{n, c / (b * b), b, b, h, w} : Shape{n, b, b, c / (b * b), h, w};
    perm = crd ? Shape{0, 1, 4, 2, 5, 3} : Shape{0, 3, 4, 1, 5, 2};
    out = {n, c / (b * b), h * b, w * b};
  } else {
    if (h % b || w % b) ctx.invalid("spatial dims not divisible by blocksize");
    tmp = {n, c, h / b, b, w / b, b};
    perm = {0, 3, 5, 1, 2, 4};
    out = {n, c * b * b, h / b, w / b};
  }
  std::vector<int64_t> st = row_strides(tmp), in_st(6);
  Shape pshape(6);
  for (size_t i = 0; i < 6; ++i) {
    pshape[i] = tmp[size_t(perm[i])];
    in_st[i] = st[size_t(perm[i])];
  }
  Tensor& y = ctx.out(0, x.dtype(), out);
  PARETO_DISPATCH_BYTES(ctx, x.dtype(), {
    strided_copy(static_cast<const scalar_t*>(x.raw()), static_cast<scalar_t*>(y.raw()), pshape, in_st);
  });
}

void run_depth_to_space(OpContext& ctx) { run_depth_space(ctx, true); }
void run_space_to_depth(OpContext& ctx) { run_depth_space(ctx, false); }

void run_trilu(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.rank() < 2) ctx.invalid("input must have rank >= 2");
  int64_t k = ctx.has(1) ? ctx.in(1).as_int(0) : 0;
  bool upper = ctx.node.attr_i("upper", 1);
  Tensor y = x.clone();
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1), mats = (rows * cols) != 0 ? x.numel() / (rows * cols) : 0;
  size_t es = dtype_size(x.dtype());
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        bool keep = upper ? j - i >= k : j - i <= k;
        if (!keep) std::memset(static_cast<uint8_t*>(y.raw()) + size_t((m * rows + i) * cols + j) * es, 0, es);
      }
  ctx.set_out(0, y);
}

}  // namespace

void register_tensor_ops(OpRegistry& r) {
  r.add("Transpose", run_transpose, infer_transpose);
  r.add("Concat", run_concat, infer_concat);
  r.add("Slice", run_slice, infer_slice);
  r.add("Split", run_split);
  r.add("Gather", run_gather, infer_gather);
  r.add("GatherElements", run_gather_elements);
  r.add("Tile", run_tile);
  r.add("Pad", run_pad, infer_pad);
  r.add("DepthToSpace", run_depth_to_space);
  r.add("SpaceToDepth", run_space_to_depth);
  r.add("Trilu", run_trilu);
}

}  // namespace pareto::runtime
