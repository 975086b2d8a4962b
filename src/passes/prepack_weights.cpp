// Weights packed at compile time, for compiled artifacts: each float conv
// with constant weights and static shapes that runs the tiled GEMM or
// Winograd on this machine gets its weights in that kernel's packed form as
// a constant at input 4 (attributes prepacked = "gemm" | "winograd" and
// prepacked_level = the kernel level), so a loaded artifact runs its first
// inference without packing, and reads the packed weights from the mapped
// file instead of a heap copy. The plain weights stay (input 1): a machine
// with another kernel level, or PARETO_WINOGRAD=0, packs them at run time
// as before. Runs only when PassContext::prepack is set (pareto compile).
#include <algorithm>

#include "kernels/bf16_conv.h"
#include "kernels/f16_conv.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "passes/passes.h"
#include "runtime/ops/conv_params.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {

bool static_shape(const ir::ValueType& t) {
  if (!t.rank_known) return false;
  for (int64_t d : t.dims)
    if (d < 0) return false;
  return true;
}

}  // namespace

PassStats prepack_weights(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"prepack_weights", g.nodes.size(), g.nodes.size(), {}};
  if (!ctx.prepack) return st;
  const int64_t level = int64_t(kernels::kernel_table().level);
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    ir::Node& n = g.nodes[ni];
    if ((n.op_type != "Conv" && n.op_type != "FusedConv") || (!n.domain.empty() && n.domain != "pareto")) continue;
    if (ir::int8_compute(n) || n.has_attr("prepacked") || n.inputs.size() < 2 || n.inputs[0] < 0 || n.inputs[1] < 0) continue;
    const ir::ValueType& x = info.types[size_t(n.inputs[0])];
    const ir::Value& w = g.values[size_t(n.inputs[1])];
    if (!w.constant.defined() || w.constant.dtype() != DType::f32 || !static_shape(x) || x.dtype != DType::f32) continue;
    kernels::ConvParams p;
    try {
      p = runtime::conv_params_of(n, x.dims, w.constant.shape());
    } catch (const Error&) {
      continue;  // the run reports it
    }
    if (!kernels::f32_conv_uses_packed_weights(p)) continue;
    if (n.attr_s("compute", "") == "bf16" && kernels::bf16_conv_preferred(p) && kernels::bf16_conv_available()) continue;  // the bf16 kernel packs its own
    // The f16 kernel packs its own too (its rare f32 fallback packs when it runs).
    if (n.attr_s("compute", "") == "f16" && kernels::f16_conv_preferred(p) && kernels::f16_conv_available()) continue;
    const bool winograd = kernels::winograd_applicable(p);
    Tensor packed;
    if (winograd) {
      packed = Tensor::empty(DType::f32, {int64_t(kernels::winograd_weights_floats(p))});
      kernels::winograd_transform_weights(p, w.constant.data<float>(), packed.data<float>());
    } else {
      kernels::GemmArgs a;
      a.m = p.c_out;
      a.k = p.c_in * p.kh * p.kw;
      a.a = w.constant.data<float>();
      a.lda = a.k;
      packed = Tensor::empty(DType::f32, {int64_t(kernels::f32_gemm_packed_a_floats(a.m, a.k))});
      kernels::f32_gemm_pack_a(a, packed.data<float>());
    }
    const int id = g.add_constant(w.name + "_packed", std::move(packed));
    ir::Node& node = g.nodes[ni];  // add_constant may have grown the value table, not the nodes
    node.inputs.resize(5, -1);
    node.inputs[4] = id;
    node.set_attr(ir::attr_string("prepacked", winograd ? "winograd" : "gemm"));
    node.set_attr(ir::attr_int("prepacked_level", level));
    st.rewrites[winograd ? "conv weights -> Winograd form" : "conv weights -> packed GEMM form"]++;
  }
  return st;
}

}  // namespace pareto::passes
