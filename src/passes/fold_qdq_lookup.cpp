// QDQ files put a DequantizeLinear in front of every float op chain: a
// conv's uint8 output goes through DequantizeLinear, then a BatchNorm, a
// HardSwish spelled as Add/Clip/Mul/Div, learnable affines (Mul/Add by
// constants), and often a QuantizeLinear for the next conv. Each op reads
// and writes the whole map in float; in PP-OCR det's full-QDQ file these
// chains took about half the run. But a chain whose only non-constant input
// is the dequantized tensor, and whose constants are scalars or per
// channel, is a function of the byte and the channel alone: 256 values per
// channel. This pass computes that function at compile time, running the
// chain's own ops on every byte value, and replaces the chain by
// pareto::QLookup (a table lookup per element). The table gives the same
// floats the ops give at run time, and where the chain ends in a
// QuantizeLinear, or is read only by convs that round their input to uint8,
// the rounded bytes: the graph's results are unchanged bit for bit.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "kernels/int8_conv.h"
#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/op_registry.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {

// Ops that act on each element alone (their constant operands broadcast
// per channel at most): a chain of them maps each element by its value and
// channel.
bool elementwise_op(const ir::Node& n) {
  static const std::set<std::string> ops = {"Add",  "Sub",  "Mul",  "Div", "Clip", "Relu",    "LeakyRelu", "PRelu", "HardSigmoid",
                                            "HardSwish", "Sigmoid", "Tanh", "Neg", "Abs", "Max", "Min", "Exp", "Erf",
                                            "Softplus", "Elu", "Selu", "Sqrt", "Pow", "BatchNormalization"};
  return n.domain.empty() && ops.count(n.op_type) && n.outputs.size() == 1 && n.outputs[0] >= 0;
}

struct Region {
  int dq = -1, bytes = -1;  // the DequantizeLinear and its uint8/int8 input
  int64_t rank = 0, channels = 1;
  std::vector<int> nodes;   // in topological order
  std::set<int> values;     // the dequantized value and every node output
  std::vector<int> sinks;   // values read outside the region
};

struct LookupFolder {
  ir::Graph& g;
  GraphEdit& e;
  const runtime::StaticInfo& info;
  int64_t opset;
  PassStats& st;

  // A constant operand that broadcasts over [N, C, ...] per channel at most;
  // *per_channel is set when it has C values.
  bool channel_constant(const Tensor& t, const Region& r, bool batchnorm_param, bool* per_channel) const {
    if (t.dtype() != DType::f32) return false;
    if (t.numel() == 1) return int64_t(t.rank()) <= r.rank;
    const int64_t c = r.rank >= 2 ? info.types[size_t(e.graph().nodes[size_t(r.dq)].outputs[0])].dims[1] : -1;
    if (c <= 0 || t.numel() != c) return false;
    *per_channel = true;
    if (batchnorm_param) return t.rank() == 1;
    const int offset = int(r.rank) - int(t.rank());
    if (offset < 0) return false;
    for (int i = 0; i < int(t.rank()); ++i)
      if (t.dim(size_t(i)) != 1 && i + offset != 1) return false;
    return true;
  }

  bool joins(const ir::Node& n, Region& r) const {
    if (!elementwise_op(n) || !g.implicit_inputs(n).empty()) return false;
    const int out = n.outputs[0];
    if (info.types[size_t(out)].dtype != DType::f32) return false;
    const bool bn = n.op_type == "BatchNormalization";
    if (bn && n.attr_i("training_mode", 0) != 0) return false;
    bool reads_region = false, per_channel = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v < 0) continue;
      if (r.values.count(v)) {
        if (bn && i != 0) return false;
        reads_region = true;
        continue;
      }
      const Tensor* t = e.constant(v);
      if (!t || !channel_constant(*t, r, bn && i > 0, &per_channel)) return false;
    }
    if (!reads_region) return false;
    if (bn && r.rank < 2) return false;
    if (per_channel || bn) r.channels = info.types[size_t(g.nodes[size_t(r.dq)].outputs[0])].dims[1];
    return true;
  }

  // DequantizeLinear of a non-constant uint8/int8 tensor with one constant
  // scale (and zero point): the region's start.
  bool start(int ni, Region* r) const {
    const ir::Node& dq = g.nodes[size_t(ni)];
    if (dq.op_type != "DequantizeLinear" || !dq.domain.empty() || dq.inputs.size() < 2 || dq.outputs.size() != 1) return false;
    const int x = dq.inputs[0], y = dq.outputs[0];
    if (x < 0 || y < 0 || e.constant(x)) return false;
    const DType xt = info.types[size_t(x)].dtype;
    if (xt != DType::u8 && xt != DType::i8) return false;
    const Tensor* s = e.constant(dq.inputs[1]);
    if (!s || s->numel() != 1 || s->dtype() != DType::f32) return false;
    if (dq.inputs.size() > 2 && dq.inputs[2] >= 0) {
      const Tensor* z = e.constant(dq.inputs[2]);
      if (!z || z->numel() != 1) return false;
    }
    const ir::ValueType& t = info.types[size_t(y)];
    if (!t.rank_known || t.dims.empty()) return false;
    r->dq = ni;
    r->bytes = x;
    r->rank = int64_t(t.dims.size());
    r->values = {y};
    return true;
  }

  void grow(const std::vector<int>& order, size_t from, Region& r) const {
    for (size_t k = from + 1; k < order.size(); ++k) {
      const ir::Node& n = g.nodes[size_t(order[k])];
      if (e.dead(order[k]) || !joins(n, r)) continue;
      r.nodes.push_back(order[k]);
      r.values.insert(n.outputs[0]);
    }
    const int dq_out = g.nodes[size_t(r.dq)].outputs[0];
    std::multiset<int> inner_reads;
    for (int ni : r.nodes)
      for (int v : g.nodes[size_t(ni)].inputs) inner_reads.insert(v);
    for (int ni : r.nodes) {
      const int v = g.nodes[size_t(ni)].outputs[0];
      if (v != dq_out && (e.is_output(v) || e.uses(v) > int(inner_reads.count(v)))) r.sinks.push_back(v);
    }
  }

  // The byte tensor every table row reads: each of the 256 values per
  // channel, laid out so the region's constants broadcast over it as over
  // the real tensor ([1, C, 1.., 256] at rank >= 3, [256, C] at rank 2).
  Tensor all_bytes(const Region& r) const {
    const DType dt = info.types[size_t(r.bytes)].dtype;
    Shape s;
    if (r.rank >= 3) {
      s.assign(size_t(r.rank), 1);
      s[1] = r.channels;
      s.back() = 256;
    } else {
      s = r.rank == 2 ? Shape{256, r.channels} : Shape{256};
    }
    Tensor t = Tensor::empty(dt, s);
    uint8_t* p = static_cast<uint8_t*>(t.raw());
    for (int64_t c = 0; c < r.channels; ++c)
      for (int64_t k = 0; k < 256; ++k) p[r.rank == 2 ? k * r.channels + c : c * 256 + k] = uint8_t(k);
    return t;
  }

  bool run_node(const ir::Node& n, std::map<int, Tensor>& vals) const {
    const runtime::OpDef* def = runtime::op_registry().find(n.domain, n.op_type);
    if (!def) return false;
    runtime::OpContext oc{n, opset, {}, {}, nullptr, nullptr, nullptr, {}};
    for (int v : n.inputs) oc.inputs.push_back(v < 0 ? nullptr : vals.count(v) ? &vals.at(v) : e.constant(v));
    oc.outputs.resize(n.outputs.size());
    try {
      def->run(oc);
    } catch (const Error&) {
      return false;
    }
    vals[n.outputs[0]] = std::move(oc.outputs[0]);
    return true;
  }

  // The table [C, 256] of a value computed on all_bytes (rows per channel).
  Tensor table_of(const Tensor& t, const Region& r) const {
    if (r.rank != 2) return t.reshaped({r.channels, 256});
    Tensor out = Tensor::empty(t.dtype(), {r.channels, 256});
    const size_t w = dtype_size(t.dtype());
    const auto* src = static_cast<const uint8_t*>(t.raw());
    auto* dst = static_cast<uint8_t*>(out.raw());
    for (int64_t c = 0; c < r.channels; ++c)
      for (int64_t k = 0; k < 256; ++k) std::copy_n(src + (k * r.channels + c) * w, w, dst + (c * 256 + k) * w);
    return out;
  }

  // The one QuantizeLinear reading v (constant scalar scale and zero point,
  // its own type), or -1.
  int only_quantize(int v) const {
    const int qi = e.only_consumer(v);
    if (qi < 0 || e.dead(qi) || e.is_output(v)) return -1;
    const ir::Node& q = g.nodes[size_t(qi)];
    if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.inputs.size() < 2 || q.inputs[0] != v || q.outputs.size() != 1) return -1;
    const Tensor* s = e.constant(q.inputs[1]);
    const Tensor* z = q.inputs.size() > 2 && q.inputs[2] >= 0 ? e.constant(q.inputs[2]) : nullptr;
    if (!s || s->numel() != 1 || (q.inputs.size() > 2 && q.inputs[2] >= 0 && (!z || z->numel() != 1))) return -1;
    return qi;
  }

  // Every reader of v rounds it to uint8 with one shared scale and zero
  // point: fold_qdq's convs (x_scale: int8 convs and depthwise convs reading
  // the uint8 grid) and QuantizeLinear nodes to uint8 whose outputs are not
  // graph outputs. Their rounding is kernels::quantize_u8 in both.
  bool rounding_readers(int v, float* scale, int32_t* zero) const {
    const std::vector<int>& rs = e.consumers(v);
    if (rs.empty() || e.is_output(v) || e.uses(v) != int(rs.size())) return false;
    for (size_t k = 0; k < rs.size(); ++k) {
      const ir::Node& n = g.nodes[size_t(rs[k])];
      if (e.dead(rs[k]) || n.inputs.empty() || n.inputs[0] != v || std::count(n.inputs.begin(), n.inputs.end(), v) != 1) return false;
      float s = 0;
      int64_t z = 0;
      if (n.op_type == "Conv" && n.domain.empty() && n.has_attr("x_scale")) {
        s = n.attr_f("x_scale", 0.f);
        z = n.attr_i("x_zero_point", 0);
      } else if (!quantize_to_u8(rs[k], &s, &z)) {
        return false;
      }
      if (!(s > 0.f) || !std::isfinite(s) || z < 0 || z > 255 || (k > 0 && (s != *scale || z != *zero))) return false;
      *scale = s;
      *zero = int32_t(z);
    }
    return true;
  }

  // A QuantizeLinear to uint8 with a constant scalar scale and zero point,
  // its output not a graph output.
  bool quantize_to_u8(int qi, float* scale, int64_t* zero) const {
    const ir::Node& q = g.nodes[size_t(qi)];
    if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.inputs.size() < 2 || q.outputs.size() != 1 || e.is_output(q.outputs[0]))
      return false;
    if (q.attr_i("output_dtype", 0) != 0 && q.attr_i("output_dtype", 0) != 2) return false;
    const Tensor* s = e.constant(q.inputs[1]);
    const Tensor* z = q.inputs.size() > 2 && q.inputs[2] >= 0 ? e.constant(q.inputs[2]) : nullptr;
    if (!s || s->dtype() != DType::f32 || s->numel() != 1) return false;
    if (q.inputs.size() > 2 && q.inputs[2] >= 0 && (!z || z->dtype() != DType::u8 || z->numel() != 1)) return false;
    *scale = s->data<float>()[0];
    *zero = z ? int64_t(z->data<uint8_t>()[0]) : 0;
    return true;
  }

  void to_lookup(ir::Node& n, int bytes, Tensor table, const std::string& hint) {
    const int t = e.add_constant(hint + "_table", std::move(table));
    n.op_type = "QLookup";
    n.domain = "pareto";
    n.inputs = {bytes, t};
    n.attrs.clear();
    n.set_attr(ir::attr_int("axis", 1));
  }

  void fold(Region& r) {
    if (r.channels > 4096) return;  // tables of 1 KiB per channel
    std::map<int, Tensor> vals = {{r.bytes, all_bytes(r)}};
    if (!run_node(g.nodes[size_t(r.dq)], vals)) return;
    for (int ni : r.nodes)
      if (!run_node(g.nodes[size_t(ni)], vals) || vals.at(g.nodes[size_t(ni)].outputs[0]).dtype() != DType::f32) return;
    std::set<int> kept;  // region nodes rewritten into lookups
    for (int v : r.sinks) {
      const Tensor floats = table_of(vals.at(v), r);
      const int producer = e.producer(v);
      const std::string hint = g.values[size_t(v)].name;
      float scale = 0;
      int32_t zero = 0;
      if (rounding_readers(v, &scale, &zero)) {  // the bytes every reader would round to
        Tensor bytes = Tensor::empty(DType::u8, floats.shape());
        kernels::quantize_u8(floats.data<float>(), floats.numel(), scale, zero, bytes.data<uint8_t>());
        for (int qi : std::vector<int>(e.consumers(v)))
          if (g.nodes[size_t(qi)].op_type == "QuantizeLinear") {
            e.replace_uses(g.nodes[size_t(qi)].outputs[0], v);
            e.kill(qi);
          }
        to_lookup(g.nodes[size_t(producer)], r.bytes, std::move(bytes), hint);
        g.values[size_t(v)].type.dtype = DType::u8;
        kept.insert(producer);
        st.rewrites["DequantizeLinear + elementwise ops -> QLookup (bytes for the readers that round to uint8)"]++;
      } else if (const int qi = only_quantize(v); qi >= 0) {  // int8 or the like: the QuantizeLinear's own table
        std::map<int, Tensor> qv = {{v, floats}};
        if (!run_node(g.nodes[size_t(qi)], qv)) continue;
        to_lookup(g.nodes[size_t(qi)], r.bytes, qv.at(g.nodes[size_t(qi)].outputs[0]), hint);
        st.rewrites["DequantizeLinear + elementwise ops + QuantizeLinear -> QLookup (bytes)"]++;
      } else {
        to_lookup(g.nodes[size_t(producer)], r.bytes, floats, hint);
        kept.insert(producer);
        st.rewrites["DequantizeLinear + elementwise ops -> QLookup (floats)"]++;
      }
    }
    for (int ni : r.nodes)
      if (!kept.count(ni)) e.kill(ni);
  }
};

}  // namespace

// PARETO_QDQ_LOOKUP=0 turns the pass off (to measure what it saves; the
// tests compare the two).
PassStats fold_qdq_lookup(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fold_qdq_lookup", g.nodes.size(), 0, {}};
  const char* env = std::getenv("PARETO_QDQ_LOOKUP");
  if ((env && !std::strcmp(env, "0")) || std::none_of(g.nodes.begin(), g.nodes.end(), [](const ir::Node& n) { return n.op_type == "DequantizeLinear"; })) {
    st.nodes_after = g.nodes.size();
    return st;
  }
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  LookupFolder f{g, e, info, ctx.opset, st};
  const std::vector<int> order = g.topological_order();
  for (size_t k = 0; k < order.size(); ++k) {
    Region r;
    if (e.dead(order[k]) || !f.start(order[k], &r)) continue;
    f.grow(order, k, r);
    if (r.nodes.empty() || r.sinks.empty() || r.sinks.size() > 4) continue;
    f.fold(r);
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
