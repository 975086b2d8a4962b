#include <set>

#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

namespace {

// Replaces If node n (constant condition) by the nodes of the branch it
// takes. Returns false (graph untouched) when the branch cannot be inlined
// safely: a name it defines already exists here (its own subgraphs resolve
// names, so renaming is not an option), or it reads a name this graph lacks.
bool inline_branch(ir::Graph& g, int n) {
  GraphEdit e(g);
  const ir::Node node = g.nodes[size_t(n)];
  const Tensor* c = e.constant(node.inputs.empty() ? -1 : node.inputs[0]);
  if (!c || c->numel() != 1) return false;
  const ir::Attribute* a = node.attr(c->as_double(0) != 0 ? "then_branch" : "else_branch");
  if (!a || !a->g || a->g->outputs.size() != node.outputs.size()) return false;
  const ir::Graph& b = *a->g;
  std::vector<int> map(b.values.size(), -1);
  for (size_t v = 0; v < b.values.size(); ++v) {
    const ir::Value& bv = b.values[v];
    if (bv.is_outer) {
      map[v] = g.find_value(bv.name);
      if (map[v] < 0) return false;
    } else if (g.find_value(bv.name) >= 0) {
      return false;
    }
  }
  // Branch outputs computed by branch nodes write the If's outputs directly.
  std::set<int> direct;
  for (size_t i = 0; i < b.outputs.size(); ++i) {
    const int bv = b.outputs[size_t(i)];
    if (node.outputs[i] >= 0 && b.values[size_t(bv)].producer >= 0 && !b.values[size_t(bv)].is_outer && direct.insert(bv).second)
      map[size_t(bv)] = node.outputs[i];
  }
  for (size_t v = 0; v < b.values.size(); ++v) {
    if (map[v] >= 0) continue;
    const int p = g.add_value(b.values[v].name);
    g.values[size_t(p)].type = b.values[v].type;
    g.values[size_t(p)].constant = b.values[v].constant;
    map[v] = p;
  }
  std::vector<ir::Node> added;
  for (const ir::Node& bn : b.nodes) {
    ir::Node copy = bn;
    for (int& v : copy.inputs)
      if (v >= 0) v = map[size_t(v)];
    for (int& v : copy.outputs)
      if (v >= 0) v = map[size_t(v)];
    added.push_back(std::move(copy));
  }
  // Outputs that pass an outer value, a constant or a repeated value through: Identity.
  for (size_t i = 0; i < b.outputs.size(); ++i) {
    if (node.outputs[i] < 0 || map[size_t(b.outputs[i])] == node.outputs[i]) continue;
    ir::Node id;
    id.name = node.name + "_out" + std::to_string(i);
    id.op_type = "Identity";
    id.inputs = {map[size_t(b.outputs[i])]};
    id.outputs = {node.outputs[i]};
    added.push_back(std::move(id));
  }
  g.nodes.erase(g.nodes.begin() + n);
  for (auto& x : added) g.nodes.push_back(std::move(x));
  GraphEdit(g).commit();  // renumbers producers
  return true;
}

}  // namespace

// If nodes whose condition is constant (after folding, e.g. once an input is
// bound to a value) are replaced by the branch they take, so the compiler's
// other passes and the memory planner see its nodes.
PassStats inline_constant_ifs(ir::Graph& g, const PassContext&) {
  PassStats st{"inline_constant_ifs", g.nodes.size(), 0, {}};
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t n = 0; n < g.nodes.size(); ++n)
      if (g.nodes[n].op_type == "If" && g.nodes[n].domain.empty() && inline_branch(g, int(n))) {
        st.rewrites["If with a constant condition"]++;
        changed = true;
        break;
      }
  }
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
