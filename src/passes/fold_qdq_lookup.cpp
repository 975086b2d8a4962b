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
  DType byte_type = DType::u8;
  int64_t rank = 0, channels = 1;
  std::vector<int> nodes;   // in topological order
  std::set<int> values;     // the dequantized value and every node output
  std::vector<int> sinks;   // values read outside the region
};

// A region's tables are computed on [C, 256] tensors, every intermediate
// kept: at most kMaxNodes ops and kMaxNodes x 1024 channels of them
// (64 MiB), so a hostile chain cannot make compiling cost more than that.
constexpr size_t kMaxNodes = 64;
constexpr int64_t kMaxNodeChannels = int64_t(kMaxNodes) * 1024;

struct LookupFolder {
  ir::Graph& g;
  GraphEdit& e;
  const runtime::StaticInfo& info;
  int64_t opset;
  PassStats& st;

  // C of the region's [N, C, ...] tensor, or -1 where unknown.
  int64_t channels_of(const Region& r) const {
    const ir::ValueType& t = info.types[size_t(g.nodes[size_t(r.dq)].outputs[0])];
    return r.rank >= 2 && t.dims.size() >= 2 && t.dims[1] > 0 ? t.dims[1] : -1;
  }

  // A constant operand that broadcasts over [N, C, ...] per channel at most;
  // *wide is set when it has C values.
  bool channel_constant(const Tensor& t, const Region& r, bool batchnorm_param, bool* wide) const {
    if (t.dtype() != DType::f32) return false;
    if (t.numel() == 1) return int64_t(t.rank()) <= r.rank;  // a scalar of higher rank would grow the tensor
    const int64_t c = channels_of(r);
    std::vector<float> values;
    // BatchNorm parameters are 1-D [C]: rank 2 puts C on the channel axis.
    if (c <= 0 || !per_channel(t, c, batchnorm_param ? 2 : int(r.rank), &values)) return false;
    *wide = true;
    return true;
  }

  bool joins(const ir::Node& n, Region& r) const {
    if (!elementwise_op(n) || !g.implicit_inputs(n).empty()) return false;
    const int out = n.outputs[0];
    if (info.types[size_t(out)].dtype != DType::f32) return false;
    const bool bn = n.op_type == "BatchNormalization";
    if (bn && n.attr_i("training_mode", 0) != 0) return false;
    bool reads_region = false, wide = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v < 0) continue;
      if (r.values.count(v)) {
        if (bn && i != 0) return false;
        reads_region = true;
        continue;
      }
      const Tensor* t = e.constant(v);
      if (!t || !channel_constant(*t, r, bn && i > 0, &wide)) return false;
    }
    if (!reads_region || (bn && channels_of(r) <= 0)) return false;
    if (wide || bn) r.channels = channels_of(r);
    return true;
  }

  // DequantizeLinear of a non-constant uint8/int8 tensor with one constant
  // scale (and zero point): the region's start.
  bool start(int ni, Region* r) const {
    const ir::Node& dq = g.nodes[size_t(ni)];
    if (dq.op_type != "DequantizeLinear" || !dq.domain.empty() || dq.inputs.size() < 2 || dq.outputs.size() != 1) return false;
    const int x = dq.inputs[0], y = dq.outputs[0];
    if (x < 0 || y < 0 || e.constant(x)) return false;
    // The graph's type first: a table this pass made may have turned x
    // into bytes since the static information was computed.
    const DType xt = g.values[size_t(x)].type.dtype != DType::undefined ? g.values[size_t(x)].type.dtype : info.types[size_t(x)].dtype;
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
    r->byte_type = xt;
    r->rank = int64_t(t.dims.size());
    r->values = {y};
    return true;
  }

  // The region: the elementwise readers of its values, in topological
  // order (a node is judged once every earlier node is, so a node reading
  // two region values sees both), up to kMaxNodes.
  void grow(const std::vector<int>& position, Region& r) const {
    std::set<std::pair<int, int>> next;  // (topological position, node)
    auto add_readers = [&](int v) {
      for (int c : e.consumers(v))
        if (!e.dead(c)) next.insert({position[size_t(c)], c});
    };
    const int dq_out = g.nodes[size_t(r.dq)].outputs[0];
    add_readers(dq_out);
    while (!next.empty() && r.nodes.size() < kMaxNodes) {
      const int ni = next.begin()->second;
      next.erase(next.begin());
      const ir::Node& n = g.nodes[size_t(ni)];
      if (!joins(n, r)) continue;
      r.nodes.push_back(ni);
      r.values.insert(n.outputs[0]);
      add_readers(n.outputs[0]);
    }
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
    const DType dt = r.byte_type;
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

  // The node's op on the region's values so far (vals) and its constants.
  bool run_node(const ir::Node& n, std::map<int, Tensor>& vals) const {
    std::vector<const Tensor*> inputs;
    for (int v : n.inputs) inputs.push_back(v < 0 ? nullptr : vals.count(v) ? &vals.at(v) : e.constant(v));
    std::vector<Tensor> outputs;
    if (!run_at_compile_time(n, opset, inputs, &outputs)) return false;
    vals[n.outputs[0]] = std::move(outputs[0]);
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

  // The node becomes the lookup. GraphEdit's reader index is not told: a
  // later region only asks it for readers of values, and this node, now a
  // pareto op, never joins one.
  void to_lookup(ir::Node& n, int bytes, Tensor table, const std::string& hint) {
    const int t = e.add_constant(hint + "_table", std::move(table));
    n.op_type = "QLookup";
    n.domain = "pareto";
    n.inputs = {bytes, t};
    n.attrs.clear();
    n.set_attr(ir::attr_int("axis", 1));
  }

  // What one sink becomes: a lookup at `node` (the sink's producer, or the
  // QuantizeLinear after it) with `table`.
  struct Plan {
    int node = -1, sink = -1;
    Tensor table;
    bool bytes_for_readers = false;  // the readers' QuantizeLinear nodes go
  };

  // Every sink's table first; the graph changes only when all are made.
  void fold(Region& r) {
    if (r.channels < 1 || r.channels * int64_t(r.nodes.size()) > kMaxNodeChannels) return;
    std::map<int, Tensor> vals = {{r.bytes, all_bytes(r)}};
    if (!run_node(g.nodes[size_t(r.dq)], vals)) return;
    for (int ni : r.nodes)
      if (!run_node(g.nodes[size_t(ni)], vals) || vals.at(g.nodes[size_t(ni)].outputs[0]).dtype() != DType::f32) return;
    std::vector<Plan> plans;
    for (int v : r.sinks) plans.push_back(plan(v, table_of(vals.at(v), r)));
    std::set<int> kept;  // region nodes rewritten into lookups
    for (Plan& p : plans) {
      const std::string hint = g.values[size_t(p.sink)].name;
      if (p.bytes_for_readers) {
        hand_bytes_to_quantize_readers(g, e, p.sink);
        g.values[size_t(p.sink)].type.dtype = DType::u8;
        st.rewrites["DequantizeLinear + elementwise ops -> QLookup (bytes for the readers that round to uint8)"]++;
      } else {
        st.rewrites[p.node == e.producer(p.sink) ? "DequantizeLinear + elementwise ops -> QLookup (floats)"
                                                 : "DequantizeLinear + elementwise ops + QuantizeLinear -> QLookup (bytes)"]++;
      }
      to_lookup(g.nodes[size_t(p.node)], r.bytes, std::move(p.table), hint);
      kept.insert(p.node);
    }
    for (int ni : r.nodes)
      if (!kept.count(ni)) e.kill(ni);
  }

  Plan plan(int v, Tensor floats) const {
    Plan p;
    p.sink = v;
    p.node = e.producer(v);
    float scale = 0;
    int64_t zero = 0;
    if (rounding_readers_only(g, e, v, &scale, &zero)) {  // the bytes every reader would round to
      p.table = Tensor::empty(DType::u8, floats.shape());
      kernels::quantize_u8(floats.data<float>(), floats.numel(), scale, int32_t(zero), p.table.data<uint8_t>());
      p.bytes_for_readers = true;
      return p;
    }
    if (const int qi = only_quantize(v); qi >= 0) {  // int8 and the like: the QuantizeLinear's own table
      std::map<int, Tensor> qv = {{v, floats}};
      const int out = g.nodes[size_t(qi)].outputs[0];
      if (run_node(g.nodes[size_t(qi)], qv) && (qv.at(out).dtype() == DType::u8 || qv.at(out).dtype() == DType::i8)) {
        p.node = qi;
        p.table = qv.at(out);
        return p;
      }
    }
    p.table = std::move(floats);  // else the floats (a QuantizeLinear that fails keeps failing at run time)
    return p;
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
  std::vector<int> position(g.nodes.size(), 0);
  for (size_t k = 0; k < order.size(); ++k) position[size_t(order[k])] = int(k);
  for (size_t k = 0; k < order.size(); ++k) {
    Region r;
    if (e.dead(order[k]) || !f.start(order[k], &r)) continue;
    f.grow(position, r);
    if (r.nodes.empty() || r.sinks.empty() || r.sinks.size() > 4) continue;
    f.fold(r);
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
