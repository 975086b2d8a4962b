#include "passes/graph_edit.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "runtime/op_registry.h"

namespace pareto::passes {

GraphEdit::GraphEdit(ir::Graph& g) : g_(g) { index(); }

void GraphEdit::index() {
  uses_.assign(g_.values.size(), 0);
  consumers_.assign(g_.values.size(), {});
  dead_.assign(g_.nodes.size(), false);
  for (size_t n = 0; n < g_.nodes.size(); ++n) {
    for (int v : g_.nodes[n].inputs)
      if (v >= 0) {
        ++uses_[size_t(v)];
        consumers_[size_t(v)].push_back(int(n));
      }
    for (int v : g_.implicit_inputs(g_.nodes[n])) ++uses_[size_t(v)];
  }
  for (int v : g_.outputs) ++uses_[size_t(v)];
}

bool GraphEdit::is_output(int v) const { return std::find(g_.outputs.begin(), g_.outputs.end(), v) != g_.outputs.end(); }

int GraphEdit::only_consumer(int v) const {
  if (v < 0 || uses_[size_t(v)] != 1 || consumers_[size_t(v)].size() != 1) return -1;
  return consumers_[size_t(v)][0];
}

const Tensor* GraphEdit::constant(int v) const {
  if (v < 0) return nullptr;
  const Tensor& t = g_.values[size_t(v)].constant;
  return t.defined() ? &t : nullptr;
}

void GraphEdit::replace_uses(int from, int to) {
  // Graph outputs are never redirected (their names are the model's
  // interface): passes check is_output() first.
  if (is_output(from)) throw Error(StatusCode::internal, "replace_uses on graph output '" + g_.values[size_t(from)].name + "'");
  for (int n : consumers_[size_t(from)])
    for (int& v : g_.nodes[size_t(n)].inputs)
      if (v == from) v = to;
  consumers_[size_t(to)].insert(consumers_[size_t(to)].end(), consumers_[size_t(from)].begin(), consumers_[size_t(from)].end());
  uses_[size_t(to)] += uses_[size_t(from)];
  consumers_[size_t(from)].clear();
  uses_[size_t(from)] = 0;
}

int GraphEdit::add_constant(const std::string& hint, Tensor t) {
  const int v = g_.add_constant(hint, std::move(t));
  uses_.push_back(0);
  consumers_.emplace_back();
  return v;
}

void GraphEdit::commit() {
  std::vector<ir::Node> kept;
  kept.reserve(g_.nodes.size());
  for (size_t n = 0; n < g_.nodes.size(); ++n)
    if (n >= dead_.size() || !dead_[n]) kept.push_back(std::move(g_.nodes[n]));  // nodes appended since indexing are alive
  g_.nodes = std::move(kept);
  for (auto& v : g_.values)
    if (v.producer >= 0) v.producer = -1;
  for (size_t n = 0; n < g_.nodes.size(); ++n)
    for (int v : g_.nodes[n].outputs)
      if (v >= 0) g_.values[size_t(v)].producer = int(n);
  index();
}

bool per_channel(const Tensor& t, int64_t channels, int rank, std::vector<float>* out) {
  if (t.dtype() != DType::f32) return false;
  const Shape& s = t.shape();
  if (t.numel() == 1) {
    out->assign(size_t(channels), t.data<float>()[0]);
    return true;
  }
  if (t.numel() != channels || int(s.size()) > rank) return false;
  // The one non-1 dim must sit at the channel axis (1) once right-aligned to `rank`.
  const int offset = rank - int(s.size());
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != 1 && int(i) + offset != 1) return false;
  out->assign(t.data<float>(), t.data<float>() + channels);
  return true;
}

bool run_at_compile_time(const ir::Node& n, int64_t opset, const std::vector<const Tensor*>& inputs, std::vector<Tensor>* outputs) {
  const runtime::OpDef* def = runtime::op_registry().find(n.domain, n.op_type);
  if (!def) return false;
  runtime::OpContext oc{n, opset, inputs, {}, nullptr, nullptr, nullptr, {}};
  oc.outputs.resize(n.outputs.size());
  try {
    def->run(oc);
  } catch (const Error&) {
    return false;
  }
  *outputs = std::move(oc.outputs);
  return true;
}

bool uint8_quantize_params(const GraphEdit& e, const ir::Node& q, float* scale, int64_t* zero) {
  if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.inputs.size() < 2 || q.outputs.size() != 1) return false;
  if (q.attr_i("output_dtype", 0) != 0 && q.attr_i("output_dtype", 0) != 2) return false;  // 2: uint8
  const Tensor* s = e.constant(q.inputs[1]);
  const bool has_zero = q.inputs.size() > 2 && q.inputs[2] >= 0;
  const Tensor* z = has_zero ? e.constant(q.inputs[2]) : nullptr;
  if (!s || s->dtype() != DType::f32 || s->numel() != 1) return false;
  if (has_zero && (!z || z->dtype() != DType::u8 || z->numel() != 1)) return false;
  *scale = s->data<float>()[0];
  *zero = z ? int64_t(z->data<uint8_t>()[0]) : 0;
  return true;
}

namespace {
// A reader that rounds v to uint8 with a constant scalar scale and zero
// point: a quantized conv reading v as its input only (fold_qdq's x_scale),
// or a QuantizeLinear to uint8 whose output is not a graph output.
bool rounding_reader(const ir::Graph& g, const GraphEdit& e, int reader, int v, float* scale, int64_t* zero) {
  const ir::Node& n = g.nodes[size_t(reader)];
  if (e.dead(reader) || n.inputs.empty() || n.inputs[0] != v || std::count(n.inputs.begin(), n.inputs.end(), v) != 1) return false;
  const bool conv = (n.op_type == "Conv" && n.domain.empty()) || (n.op_type == "FusedConv" && n.domain == "pareto");
  if (conv && n.has_attr("x_scale")) {
    *scale = n.attr_f("x_scale", 0.f);
    *zero = n.attr_i("x_zero_point", 0);
    return true;
  }
  // Its readers will read the producer's bytes instead: only explicit ones
  // (replace_uses cannot redirect a subgraph's read by name).
  if (n.outputs.size() != 1 || n.outputs[0] < 0 || e.is_output(n.outputs[0])) return false;
  if (e.uses(n.outputs[0]) != int(e.consumers(n.outputs[0]).size())) return false;
  return uint8_quantize_params(e, n, scale, zero);
}
}  // namespace

bool rounding_readers_only(const ir::Graph& g, const GraphEdit& e, int v, float* scale, int64_t* zero) {
  const std::vector<int>& readers = e.consumers(v);
  if (readers.empty() || e.uses(v) != int(readers.size()) || e.is_output(v)) return false;
  for (size_t k = 0; k < readers.size(); ++k) {
    float s = 0;
    int64_t z = 0;
    if (!rounding_reader(g, e, readers[k], v, &s, &z) || (k > 0 && (s != *scale || z != *zero))) return false;
    *scale = s;
    *zero = z;
  }
  return *scale > 0.f && std::isfinite(*scale) && *zero >= 0 && *zero <= 255;
}

int hand_bytes_to_quantize_readers(ir::Graph& g, GraphEdit& e, int v) {
  int removed = 0;
  for (int r : std::vector<int>(e.consumers(v)))
    if (!e.dead(r) && g.nodes[size_t(r)].op_type == "QuantizeLinear") {
      e.replace_uses(g.nodes[size_t(r)].outputs[0], v);
      e.kill(r);
      ++removed;
    }
  return removed;
}

bool batchnorm_affine(const GraphEdit& e, const ir::Node& bn, int64_t c, std::vector<float>* scale, std::vector<float>* shift) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 5 || bn.attr_i("training_mode", 0)) return false;
  if (bn.outputs.size() > 1 && bn.outputs[1] >= 0) return false;
  std::vector<float> p[4];
  for (int i = 0; i < 4; ++i) {
    const Tensor* t = e.constant(bn.inputs[size_t(i + 1)]);
    // BatchNorm parameters are 1-D [C]: rank 2 puts C on the channel axis.
    if (!t || !per_channel(*t, c, 2, &p[i])) return false;
  }
  const float eps = bn.attr_f("epsilon", 1e-5f);
  scale->assign(size_t(c), 1.f);
  shift->assign(size_t(c), 0.f);
  for (int64_t o = 0; o < c; ++o) {
    (*scale)[size_t(o)] = p[0][size_t(o)] / std::sqrt(p[3][size_t(o)] + eps);
    (*shift)[size_t(o)] = p[1][size_t(o)] - p[2][size_t(o)] * (*scale)[size_t(o)];
  }
  return true;
}

bool dims_may_match(const ir::ValueType& a, const ir::ValueType& b) {
  if (!a.rank_known || !b.rank_known || a.dims.size() != b.dims.size()) return false;
  for (size_t i = 0; i < a.dims.size(); ++i)
    if (a.dims[i] >= 0 && b.dims[i] >= 0 && a.dims[i] != b.dims[i]) return false;
  return true;
}

}  // namespace pareto::passes
