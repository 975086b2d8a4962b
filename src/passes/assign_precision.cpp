// Per-layer compute precision for CNNs: with PassContext::conv_precision
// "bf16" (or "f16"), every float conv that is not depthwise (a direct kernel that
// moves data rather than multiplies) and every MatMul by a constant 2-D B
// gets attribute compute="bf16" (MatMuls: bf16 only; "f16": the convs get
// compute="f16", kernels/f16_conv.h), except the nodes named in keep_float
// (and, when only_nodes is given, every node it does not name). The kernel still picks f32 Winograd for
// the 3x3 convs it serves (fewer multiplies win over faster ones); the
// attribute travels in the compiled artifact.
#include <algorithm>

#include "pareto/error.h"
#include "passes/passes.h"

namespace pareto::passes {

namespace {

bool depthwise(const ir::Graph& g, const ir::Node& n) {
  const int64_t group = n.attr_i("group", 1);
  if (group == 1) return false;
  if (n.inputs.size() < 2 || n.inputs[1] < 0) return true;
  const ir::Value& w = g.values[size_t(n.inputs[1])];
  // Weights [c_out, c_in/group, kh, kw]: one input channel per group.
  return !w.type.rank_known || w.type.dims.size() < 2 || w.type.dims[1] == 1;
}

}  // namespace

PassStats assign_precision(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"assign_precision", g.nodes.size(), g.nodes.size(), {}};
  if (ctx.conv_precision.empty() || ctx.conv_precision == "fp32") return st;
  const std::string& precision = ctx.conv_precision;
  if (precision != "bf16" && precision != "f16") fail_argument("conv precision '" + precision + "' (fp32, bf16 or f16)");
  auto named = [](const std::vector<std::string>& list, const std::string& name) { return std::find(list.begin(), list.end(), name) != list.end(); };
  for (ir::Node& n : g.nodes) {
    if (!ctx.only_nodes.empty() && !named(ctx.only_nodes, n.name)) continue;
    if (precision == "bf16" && n.op_type == "MatMul" && n.domain.empty() && n.inputs.size() == 2 && n.inputs[1] >= 0 && !n.has_attr("x_scale")) {
      // By a constant 2-D B (a projection or classifier head): the bf16 conv kernel runs it.
      const ir::Value& b = g.values[size_t(n.inputs[1])];
      if (!b.constant.defined() || b.constant.rank() != 2 || b.constant.dtype() != DType::f32) continue;
      if (named(ctx.keep_float, n.name)) {
        st.rewrites["matmul kept fp32 (named)"]++;
        continue;
      }
      n.set_attr(ir::attr_string("compute", "bf16"));
      st.rewrites["matmul -> bf16 compute"]++;
      continue;
    }
    if ((n.op_type != "Conv" && n.op_type != "FusedConv") || (!n.domain.empty() && n.domain != "pareto")) continue;
    if (ir::int8_compute(n)) continue;  // int8 already
    const bool kept = named(ctx.keep_float, n.name);
    if (kept) st.rewrites["conv kept fp32 (named)"]++;
    else if (depthwise(g, n)) st.rewrites["depthwise conv kept fp32"]++;
    else {
      n.set_attr(ir::attr_string("compute", precision));
      st.rewrites["conv -> " + precision + " compute"]++;
    }
  }
  return st;
}

}  // namespace pareto::passes
