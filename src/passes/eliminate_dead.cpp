#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

PassStats eliminate_dead(ir::Graph& g, const PassContext&) {
  PassStats st{"eliminate_dead", g.nodes.size(), 0, {}};
  // Repeat: removing a node can orphan its producers.
  for (bool changed = true; changed;) {
    changed = false;
    GraphEdit e(g);
    for (int n = int(g.nodes.size()) - 1; n >= 0; --n) {
      bool used = false;
      for (int v : g.nodes[size_t(n)].outputs) used |= v >= 0 && e.uses(v) > 0;
      if (!used) {
        e.kill(n);
        st.rewrites["dead node"]++;
        changed = true;
      }
    }
    e.commit();
  }
  // Constants nobody reads any more (weights replaced by folded copies) free their memory.
  GraphEdit e(g);
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].constant.defined() && e.uses(int(v)) == 0) {
      g.values[v].constant = Tensor();
      st.rewrites["unused constant released"]++;
    }
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
