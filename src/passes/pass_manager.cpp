#include <algorithm>

#include "pareto/error.h"
#include "passes/passes.h"

namespace pareto::passes {

void bind_constant_input(ir::Graph& g, const std::string& name, const Tensor& value) {
  const int v = g.find_value(name);
  auto it = std::find(g.inputs.begin(), g.inputs.end(), v);
  if (v < 0 || it == g.inputs.end()) fail_argument("constant input '" + name + "' is not a model input");
  g.values[size_t(v)].constant = value;
  g.inputs.erase(it);
}

// Folding first (it exposes dead nodes and identities), then If inlining:
// a branch inlined can make more conditions constant, so fold and inline
// to a fixed point.
static void specialize_into(ir::Graph& g, const PassContext& ctx, CompileResult& r) {
  r.passes.push_back(fold_constants(g, ctx));
  for (int round = 0; round < 16; ++round) {
    PassStats s = inline_constant_ifs(g, ctx);
    if (s.rewrites.empty()) break;
    r.passes.push_back(s);
    r.passes.push_back(fold_constants(g, ctx));
  }
  r.passes.push_back(eliminate_identity(g, ctx));
  r.passes.push_back(eliminate_common(g, ctx));
  r.passes.push_back(eliminate_dead(g, ctx));
}

CompileResult specialize_graph(ir::Graph& g, const PassContext& ctx) {
  CompileResult r;
  specialize_into(g, ctx, r);
  return r;
}

CompileResult optimize_graph(ir::Graph& g, const PassContext& ctx) {
  CompileResult r;
  // QDQ convs first: constant folding would dequantize their weights.
  r.passes.push_back(fold_qdq(g, ctx));
  specialize_into(g, ctx, r);
  // The float ops between a DequantizeLinear and their readers as byte
  // tables (their constants are folded now; fold_qdq has chosen the convs
  // that round their input to uint8, which may then read the table's bytes).
  r.passes.push_back(fold_qdq_lookup(g, ctx));
  // Then the algebraic folds that must see plain Conv nodes,
  // re-parameterization (needs folded BatchNorms), fusion, a last sweep.
  r.passes.push_back(fold_conv_affine(g, ctx));
  r.passes.push_back(reparameterize_branches(g, ctx));
  r.passes.push_back(fuse_norms(g, ctx));
  r.passes.push_back(fuse_matmul_add(g, ctx));
  r.passes.push_back(fuse_activation(g, ctx));
  r.passes.push_back(fuse_conv_transpose_pair(g, ctx));  // after: each conv's own activation is in it
  r.passes.push_back(fuse_upsample(g, ctx));  // after: a residual Add the conv takes is not one to fuse here
  r.passes.push_back(eliminate_dead(g, ctx));
  r.passes.push_back(assign_precision(g, ctx));
  // After fuse_upsample (a gated residual is its FusedAdd) and after the
  // precision is assigned (a conv given bf16 stays a conv).
  r.passes.push_back(fuse_squeeze_excite(g, ctx));
  r.passes.push_back(fuse_quantize(g, ctx));  // after: a conv assigned bf16 does not round its output
  r.passes.push_back(choose_layouts(g, ctx));
  r.passes.push_back(prepack_weights(g, ctx));
  return r;
}

}  // namespace pareto::passes
