#include <set>

#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {
// Nodes whose value is not a function of their inputs, or that run bodies.
bool foldable(const ir::Node& n) {
  static const std::set<std::string> never = {"If", "Loop", "Scan", "RandomNormal", "RandomUniform", "RandomNormalLike",
                                              "RandomUniformLike", "Bernoulli", "Multinomial"};
  return n.domain.empty() && !never.count(n.op_type);
}
constexpr size_t kMaxFoldedBytes = size_t(64) << 20;  // a folded tensor larger than this stays computed
}  // namespace

// Runs every node whose inputs are all constants once, at compile time, and
// turns values that shape inference knows (Shape -> Gather -> Concat chains
// once input shapes are bound) into constants.
PassStats fold_constants(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fold_constants", g.nodes.size(), 0, {}};
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  for (int n : g.topological_order()) {
    ir::Node& node = g.nodes[size_t(n)];
    if (!foldable(node) || node.outputs.empty()) continue;
    bool all_known = true;
    for (int v : node.outputs) all_known &= v < 0 || (size_t(v) < info.values.size() && info.values[size_t(v)].defined());
    if (all_known) {
      for (int v : node.outputs)
        if (v >= 0) g.values[size_t(v)].constant = info.values[size_t(v)];
      e.kill(n);
      st.rewrites[node.op_type + " (known statically)"]++;
      continue;
    }
    bool inputs_constant = !node.inputs.empty();
    for (int v : node.inputs) inputs_constant &= v < 0 || e.constant(v) != nullptr;
    if (!inputs_constant || !g.implicit_inputs(node).empty()) continue;
    std::vector<const Tensor*> inputs;
    for (int v : node.inputs) inputs.push_back(v >= 0 ? e.constant(v) : nullptr);
    std::vector<Tensor> outputs;
    if (!run_at_compile_time(node, ctx.opset, inputs, &outputs)) continue;
    bool small = true;
    for (const Tensor& t : outputs) small &= t.nbytes() <= kMaxFoldedBytes;
    if (!small) continue;
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (node.outputs[o] >= 0) g.values[size_t(node.outputs[o])].constant = outputs[o];
    e.kill(n);
    st.rewrites[node.op_type]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
