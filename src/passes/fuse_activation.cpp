#include <cmath>
#include <limits>

#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {

bool scalar_is(const Tensor* t, float want) {
  if (!t || t->numel() != 1) return false;
  const double v = t->as_double(0);
  return std::fabs(v - double(want)) <= 1e-6 * std::max(1.0, std::fabs(double(want)));
}

struct Act {
  std::string name;
  float alpha = 0, beta = 0;
  std::vector<int> nodes;  // replaced by the fusion; the last one's output is taken over
};

struct Fuser {
  ir::Graph& g;
  GraphEdit& e;

  const ir::Node* consumer(int v) {
    const int c = e.only_consumer(v);
    return c >= 0 && !e.dead(c) && g.nodes[size_t(c)].domain.empty() ? &g.nodes[size_t(c)] : nullptr;
  }
  int index(const ir::Node* n) { return int(n - g.nodes.data()); }

  // Clip bounds from attributes (opset < 11) or constant inputs.
  bool clip_bounds(const ir::Node& n, float* lo, float* hi) {
    if (n.inputs.size() <= 1) {
      *lo = n.attr_f("min", -INFINITY);
      *hi = n.attr_f("max", INFINITY);
      return true;
    }
    const Tensor* a = n.inputs[1] >= 0 ? e.constant(n.inputs[1]) : nullptr;
    const Tensor* b = n.inputs.size() > 2 && n.inputs[2] >= 0 ? e.constant(n.inputs[2]) : nullptr;
    if ((n.inputs[1] >= 0 && !a) || (n.inputs.size() > 2 && n.inputs[2] >= 0 && !b)) return false;
    *lo = a ? float(a->as_double(0)) : -INFINITY;
    *hi = b ? float(b->as_double(0)) : INFINITY;
    return true;
  }

  // x*clip(x+3, 0, 6)/6 (or *(1/6)), x*HardSigmoid(x; 1/6, 0.5), x*Sigmoid(x):
  // x feeds both the first op of the chain and the Mul.
  bool chain_on(int x, Act* act) {
    if (e.uses(x) != 2 || e.consumers(x).size() != 2) return false;
    for (int first : e.consumers(x)) {
      const ir::Node& f = g.nodes[size_t(first)];
      int gate = -1;
      act->nodes = {first};
      if (f.op_type == "Add" && f.inputs.size() == 2) {  // x + 3 -> Clip(0, 6)
        const int k = f.inputs[0] == x ? f.inputs[1] : f.inputs[0];
        const ir::Node* c = consumer(f.outputs[0]);
        float lo, hi;
        if (!scalar_is(e.constant(k), 3.f) || !c || c->op_type != "Clip" || !clip_bounds(*c, &lo, &hi) || lo != 0.f || hi != 6.f) continue;
        gate = c->outputs[0];
        act->nodes.push_back(index(c));
        act->name = "HardSwish";
      } else if (f.op_type == "HardSigmoid" && std::fabs(f.attr_f("alpha", 0.2f) - 1.f / 6) < 1e-6f &&
                 std::fabs(f.attr_f("beta", 0.5f) - 0.5f) < 1e-6f) {
        gate = f.outputs[0];
        act->name = "HardSwish#hs";
      } else if (f.op_type == "Sigmoid") {
        gate = f.outputs[0];
        act->name = "SiLU";
      } else {
        continue;
      }
      const ir::Node* m = consumer(gate);
      if (!m || m->op_type != "Mul" || m->inputs.size() != 2) continue;
      if (!((m->inputs[0] == x && m->inputs[1] == gate) || (m->inputs[1] == x && m->inputs[0] == gate))) continue;
      act->nodes.push_back(index(m));
      if (act->name == "HardSwish") {  // the /6 step
        const ir::Node* d = consumer(m->outputs[0]);
        if (!d || d->inputs.size() != 2 || d->inputs[0] != m->outputs[0]) continue;
        const Tensor* k = e.constant(d->inputs[1]);
        if (!((d->op_type == "Div" && scalar_is(k, 6.f)) || (d->op_type == "Mul" && scalar_is(k, 1.f / 6)))) continue;
        act->nodes.push_back(index(d));
      }
      if (act->name == "HardSwish#hs") act->name = "HardSwish";
      return true;
    }
    return false;
  }

  // A single activation node right after v.
  bool single_on(int v, Act* act) {
    const ir::Node* n = consumer(v);
    if (!n) return false;
    const std::string& t = n->op_type;
    if (t == "Relu" || t == "Sigmoid" || t == "Tanh" || t == "HardSwish") {
      act->name = t;
    } else if (t == "LeakyRelu") {
      act->name = t;
      act->alpha = n->attr_f("alpha", 0.01f);
    } else if (t == "HardSigmoid") {
      act->name = t;
      act->alpha = n->attr_f("alpha", 0.2f);
      act->beta = n->attr_f("beta", 0.5f);
    } else if (t == "Clip") {
      if (!clip_bounds(*n, &act->alpha, &act->beta)) return false;
      act->name = t;
    } else {
      return false;
    }
    act->nodes = {index(n)};
    return true;
  }

  void to_fused(ir::Node& conv) {
    if (conv.op_type == "FusedConv") return;
    conv.op_type = "FusedConv";
    conv.domain = "pareto";
  }

  // A Mul (or Add) of v with a scalar constant (rank <= 1, so the output
  // keeps v's shape): its value, and the node.
  // rank_of_v: v's rank where the caller knows it (-1: unknown; then only rank-0/1 constants).
  const ir::Node* scalar_op(int v, const char* op, float* value, int64_t rank_of_v = -1) {
    const ir::Node* n = consumer(v);
    if (!n || n->op_type != op || n->inputs.size() != 2 || n->outputs.empty()) return nullptr;
    const int k = n->inputs[0] == v ? n->inputs[1] : n->inputs[0];
    const Tensor* t = k >= 0 ? e.constant(k) : nullptr;
    if (!t || t->numel() != 1 || t->dtype() != DType::f32 || e.is_output(v)) return nullptr;
    // A [1, 1, 1, 1] constant broadcast onto a value of at least its rank changes no shape.
    // (Only a rank the caller computed: a model's declared types may lie.)
    if (t->rank() > 1 && rank_of_v < t->rank()) return nullptr;
    *value = float(t->as_double(0));
    return n;
  }

  // The fused node records the activation and takes over the last replaced node's output.
  void take_over(ir::Node& conv, const Act& act) {
    conv.set_attr(ir::attr_string("activation", act.name));
    if (act.name == "Clip" || act.name == "HardSigmoid" || act.name == "LeakyRelu") {
      conv.set_attr(ir::attr_float("alpha", act.alpha));
      conv.set_attr(ir::attr_float("beta", act.beta));
    }
    for (int n : act.nodes) e.kill(n);
    conv.outputs[0] = g.nodes[size_t(act.nodes.back())].outputs[0];
  }
};

}  // namespace

// Gemm / MatMul + activation become FusedGemm / FusedMatMul.
// Conv [+ residual Add] + activation become one FusedConv (domain "pareto")
// whose epilogue applies them per output block. Activations: Relu, Clip,
// HardSigmoid, HardSwish (also as exported: x*clip(x+3,0,6)/6 and
// x*HardSigmoid(x)), Sigmoid, SiLU (x*sigmoid(x)), Tanh, LeakyRelu. The
// residual is fused when both Add operands have the same static shape, or,
// sizes unknown, dims that agree wherever known (residual_broadcast: the
// runtime adds as the Add broadcasts where a run's shapes differ).
// ConvTranspose + activation become FusedConvTranspose (no residual).
PassStats fuse_activation(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fuse_activation", g.nodes.size(), 0, {}};
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  Fuser f{g, e};
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& conv = g.nodes[n];
    if (e.dead(int(n)) || (conv.op_type != "Conv" && conv.op_type != "FusedConv") || conv.has_attr("activation")) continue;
    if (conv.outputs.empty() || e.is_output(conv.outputs[0])) continue;
    // residual: Conv -> Add(conv, r) with r of the conv's shape (or maybe, sizes unknown)
    if (conv.op_type == "Conv" || conv.inputs.size() < 4) {
      const ir::Node* add = f.consumer(conv.outputs[0]);
      if (add && add->op_type == "Add" && add->inputs.size() == 2 && add->inputs[0] != add->inputs[1]) {
        const int r = add->inputs[0] == conv.outputs[0] ? add->inputs[1] : add->inputs[0];
        const ir::ValueType& tr = info.types[size_t(r)];
        const ir::ValueType& tc = info.types[size_t(conv.outputs[0])];
        const bool same = tr.fully_known() && tc.fully_known() && tr.dims == tc.dims;
        // (Not onto a conv reading the uint8 grid: its input set-up comes
        // after the residual check in the runtime, which the broadcast path
        // would skip.)
        if ((same || (dims_may_match(tr, tc) && !conv.has_attr("x_scale"))) && tr.dtype == DType::f32) {
          const int add_idx = f.index(add);
          f.to_fused(conv);
          conv.inputs.resize(4, -1);
          conv.inputs[3] = r;
          // Sizes unknown here (a model compiled for any input size: the OCR
          // pipeline's): the runtime adds as the Add broadcast where the
          // residual turns out another shape (runtime/ops/conv.cpp).
          if (!same) conv.set_attr(ir::attr_int("residual_broadcast", 1));
          conv.outputs[0] = g.nodes[size_t(add_idx)].outputs[0];
          e.kill(add_idx);
          st.rewrites["Conv + Add (residual)"]++;
          e.commit();  // the conv's output changed: re-index before looking further
          n = size_t(-1);
          continue;
        }
      }
    }
    Act act;
    if (!f.single_on(conv.outputs[0], &act) && !f.chain_on(conv.outputs[0], &act)) continue;
    const std::string from = conv.op_type;
    f.to_fused(conv);
    f.take_over(conv, act);
    st.rewrites[from + " + " + act.name]++;
  }
  // ConvTranspose + activation become FusedConvTranspose: PP-OCR det's head
  // ends in two 2x2 upsampling convs followed by a Relu and a Sigmoid, each
  // a pass over 24 x 320 x 320 / 640 x 640 floats of its own.
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& conv = g.nodes[n];
    if (e.dead(int(n)) || conv.op_type != "ConvTranspose" || !conv.domain.empty() || conv.has_attr("activation")) continue;
    if (conv.outputs.empty() || e.is_output(conv.outputs[0])) continue;
    Act act;
    if (!f.single_on(conv.outputs[0], &act) && !f.chain_on(conv.outputs[0], &act)) continue;
    conv.op_type = "FusedConvTranspose";
    conv.domain = "pareto";
    f.take_over(conv, act);
    st.rewrites["ConvTranspose + " + act.name]++;
  }
  // FusedConv + Mul by a scalar [+ Add of a scalar] after its activation
  // (PP-LCNetV3 follows every activation with a learnable y = a*y + b):
  // post_scale / post_shift in the epilogue instead of two passes over the
  // tensor.
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& conv = g.nodes[n];
    if (e.dead(int(n)) || conv.op_type != "FusedConv" || !conv.has_attr("activation") || conv.has_attr("post_scale")) continue;
    float scale = 1, shift = 0;
    std::vector<int> absorbed;
    int out = conv.outputs[0];
    const Tensor* w = conv.inputs.size() > 1 && conv.inputs[1] >= 0 ? e.constant(conv.inputs[1]) : nullptr;
    const int64_t rank = w ? w->rank() : -1;  // a conv's output has its filter's rank
    if (const ir::Node* m = f.scalar_op(out, "Mul", &scale, rank)) {
      absorbed.push_back(f.index(m));
      out = m->outputs[0];
    }
    if (const ir::Node* a = f.scalar_op(out, "Add", &shift, rank)) {
      absorbed.push_back(f.index(a));
      out = a->outputs[0];
    }
    float floor = -std::numeric_limits<float>::infinity();
    if (const ir::Node* m = f.scalar_op(out, "Max", &floor, rank)) absorbed.push_back(f.index(m));
    if (absorbed.empty() || floor != floor) continue;  // max(y, NaN) is NaN, not a floor
    conv.set_attr(ir::attr_float("post_scale", scale));
    conv.set_attr(ir::attr_float("post_shift", shift));
    conv.set_attr(ir::attr_float("post_floor", floor));
    conv.outputs[0] = g.nodes[size_t(absorbed.back())].outputs[0];
    for (int k : absorbed) e.kill(k);
    e.commit();  // outputs moved and nodes compacted: re-index and rescan
    st.rewrites["FusedConv + scalar affine / floor"]++;
    n = size_t(-1);
  }
  // Gemm / MatMul + activation -> FusedGemm / FusedMatMul (activation applied on the output in place).
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& mm = g.nodes[n];
    if (e.dead(int(n)) || (mm.op_type != "Gemm" && mm.op_type != "MatMul") || !mm.domain.empty() || mm.outputs.empty()) continue;
    if (mm.has_attr("x_scale")) continue;  // an int8 MatMul: FusedMatMul has no int8 form
    if (e.is_output(mm.outputs[0])) continue;
    Act act;
    if (!f.single_on(mm.outputs[0], &act) && !f.chain_on(mm.outputs[0], &act)) continue;
    const std::string from = mm.op_type;
    mm.op_type = "Fused" + from;
    mm.domain = "pareto";
    f.take_over(mm, act);
    st.rewrites[from + " + " + act.name]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
