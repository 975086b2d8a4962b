#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

// Identity, Dropout in inference (its mask output unused) and Cast to the
// type the value already has forward their input. A node whose output is a
// graph output stays (the output keeps its name).
PassStats eliminate_identity(ir::Graph& g, const PassContext&) {
  PassStats st{"eliminate_identity", g.nodes.size(), 0, {}};
  GraphEdit e(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.empty() || node.outputs[0] < 0) continue;
    const int in = node.inputs[0], out = node.outputs[0];
    bool forward = node.op_type == "Identity";
    if (node.op_type == "Dropout") forward = node.outputs.size() < 2 || node.outputs[1] < 0 || e.uses(node.outputs[1]) == 0;
    if (node.op_type == "Cast") {
      const DType from = g.values[size_t(in)].type.dtype;
      forward = from != DType::undefined && int64_t(from) == node.attr_i("to", -1);
    }
    if (!forward || e.is_output(out) || !node.domain.empty()) continue;
    e.replace_uses(out, in);
    e.kill(int(n));
    st.rewrites[node.op_type]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
