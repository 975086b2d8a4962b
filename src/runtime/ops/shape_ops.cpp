// Ops that change shapes or types without moving data much: Reshape and
// friends share the input buffer.
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "core/checked.h"
#include "pareto/limits.hpp"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

Shape reshape_target(const ir::Node& node, const Shape& in, std::vector<int64_t> spec, bool allow_zero) {
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == 0 && !allow_zero) {
      if (i >= in.size()) fail_model(node.label() + ": shape entry 0 at " + std::to_string(i) + " has no input dim to copy");
      spec[i] = in[i];
    }
    if (spec[i] == -1) {
      if (infer_at >= 0) fail_model(node.label() + ": more than one -1 in shape");
      infer_at = int64_t(i);
    } else if (spec[i] < 0) {
      fail_model(node.label() + ": invalid shape entry " + std::to_string(spec[i]));
    } else {
      known = spec[i] == 0 ? 0 : (known > INT64_MAX / spec[i] ? -1 : known * spec[i]);
      if (known < 0) fail_model(node.label() + ": shape overflows");
    }
  }
  int64_t total = shape_numel(in);
  if (infer_at >= 0) {
    if (known == 0 || total % known) fail_model(node.label() + ": cannot reshape " + shape_to_string(in) + " to " + shape_to_string(spec));
    spec[size_t(infer_at)] = total / known;
  } else if (known != total) {
    fail_model(node.label() + ": cannot reshape " + shape_to_string(in) + " to " + shape_to_string(spec));
  }
  return spec;
}

void run_reshape(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  std::vector<int64_t> spec = ctx.opset < 5 ? ctx.node.attr_ints("shape") : input_ints(ctx, 1);
  ctx.set_out(0, x.reshaped(reshape_target(ctx.node, x.shape(), spec, ctx.node.attr_i("allowzero", 0))));
}

void infer_reshape(InferContext& ctx) {
  const ir::ValueType* t = ctx.type(0);
  const Tensor* spec = ctx.value(1);
  ctx.out_types[0].dtype = t ? t->dtype : DType::undefined;
  if (!spec) {
    // Value unknown, but its length fixes the rank.
    const ir::ValueType* st = ctx.type(1);
    if (st && st->fully_known() && st->dims.size() == 1 && st->dims[0] <= 64) {  // a rank, not a hostile declared size
      ctx.out_types[0].rank_known = true;
      ctx.out_types[0].dims.assign(size_t(st->dims[0]), -1);
    }
    return;
  }
  std::vector<int64_t> s = spec->to_int_vector();
  ctx.out_types[0].rank_known = true;
  if (t && t->fully_known()) {
    ctx.out_types[0].dims = reshape_target(ctx.node, t->dims, s, ctx.node.attr_i("allowzero", 0));
    return;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0 && t && t->rank_known && i < t->dims.size()) s[i] = t->dims[i];
    if (s[i] < 0) s[i] = -1;
  }
  ctx.out_types[0].dims = s;
}

void run_flatten(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t axis = ctx.node.attr_i("axis", 1);
  if (axis < 0) axis += x.rank();
  if (axis < 0 || axis > x.rank()) ctx.invalid("axis out of range");
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(int(i));
  ctx.set_out(0, x.reshaped({outer, outer ? x.numel() / outer : 0}));
}

void infer_flatten(InferContext& ctx) {
  const ir::ValueType* t = ctx.type(0);
  if (!t) return;
  ctx.out_types[0].dtype = t->dtype;
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = {-1, -1};
  if (!t->fully_known()) return;
  int64_t axis = ctx.node.attr_i("axis", 1), rank = int64_t(t->dims.size());
  if (axis < 0) axis += rank;
  std::optional<uint64_t> outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) {
    std::optional<uint64_t>& part = i < axis ? outer : inner;
    if (part) part = checked_mul(*part, uint64_t(t->dims[size_t(i)]));
  }
  if (!outer || !inner || *outer > uint64_t(INT64_MAX) || *inner > uint64_t(INT64_MAX)) return;  // left unknown; the kernel refuses
  ctx.out_types[0].dims = {int64_t(*outer), int64_t(*inner)};
}

std::vector<int64_t> axes_of(const OpContext& ctx, size_t input) {
  if (ctx.opset >= 13) return ctx.has(input) ? input_ints(ctx, input) : std::vector<int64_t>{};
  return ctx.node.attr_ints("axes");
}

Shape squeeze_shape(const ir::Node& node, const Shape& in, std::vector<int64_t> axes) {
  std::vector<bool> drop(in.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
  }
  for (int64_t a : axes) {
    a = normalize_axis(node, a, int64_t(in.size()));
    if (in[size_t(a)] != 1) fail_model(node.label() + ": cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(in[size_t(a)]));
    drop[size_t(a)] = true;
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) out.push_back(in[i]);
  return out;
}

Shape unsqueeze_shape(const ir::Node& node, const Shape& in, const std::vector<int64_t>& axes) {
  int64_t rank = int64_t(in.size() + axes.size());
  std::vector<bool> added(size_t(rank), false);
  for (int64_t a : axes) {
    a = normalize_axis(node, a, rank);
    if (added[size_t(a)]) fail_model(node.label() + ": repeated axis " + std::to_string(a));
    added[size_t(a)] = true;
  }
  Shape out;
  size_t k = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(added[size_t(i)] ? 1 : in[k++]);
  return out;
}

void run_squeeze(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  ctx.set_out(0, x.reshaped(squeeze_shape(ctx.node, x.shape(), axes_of(ctx, 1))));
}

void run_unsqueeze(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  ctx.set_out(0, x.reshaped(unsqueeze_shape(ctx.node, x.shape(), axes_of(ctx, 1))));
}

template <bool squeeze>
void infer_squeeze(InferContext& ctx) {
  const ir::ValueType* t = ctx.type(0);
  if (!t) return;
  ctx.out_types[0].dtype = t->dtype;
  std::vector<int64_t> axes;
  if (ctx.opset >= 13) {
    if (ctx.in_types.size() > 1 && ctx.type(1)) {
      if (!ctx.value(1)) return;
      axes = ctx.value(1)->to_int_vector();
    }
  } else {
    axes = ctx.node.attr_ints("axes");
  }
  if (!t->rank_known || (squeeze && axes.empty() && !t->fully_known())) return;
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = squeeze ? squeeze_shape(ctx.node, t->dims, axes) : unsqueeze_shape(ctx.node, t->dims, axes);
}

void run_shape(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t r = x.rank();
  int64_t start = ctx.node.attr_i("start", 0), end = ctx.node.attr_i("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(x.dim(int(i)));
  ctx.set_out(0, Tensor::from_vector<int64_t>(dims, {int64_t(dims.size())}));
}

void infer_shape(InferContext& ctx) {
  const ir::ValueType* t = ctx.type(0);
  ctx.out_types[0].dtype = DType::i64;
  if (!t || !t->rank_known) return;
  int64_t r = int64_t(t->dims.size());
  int64_t start = ctx.node.attr_i("start", 0), end = ctx.node.attr_i("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = {std::max<int64_t>(0, end - start)};
  std::vector<int64_t> dims(t->dims.begin() + start, t->dims.begin() + std::max(start, end));
  bool known = true;
  for (int64_t d : dims) known &= d >= 0;
  if (known) ctx.out_values[0] = Tensor::from_vector<int64_t>(dims, {int64_t(dims.size())});
}

void run_size(OpContext& ctx) { ctx.set_out(0, Tensor::scalar<int64_t>(ctx.in(0).numel())); }

void run_identity(OpContext& ctx) { ctx.set_out(0, ctx.in(0)); }

template <class D>
D saturate_cast(double v) {
  if constexpr (std::is_integral_v<D>) {
    if (std::isnan(v)) return 0;
    if (v <= double(std::numeric_limits<D>::lowest())) return std::numeric_limits<D>::lowest();
    if (v >= double(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
    return D(v);
  } else {
    return D(v);
  }
}

void cast_tensor(const OpContext& ctx, const Tensor& x, Tensor& y) {
  DType from = x.dtype(), to = y.dtype();
  int64_t n = x.numel();
  bool int_src = !dtype_is_float(from) && from != DType::boolean;
  auto store = [&](auto tag) {
    using D = decltype(tag);
    D* d = static_cast<D*>(y.raw());
    if constexpr (std::is_integral_v<D>) {
      if (int_src && (from == DType::i64 || from == DType::u64)) {
        for (int64_t i = 0; i < n; ++i) d[i] = D(x.as_int(i));
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) d[i] = saturate_cast<D>(x.as_double(i));
  };
  switch (to) {
    case DType::f32: store(float{}); break;
    case DType::f64: store(double{}); break;
    case DType::i64: store(int64_t{}); break;
    case DType::i32: store(int32_t{}); break;
    case DType::i16: store(int16_t{}); break;
    case DType::i8: store(int8_t{}); break;
    case DType::u8: store(uint8_t{}); break;
    case DType::u16: store(uint16_t{}); break;
    case DType::u32: store(uint32_t{}); break;
    case DType::u64: store(uint64_t{}); break;
    case DType::boolean:
      for (int64_t i = 0; i < n; ++i) static_cast<uint8_t*>(y.raw())[i] = x.as_double(i) != 0;
      break;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(y.raw())[i] = float_to_half(float(x.as_double(i)));
      break;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(y.raw())[i] = float_to_bf16(float(x.as_double(i)));
      break;
    default: ctx.unsupported(std::string("Cast to ") + dtype_name(to));
  }
}

void run_cast(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t to = ctx.node.attr_i("to", 0);
  if (!dtype_is_known(int32_t(to)) || DType(to) == DType::string) ctx.unsupported("Cast to type " + std::to_string(to));
  if (DType(to) == x.dtype()) {
    ctx.set_out(0, x);
    return;
  }
  Tensor& y = ctx.out(0, DType(to), x.shape());
  cast_tensor(ctx, x, y);
}

void run_cast_like(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  DType to = ctx.in(1).dtype();
  if (to == x.dtype()) {
    ctx.set_out(0, x);
    return;
  }
  Tensor& y = ctx.out(0, to, x.shape());
  cast_tensor(ctx, x, y);
}

void infer_cast(InferContext& ctx) {
  infer_same_as_input(ctx);
  int64_t to = ctx.node.attr_i("to", 0);
  ctx.out_types[0].dtype = dtype_is_known(int32_t(to)) ? DType(to) : DType::undefined;
}

void run_expand(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  Shape target = input_ints(ctx, 1);
  Shape out = broadcast_shapes(ctx.node, x.shape(), target);
  Tensor& y = ctx.out(0, x.dtype(), out);
  PARETO_DISPATCH_BYTES(ctx, x.dtype(), {
    const scalar_t* s = static_cast<const scalar_t*>(x.raw());
    scalar_t* d = static_cast<scalar_t*>(y.raw());
    for_each_broadcast<1>(out, {&x.shape()},
                          [&](int64_t o, const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
                            for (int64_t i = 0; i < n; ++i) d[o + i] = s[off[0] + i * st[0]];
                          });
  });
}

void run_constant_of_shape(OpContext& ctx) {
  Shape shape = input_ints(ctx, 0);
  const ir::Attribute* a = ctx.node.attr("value");
  Tensor value = a && a->kind == ir::AttrKind::t ? a->t : Tensor::scalar<float>(0.f);
  if (value.numel() != 1) ctx.invalid("value must hold one element");
  Tensor& y = ctx.out(0, value.dtype(), shape);
  size_t es = dtype_size(value.dtype());
  uint8_t* d = static_cast<uint8_t*>(y.raw());
  for (int64_t i = 0; i < y.numel(); ++i) std::memcpy(d + size_t(i) * es, value.raw(), es);
}

void run_range(OpContext& ctx) {
  const Tensor& start = ctx.in(0);
  const Tensor& limit = ctx.in(1);
  const Tensor& delta = ctx.in(2);
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1) ctx.invalid("start, limit and delta must be scalars");
  double s = start.as_double(0), l = limit.as_double(0), dl = delta.as_double(0);
  if (dl == 0) ctx.invalid("delta is zero");
  double count = std::ceil((l - s) / dl);
  if (!(count <= double(current_limits().tensor_elements))) ctx.invalid("range has too many elements");
  const int64_t n = count > 0 ? int64_t(count) : 0;  // count is finite and bounded here, or -inf/negative
  Tensor& y = ctx.out(0, start.dtype(), {n});
  PARETO_DISPATCH_NUMERIC(ctx, start.dtype(), {
    scalar_t* d = y.data<scalar_t>();
    scalar_t v = start.data<scalar_t>()[0], step = delta.data<scalar_t>()[0];
    for (int64_t i = 0; i < n; ++i) d[i] = scalar_t(v + scalar_t(i) * step);
  });
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add("Reshape", run_reshape, infer_reshape);
  r.add("Flatten", run_flatten, infer_flatten);
  r.add("Squeeze", run_squeeze, infer_squeeze<true>);
  r.add("Unsqueeze", run_unsqueeze, infer_squeeze<false>);
  r.add("Shape", run_shape, infer_shape);
  r.add("Size", run_size);
  r.add("Identity", run_identity, infer_same_as_input);
  r.add("Cast", run_cast, infer_cast);
  r.add("CastLike", run_cast_like);
  r.add("Expand", run_expand);
  r.add("ConstantOfShape", run_constant_of_shape);
  r.add("Range", run_range);
}

}  // namespace pareto::runtime
