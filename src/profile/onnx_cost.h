// Analytic cost of one ONNX (or pareto-fused) node from the tensors it read
// and wrote at run time (shapes, types, addresses). docs/PROFILE.md lists
// what each op kind counts.
#pragma once
#include "ir/graph.h"
#include "profile/cost.h"
#include "runtime/executor.h"

namespace pareto::profile {

// `path` is the kernel the op reported (runtime::ProfileRecord::path; empty
// when it has one kernel): a Winograd conv is counted as the Winograd
// products and transforms it ran, an int8 node that fell back to float as float.
OpCost count_onnx_node(const ir::Node& node, const std::vector<runtime::TensorUse>& inputs,
                       const std::vector<runtime::TensorUse>& outputs, const std::string& path = "");

}  // namespace pareto::profile
