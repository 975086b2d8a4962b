// The in-memory graph: values (SSA edges), nodes and attributes. Subgraphs
// (If/Loop bodies) are Graphs owned by attributes; names they use that they
// do not define resolve in the enclosing graph at run time.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace pareto::ir {

struct Graph;

enum class AttrKind { undefined, f, i, s, t, g, floats, ints, strings, tensors, graphs, sparse_tensor, type_proto };
const char* attr_kind_name(AttrKind k);

struct Attribute {
  std::string name;
  AttrKind kind = AttrKind::undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
};

// Static type of a value. dims[i] < 0 means unknown; dim_params keeps the
// symbolic name from the model (e.g. "batch") for printing.
struct ValueType {
  DType dtype = DType::undefined;
  bool rank_known = false;
  Shape dims;
  std::vector<std::string> dim_params;
  bool non_tensor = false;  // sequence, map or optional: not supported yet
  bool fully_known() const;
};

struct Value {
  std::string name;
  ValueType type;
  Tensor constant;     // set for initializers and folded constants
  int producer = -1;   // node index, -1 for inputs/initializers/outer refs
  bool is_outer = false;  // defined by an enclosing graph
  // Quantization a TFLite file declares for the tensor (empty: none): what
  // callers need to read integer inputs and outputs; kernels take theirs
  // from node attributes.
  std::vector<float> quant_scale;
  std::vector<int64_t> quant_zero;
  int64_t quant_axis = 0;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;
  std::vector<int> inputs;   // value ids, -1 for an omitted optional input
  std::vector<int> outputs;  // value ids, -1 for an omitted optional output
  std::vector<Attribute> attrs;

  // Looked up by name on every run of an op (a conv reads about 25): names
  // as string_view, so a literal builds no std::string.
  const Attribute* attr(std::string_view name) const;
  bool has_attr(std::string_view name) const { return attr(name) != nullptr; }
  int64_t attr_i(std::string_view name, int64_t def) const;
  float attr_f(std::string_view name, float def) const;
  std::string attr_s(std::string_view name, const std::string& def) const;
  std::vector<int64_t> attr_ints(std::string_view name, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(std::string_view name, std::vector<float> def = {}) const;
  // Replaces the attribute of the same name, or adds it.
  void set_attr(Attribute a);
  // "Conv 'conv1'" for error messages.
  std::string label() const;
};

// A Conv or MatMul that fold_qdq set to run on int8 kernels: with a static
// input range (x_scale, x_zero_point) or one found from each run's input
// (x_dynamic, from a DynamicQuantizeLinear).
inline bool int8_compute(const Node& n) { return n.has_attr("x_scale") || n.attr_i("x_dynamic", 0) != 0; }

// Attributes in one expression, for the passes and rewrites that add them.
Attribute attr_int(const std::string& name, int64_t v);
Attribute attr_float(const std::string& name, float v);
Attribute attr_string(const std::string& name, const std::string& v);
Attribute attr_ints(const std::string& name, std::vector<int64_t> v);
Attribute attr_floats(const std::string& name, std::vector<float> v);

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs;   // graph inputs that are not initializers
  std::vector<int> outputs;
  std::unordered_map<std::string, int> value_by_name;

  int find_value(const std::string& name) const;
  int add_value(const std::string& name);
  // A name no value has yet: hint, else hint_1, hint_2 ...
  std::string unique_name(const std::string& hint) const;
  // A new constant value (typed from t) named from hint, made unique.
  int add_constant(const std::string& hint, Tensor t);
  // Names this graph reads from enclosing scopes (its own and its subgraphs').
  std::set<std::string> outer_names() const;
  // Values of this graph that a node's subgraphs read implicitly.
  std::vector<int> implicit_inputs(const Node& n) const;
  // Node indices in an order where producers come before consumers
  // (implicit subgraph reads included);
  // throws naming a node on a cycle.
  std::vector<int> topological_order() const;
};

struct Model {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  std::string producer;
  std::string path;
  std::shared_ptr<Graph> graph;
  int64_t opset() const;
};

// The body graphs a node carries in its attributes (If branches, Loop body).
std::vector<const Graph*> subgraphs(const Node& n);
// Counts nodes per op type, including nodes inside subgraphs.
std::map<std::string, int> op_histogram(const Graph& g);
// Sum of elements in initializers and large constants (parameters).
int64_t parameter_count(const Graph& g);
// Visits every node in g and its subgraphs.
void for_each_node(const Graph& g, const std::function<void(const Node&, const Graph&)>& fn);

}  // namespace pareto::ir
