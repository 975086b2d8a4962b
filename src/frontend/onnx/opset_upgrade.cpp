#include "frontend/onnx/opset_upgrade.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace pareto::onnx {

namespace {

void drop_attr(ir::Node& n, const std::string& name) {
  n.attrs.erase(std::remove_if(n.attrs.begin(), n.attrs.end(), [&](const ir::Attribute& a) { return a.name == name; }), n.attrs.end());
}

Tensor int64s(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>(v, {int64_t(v.size())}); }

// Attribute `attr` (a list of ints) becomes input `index` (absent inputs
// before it are left empty).
void attr_to_input(ir::Graph& g, ir::Node& n, const std::string& attr, size_t index) {
  if (!n.has_attr(attr)) return;
  const int id = g.add_constant(n.name + "_" + attr, int64s(n.attr_ints(attr)));
  drop_attr(n, attr);
  if (n.inputs.size() < index + 1) n.inputs.resize(index + 1, -1);
  n.inputs[index] = id;
}

int rank_of(const ir::Graph& g, int value) {
  const ir::Value& v = g.values[size_t(value)];
  return v.type.rank_known ? int(v.type.dims.size()) : -1;
}

void upgrade_node(ir::Graph& g, ir::Node& n, int64_t from) {
  auto refuse = [&](const std::string& why) { fail_unsupported("opset " + std::to_string(from) + " -> 13: " + n.label() + ": " + why); };
  const std::string& op = n.op_type;
  if (op == "Clip" && (n.has_attr("min") || n.has_attr("max"))) {  // opset < 11: bounds were attributes
    // The bound inputs take the data's type: float only here.
    if (n.inputs.empty() || n.inputs[0] < 0) refuse("no data input");
    const ir::Value& x = g.values[size_t(n.inputs[0])];
    if (x.type.dtype != DType::f32 && x.type.dtype != DType::undefined) refuse("Clip on " + std::string(dtype_name(x.type.dtype)));
    const float lo = n.attr_f("min", std::numeric_limits<float>::lowest()), hi = n.attr_f("max", std::numeric_limits<float>::max());
    drop_attr(n, "min");
    drop_attr(n, "max");
    n.inputs.resize(3, -1);
    n.inputs[1] = g.add_constant(n.name + "_min", Tensor::scalar<float>(lo));
    n.inputs[2] = g.add_constant(n.name + "_max", Tensor::scalar<float>(hi));
  } else if (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") {
    attr_to_input(g, n, "axes", 1);
  } else if (op == "Split") {
    attr_to_input(g, n, "split", 1);
  } else if (op == "Slice" && n.has_attr("starts")) {  // opset < 10
    attr_to_input(g, n, "starts", 1);
    attr_to_input(g, n, "ends", 2);
    attr_to_input(g, n, "axes", 3);
  } else if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
    // Before 13 the input was flattened to 2-D at `axis` (default 1); from 13
    // the op runs along `axis` (default -1). The same only for the last axis.
    const int rank = n.inputs.empty() ? -1 : rank_of(g, n.inputs[0]);
    int64_t axis = n.attr_i("axis", 1);
    if (rank < 0) refuse("input rank unknown");
    if (axis < 0) axis += rank;
    if (axis != rank - 1) refuse("axis " + std::to_string(axis) + " is not the last axis");
    n.set_attr(ir::attr_int("axis", -1));
  } else if (op == "Upsample" || op == "Scatter" || (op == "Pad" && from < 11) || (op == "TopK" && from < 10) ||
             (op == "Resize" && from < 11) || (op == "BatchNormalization" && from < 9) || op == "MaxUnpool") {
    refuse("no rewrite for this operator");
  }
}

void upgrade_graph(ir::Graph& g, int64_t from) {
  for (ir::Node& n : g.nodes) {
    if (!n.domain.empty() && n.domain != "ai.onnx") continue;
    for (ir::Attribute& a : n.attrs) {
      if (a.g) upgrade_graph(*a.g, from);
      for (auto& sub : a.graphs) upgrade_graph(*sub, from);
    }
    upgrade_node(g, n, from);
  }
}

}  // namespace

void upgrade_to_opset13(ir::Model& m) {
  const int64_t from = m.opset();
  if (from >= 13) return;
  upgrade_graph(*m.graph, from);
  m.opsets[""] = 13;
  if (m.ir_version < 7) m.ir_version = 7;
}

}  // namespace pareto::onnx
