#include "runtime/ops/op_util.h"

#include "runtime/executor.h"

namespace pareto::runtime {

bool is_constant_input(const OpContext& ctx, size_t i) {
  if (!ctx.executor || !ctx.scope || ctx.node.inputs.size() <= i || ctx.node.inputs[i] < 0) return false;
  return ctx.scope->graph->values[size_t(ctx.node.inputs[i])].constant.defined();
}

std::shared_ptr<const void> prepared_once(const OpContext& ctx, size_t i, int stamp, const CacheMaker& make) {
  return is_constant_input(ctx, i) ? ctx.executor->node_cache(ctx.node, stamp, make) : make();
}


int64_t normalize_axis(const ir::Node& node, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank || (rank == 0 && axis != 0 && axis != -1))
    fail_model(node.label() + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

int64_t normalize_axis(const OpContext& ctx, int64_t axis, int64_t rank) { return normalize_axis(ctx.node, axis, rank); }

Shape broadcast_shapes(const ir::Node& node, const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else if (da < 0 || db < 0) out[i] = -1;
    else
      fail_model(node.label() + ": shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not broadcast");
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) fail_model("cannot broadcast shape " + shape_to_string(in) + " to " + shape_to_string(out));
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  size_t off = out.size() - in.size();
  for (size_t i = in.size(); i-- > 0;) {
    s[i + off] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return s;
}

std::vector<int64_t> input_ints(const OpContext& ctx, size_t i) {
  const Tensor& t = ctx.in(i);
  if (t.dtype() != DType::i64 && t.dtype() != DType::i32)
    ctx.invalid("input " + std::to_string(i) + " must be int64 or int32, got " + dtype_name(t.dtype()));
  return t.to_int_vector();
}

void infer_same_as_input(InferContext& ctx) {
  if (ctx.type(0) && !ctx.out_types.empty()) ctx.out_types[0] = *ctx.type(0);
  if (!ctx.out_types.empty()) ctx.out_types[0].dim_params.clear();
}

void infer_broadcast(InferContext& ctx) {
  ir::ValueType out;
  bool all = true;
  Shape shape;
  for (size_t i = 0; i < ctx.in_types.size(); ++i) {
    const ir::ValueType* t = ctx.type(i);
    if (!t) continue;
    if (out.dtype == DType::undefined) out.dtype = t->dtype;
    if (!t->rank_known) {
      all = false;
      continue;
    }
    shape = i == 0 ? t->dims : broadcast_shapes(ctx.node, shape, t->dims);
  }
  out.rank_known = all;
  if (all) out.dims = shape;
  if (!ctx.out_types.empty()) ctx.out_types[0] = out;
}

}  // namespace pareto::runtime
