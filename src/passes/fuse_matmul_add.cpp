#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

// MatMul(A [M, K], B constant [K, N]) followed by Add(bias constant [N])
// becomes Gemm(A, B, bias): one kernel call, the bias added in its epilogue.
PassStats fuse_matmul_add(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fuse_matmul_add", g.nodes.size(), 0, {}};
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& mm = g.nodes[n];
    // Absent inputs and outputs (-1) appear in hostile graphs: nothing to fuse then.
    // An int8 MatMul (fold_qdq's x_scale) has no Gemm form.
    if (mm.op_type != "MatMul" || !mm.domain.empty() || mm.inputs.size() != 2 || mm.outputs.empty() || mm.inputs[0] < 0 ||
        mm.inputs[1] < 0 || mm.outputs[0] < 0 || mm.has_attr("x_scale"))
      continue;
    const ir::ValueType& ta = info.types[size_t(mm.inputs[0])];
    const Tensor* b = e.constant(mm.inputs[1]);
    if (!ta.rank_known || ta.dims.size() != 2 || !b || b->rank() != 2 || b->dtype() != DType::f32) continue;
    const int c = e.only_consumer(mm.outputs[0]);
    if (c < 0 || e.dead(c)) continue;
    ir::Node& add = g.nodes[size_t(c)];
    if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2 || add.outputs.empty() || add.outputs[0] < 0) continue;
    const int other = add.inputs[0] == mm.outputs[0] ? add.inputs[1] : add.inputs[0];
    if (other < 0) continue;
    const Tensor* bias = e.constant(other);
    std::vector<float> bv;
    if (!bias || bias->numel() != b->dim(1) || !per_channel(*bias, b->dim(1), 2, &bv)) continue;
    mm.op_type = "Gemm";
    mm.inputs.push_back(e.add_constant(g.values[size_t(other)].name + "_gemm_bias", Tensor::from_vector(bv, {b->dim(1)})));
    mm.outputs[0] = add.outputs[0];
    e.kill(c);
    st.rewrites["MatMul + Add"]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
