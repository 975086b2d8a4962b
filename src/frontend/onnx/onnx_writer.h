// ir::Model -> ONNX ModelProto bytes: the models pareto writes (quantized
// QDQ files) in the format other engines read. Nodes are written in a
// topological order; constants become initializers.
#pragma once
#include <string>

#include "ir/graph.h"

namespace pareto::onnx {

std::string write_model(const ir::Model& m);
// Writes to `path` (error names the file).
void save_model(const ir::Model& m, const std::string& path);

}  // namespace pareto::onnx
