// Rewrites a model to ONNX opset 13 (the first with per-axis
// DequantizeLinear, which per-channel int8 weights need): the operators whose
// attributes became inputs get constant inputs, and defaults that changed
// are written out. Operators whose meaning changed in ways a local rewrite
// cannot express are refused by name.
#pragma once
#include "ir/graph.h"

namespace pareto::onnx {

// No-op at opset >= 13. Throws (unsupported, naming the node) otherwise when
// some node cannot be carried over.
void upgrade_to_opset13(ir::Model& m);

}  // namespace pareto::onnx
