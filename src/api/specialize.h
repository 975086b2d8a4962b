// An ONNX model with some inputs bound to constants and the graph
// specialized on them (folded, constant Ifs inlined): what `pareto quantize
// --const` and `pareto tune --const` work on (silero VAD's convs live in If
// branches until sr is bound).
#pragma once
#include <map>
#include <string>

#include "frontend/onnx/onnx_loader.h"
#include "passes/passes.h"
#include "pareto/pareto.hpp"

namespace pareto::api {

inline ir::Model load_specialized(const std::string& path, const std::map<std::string, Tensor>& constants) {
  ir::Model model = onnx::load_model(path);
  if (constants.empty()) return model;
  for (const auto& [name, value] : constants) passes::bind_constant_input(*model.graph, name, value);
  passes::PassContext pc;
  pc.opset = model.opset();
  passes::specialize_graph(*model.graph, pc);
  return model;
}

}  // namespace pareto::api
