// The graph compiler: rewrite passes over the IR, each in its own file, and
// the pipeline that runs them (pass_manager.cpp). Every pass keeps outputs
// equal to within float rounding (tests compare the real models before and
// after at 1e-5 relative).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pareto::passes {

struct PassContext {
  int64_t opset = 0;
  std::map<std::string, Shape> bound_shapes;  // input shapes to specialize for (may be empty)
  std::string conv_precision;                 // "bf16" / "f16": convs compute in bf16 / f16 (assign_precision); empty / "fp32": f32
  std::vector<std::string> keep_float;        // conv nodes assign_precision leaves in f32
  std::vector<std::string> only_nodes;        // when not empty: the only nodes assign_precision marks
  bool prepack = false;                       // prepack_weights runs (for artifacts: pareto compile)
};

struct PassStats {
  std::string pass;
  size_t nodes_before = 0, nodes_after = 0;
  std::map<std::string, int> rewrites;  // pattern -> count
};

// Each returns what it rewrote; the graph is committed (no dead nodes left).
PassStats fold_qdq(ir::Graph& g, const PassContext& ctx);             // QDQ convs -> int8 Conv (x_scale, x_zero_point, w_scales)
PassStats fold_constants(ir::Graph& g, const PassContext& ctx);       // all-constant nodes and statically known values
PassStats fold_qdq_lookup(ir::Graph& g, const PassContext& ctx);      // DequantizeLinear + elementwise ops [+ QuantizeLinear] -> QLookup
PassStats eliminate_identity(ir::Graph& g, const PassContext& ctx);   // Identity, inference Dropout, no-op Cast
PassStats eliminate_dead(ir::Graph& g, const PassContext& ctx);       // nodes whose outputs nobody reads
PassStats eliminate_common(ir::Graph& g, const PassContext& ctx);     // identical nodes on identical inputs
PassStats fold_conv_affine(ir::Graph& g, const PassContext& ctx);     // BatchNorm, Mul/Add/Sub/Div by constants into Conv / ConvTranspose / Gemm
PassStats reparameterize_branches(ir::Graph& g, const PassContext& ctx);  // RepVGG / MobileOne: summed conv branches -> one conv
PassStats fuse_activation(ir::Graph& g, const PassContext& ctx);      // Conv [+ residual Add] + activation -> FusedConv; HardSwish/SiLU chains
PassStats fuse_quantize(ir::Graph& g, const PassContext& ctx);        // float depthwise conv read only by int8 convs -> writes their uint8 input
PassStats fuse_upsample(ir::Graph& g, const PassContext& ctx);        // a + a*gate + nearest-upsample(b) -> FusedAdd; Concat of upsamples -> FusedConcat
PassStats fuse_conv_transpose_pair(ir::Graph& g, const PassContext& ctx);  // two 2x2 stride-2 (Fused)ConvTransposes -> FusedConvTransposePair
PassStats fuse_squeeze_excite(ir::Graph& g, const PassContext& ctx);  // GlobalAveragePool + 2 one-pixel convs + Mul -> FusedSqueezeExcite
PassStats fuse_matmul_add(ir::Graph& g, const PassContext& ctx);      // MatMul + Add(bias) -> Gemm
PassStats inline_constant_ifs(ir::Graph& g, const PassContext& ctx);  // If on a constant condition -> the branch's nodes
PassStats fuse_norms(ir::Graph& g, const PassContext& ctx);           // LayerNorm / RMSNorm / GELU primitive chains -> one op
PassStats assign_precision(ir::Graph& g, const PassContext& ctx);     // conv_precision "bf16" / "f16": compute= on the float convs
PassStats choose_layouts(ir::Graph& g, const PassContext& ctx);       // slot for per-conv NCHW / blocked layout
PassStats prepack_weights(ir::Graph& g, const PassContext& ctx);      // prepack: conv weights in the kernel's packed form (input 4)

struct CompileResult {
  std::vector<PassStats> passes;
};

// The default pipeline, to a fixed point where it matters.
CompileResult optimize_graph(ir::Graph& g, const PassContext& ctx);

// Only what keeps the graph plain ONNX (constant folding, If inlining,
// identity / common / dead node removal): for a graph specialized to
// constant inputs and then written back as ONNX.
CompileResult specialize_graph(ir::Graph& g, const PassContext& ctx);

// A model input becomes a constant (it leaves the input list).
void bind_constant_input(ir::Graph& g, const std::string& name, const Tensor& value);

}  // namespace pareto::passes
