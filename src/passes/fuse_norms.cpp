#include <cmath>

#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

namespace {

struct Matcher {
  ir::Graph& g;
  GraphEdit& e;

  // The single live consumer of v with op `op` (and no domain), else null.
  ir::Node* next(int v, const char* op) {
    const int c = e.only_consumer(v);
    if (c < 0 || e.dead(c)) return nullptr;
    ir::Node& n = g.nodes[size_t(c)];
    return n.op_type == op && n.domain.empty() ? &n : nullptr;
  }
  int idx(const ir::Node* n) const { return int(n - g.nodes.data()); }
  bool last_axis_mean(const ir::Node& n) {
    if (n.op_type != "ReduceMean" || n.inputs.size() > 1 || n.attr_i("keepdims", 1) != 1) return false;
    const auto axes = n.attr_ints("axes");
    return axes.size() == 1 && axes[0] == -1;
  }
  const Tensor* scalar(int v) {
    const Tensor* t = e.constant(v);
    return t && t->numel() == 1 ? t : nullptr;
  }
  // The other operand of a binary node, given one of them.
  int other(const ir::Node& n, int v) { return n.inputs.size() == 2 ? (n.inputs[0] == v ? n.inputs[1] : n.inputs[0]) : -1; }
  // x^2 as Pow(x, 2) or Mul(x, x) among the consumers of x.
  ir::Node* square_of(int x, const std::vector<int>& cands) {
    for (int c : cands) {
      ir::Node& n = g.nodes[size_t(c)];
      if (e.dead(c) || !n.domain.empty()) continue;
      if (n.op_type == "Pow" && n.inputs.size() == 2 && n.inputs[0] == x && scalar(n.inputs[1]) && scalar(n.inputs[1])->as_double(0) == 2.0) return &n;
      if (n.op_type == "Mul" && n.inputs.size() == 2 && n.inputs[0] == x && n.inputs[1] == x) return &n;
    }
    return nullptr;
  }
  // mean(sq) + eps -> Sqrt -> Div(num, .): returns the Div and eps.
  ir::Node* normalize_tail(ir::Node* sq, int num, float* eps, std::vector<int>* chain) {
    ir::Node* rm = next(sq->outputs[0], "ReduceMean");
    if (!rm || !last_axis_mean(*rm)) return nullptr;
    ir::Node* add = next(rm->outputs[0], "Add");
    if (!add || !scalar(other(*add, rm->outputs[0]))) return nullptr;
    ir::Node* sq_root = next(add->outputs[0], "Sqrt");
    if (!sq_root) return nullptr;
    ir::Node* div = next(sq_root->outputs[0], "Div");
    if (!div || div->inputs[0] != num || div->inputs[1] != sq_root->outputs[0]) return nullptr;
    *eps = float(scalar(other(*add, rm->outputs[0]))->as_double(0));
    *chain = {idx(sq), idx(rm), idx(add), idx(sq_root), idx(div)};
    return div;
  }
  // Optional Mul(gamma) then Add(beta) with 1-D constants of the last axis.
  int affine(int v, int* gamma, int* beta, std::vector<int>* chain, bool allow_beta) {
    if (ir::Node* m = next(v, "Mul"); m && e.constant(other(*m, v)) && e.constant(other(*m, v))->rank() == 1) {
      *gamma = other(*m, v);
      chain->push_back(idx(m));
      v = m->outputs[0];
      if (ir::Node* a = allow_beta ? next(v, "Add") : nullptr; a && e.constant(other(*a, v)) && e.constant(other(*a, v))->rank() == 1) {
        *beta = other(*a, v);
        chain->push_back(idx(a));
        v = a->outputs[0];
      }
    }
    return v;
  }
  void replace(const std::vector<int>& chain, const std::string& op, std::vector<int> inputs, float eps, const char* pattern, PassStats& st) {
    ir::Node& last = g.nodes[size_t(chain.back())];
    ir::Node n;
    n.name = last.name + "_" + op;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {last.outputs[0]};
    ir::Attribute axis, epsilon;
    axis.name = "axis";
    axis.kind = ir::AttrKind::i;
    axis.i = -1;
    epsilon.name = "epsilon";
    epsilon.kind = ir::AttrKind::f;
    epsilon.f = eps;
    if (op != "Gelu") n.attrs = {axis, epsilon};
    for (int c : chain) e.kill(c);
    // Reuse the last node's slot: it is dead, and its position keeps the order valid.
    pending.push_back(std::move(n));
    st.rewrites[pattern]++;
  }
  std::vector<ir::Node> pending;
};

}  // namespace

// LayerNorm, RMSNorm and GELU exported as primitive chains become single
// ops: mean/sub/pow/mean/add/sqrt/div[/mul/add] -> LayerNormalization,
// pow/mean/add/sqrt/div[/mul] -> RMSNormalization, and
// x*0.5*(1+erf(x/sqrt(2))) -> Gelu (all over the last axis).
PassStats fuse_norms(ir::Graph& g, const PassContext&) {
  PassStats st{"fuse_norms", g.nodes.size(), 0, {}};
  GraphEdit e(g);
  Matcher m{g, e, {}};
  const size_t original = g.nodes.size();
  for (size_t i = 0; i < original; ++i) {
    if (e.dead(int(i))) continue;
    ir::Node& n = g.nodes[i];
    if (!n.domain.empty() || n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty()) continue;
    const int x = n.inputs[0];
    if (m.last_axis_mean(n) && e.consumers(n.outputs[0]).size() == 1) {  // LayerNorm starts at mean(x)
      ir::Node* sub = m.next(n.outputs[0], "Sub");
      if (!sub || sub->inputs[0] != x || sub->inputs[1] != n.outputs[0] || e.uses(sub->outputs[0]) != 2) continue;
      ir::Node* sq = m.square_of(sub->outputs[0], e.consumers(sub->outputs[0]));
      float eps;
      std::vector<int> chain;
      if (!sq || !m.normalize_tail(sq, sub->outputs[0], &eps, &chain)) continue;
      chain.insert(chain.begin(), {int(i), m.idx(sub)});
      int gamma = -1, beta = -1;
      m.affine(g.nodes[size_t(chain.back())].outputs[0], &gamma, &beta, &chain, true);
      if (gamma < 0) gamma = e.add_constant(n.name + "_ln_scale", Tensor::from_vector(std::vector<float>{1.f}, {1}));
      std::vector<int> ins = {x, gamma};
      if (beta >= 0) ins.push_back(beta);
      m.replace(chain, "LayerNormalization", ins, eps, "LayerNorm chain", st);
    } else if (n.op_type == "Pow" || n.op_type == "Mul") {  // RMSNorm starts at x^2 when x is also the numerator
      if (m.square_of(x, {int(i)}) != &n || e.uses(x) < 2) continue;
      float eps;
      std::vector<int> chain;
      if (!m.normalize_tail(&n, x, &eps, &chain)) continue;
      int gamma = -1, beta = -1;
      m.affine(g.nodes[size_t(chain.back())].outputs[0], &gamma, &beta, &chain, false);
      if (gamma < 0) gamma = e.add_constant(n.name + "_rms_scale", Tensor::from_vector(std::vector<float>{1.f}, {1}));
      m.replace(chain, "RMSNormalization", {x, gamma}, eps, "RMSNorm chain", st);
    } else if (n.op_type == "Div" && n.inputs.size() == 2 && m.scalar(n.inputs[1]) &&
               std::fabs(m.scalar(n.inputs[1])->as_double(0) - std::sqrt(2.0)) < 1e-4) {  // GELU: x / sqrt(2) -> Erf -> +1 -> *x -> *0.5
      ir::Node* erf = m.next(n.outputs[0], "Erf");
      ir::Node* add = erf ? m.next(erf->outputs[0], "Add") : nullptr;
      if (!add || !m.scalar(m.other(*add, erf->outputs[0])) || m.scalar(m.other(*add, erf->outputs[0]))->as_double(0) != 1.0) continue;
      ir::Node* mx = m.next(add->outputs[0], "Mul");
      if (!mx || m.other(*mx, add->outputs[0]) != x) continue;
      ir::Node* half = m.next(mx->outputs[0], "Mul");
      if (!half || !m.scalar(m.other(*half, mx->outputs[0])) || m.scalar(m.other(*half, mx->outputs[0]))->as_double(0) != 0.5) continue;
      m.replace({int(i), m.idx(erf), m.idx(add), m.idx(mx), m.idx(half)}, "Gelu", {x}, 0.f, "GELU chain", st);
    }
  }
  for (auto& n : m.pending) g.nodes.push_back(std::move(n));
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
