// Analytic cost of one ONNX (or pareto-fused) node from the tensors it read
// and wrote at run time (shapes, types, addresses). docs/PROFILE.md lists
// what each op kind counts.
#pragma once
#include "ir/graph.h"
#include "profile/cost.h"
#include "runtime/executor.h"

namespace pareto::profile {

OpCost count_onnx_node(const ir::Node& node, const std::vector<runtime::TensorUse>& inputs,
                       const std::vector<runtime::TensorUse>& outputs);

}  // namespace pareto::profile
