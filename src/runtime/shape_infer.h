// Best-effort static shape inference: propagates dtypes and shapes from the
// declared (or caller-bound) input shapes, evaluating small all-constant
// nodes so Shape -> Gather -> Concat -> Reshape chains resolve.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pareto::runtime {

struct StaticInfo {
  std::vector<ir::ValueType> types;  // per value id
  std::vector<Tensor> values;        // per value id, where known
};

StaticInfo infer_static(const ir::Graph& g, int64_t opset, const std::map<std::string, Shape>& bound_inputs);

}  // namespace pareto::runtime
