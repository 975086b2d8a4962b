#include <map>
#include <sstream>

#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

namespace {
// A key equal for nodes that compute the same thing: op, inputs and attributes.
std::string node_key(const ir::Node& n) {
  std::ostringstream k;
  k << n.domain << "|" << n.op_type << "|" << n.outputs.size() << "|";
  for (int v : n.inputs) k << v << ",";
  for (const auto& a : n.attrs) {
    k << "|" << a.name << ":" << int(a.kind) << ":" << a.f << ":" << a.i << ":" << a.s << ":";
    for (float f : a.floats) k << f << ",";
    for (int64_t i : a.ints) k << i << ",";
    for (const auto& s : a.strings) k << s << ",";
    if (a.t.defined() || a.g || !a.tensors.empty() || !a.graphs.empty()) k << "#" << &a;  // never merged
  }
  return k.str();
}
}  // namespace

// Common-subexpression elimination: a node with the same op, inputs and
// attributes as an earlier one reuses its outputs.
PassStats eliminate_common(ir::Graph& g, const PassContext&) {
  PassStats st{"eliminate_common", g.nodes.size(), 0, {}};
  GraphEdit e(g);
  std::map<std::string, int> seen;
  for (int n : g.topological_order()) {
    const ir::Node& node = g.nodes[size_t(n)];
    if (node.op_type.rfind("Random", 0) == 0 || node.op_type == "If" || node.op_type == "Loop" || node.outputs.empty()) continue;
    auto [it, fresh] = seen.emplace(node_key(node), n);
    if (fresh) continue;
    const ir::Node& first = g.nodes[size_t(it->second)];
    bool ok = true;
    for (size_t o = 0; o < node.outputs.size(); ++o) ok &= !e.is_output(node.outputs[o]) && (node.outputs[o] < 0) == (first.outputs[o] < 0);
    if (!ok) continue;
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (node.outputs[o] >= 0) e.replace_uses(node.outputs[o], first.outputs[o]);
    e.kill(n);
    st.rewrites[node.op_type]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
