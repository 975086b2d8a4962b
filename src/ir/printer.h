// The printable text form of a graph (`pareto info --graph`).
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pareto::ir {

std::string type_to_string(const ValueType& t);
// `types` (optional) overrides value types, e.g. with statically inferred shapes.
std::string print_graph(const Graph& g, const std::vector<ValueType>* types = nullptr, int indent = 0);

}  // namespace pareto::ir
