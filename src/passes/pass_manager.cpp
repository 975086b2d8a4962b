#include "passes/passes.h"

namespace pareto::passes {

CompileResult optimize_graph(ir::Graph& g, const PassContext& ctx) {
  CompileResult r;
  // QDQ convs first: constant folding would dequantize their weights.
  r.passes.push_back(fold_qdq(g, ctx));
  // Cleanup first (folding exposes dead nodes and identities), then the
  // algebraic folds that must see plain Conv nodes, re-parameterization
  // (needs folded BatchNorms), then fusion, and a last sweep.
  r.passes.push_back(fold_constants(g, ctx));
  // Inlining a branch can make more conditions constant: fold and inline to a fixed point.
  for (int round = 0; round < 16; ++round) {
    PassStats s = inline_constant_ifs(g, ctx);
    if (s.rewrites.empty()) break;
    r.passes.push_back(s);
    r.passes.push_back(fold_constants(g, ctx));
  }
  r.passes.push_back(eliminate_identity(g, ctx));
  r.passes.push_back(eliminate_common(g, ctx));
  r.passes.push_back(eliminate_dead(g, ctx));
  r.passes.push_back(fold_conv_affine(g, ctx));
  r.passes.push_back(reparameterize_branches(g, ctx));
  r.passes.push_back(fuse_norms(g, ctx));
  r.passes.push_back(fuse_matmul_add(g, ctx));
  r.passes.push_back(fuse_activation(g, ctx));
  r.passes.push_back(eliminate_dead(g, ctx));
  r.passes.push_back(choose_layouts(g, ctx));
  return r;
}

}  // namespace pareto::passes
