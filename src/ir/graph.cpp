#include "ir/graph.h"

#include <algorithm>

#include "core/error.h"

namespace pareto::ir {

const char* attr_kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::f: return "float";
    case AttrKind::i: return "int";
    case AttrKind::s: return "string";
    case AttrKind::t: return "tensor";
    case AttrKind::g: return "graph";
    case AttrKind::floats: return "floats";
    case AttrKind::ints: return "ints";
    case AttrKind::strings: return "strings";
    case AttrKind::tensors: return "tensors";
    case AttrKind::graphs: return "graphs";
    case AttrKind::sparse_tensor: return "sparse_tensor";
    case AttrKind::type_proto: return "type_proto";
    default: return "undefined";
  }
}

bool ValueType::fully_known() const {
  if (!rank_known) return false;
  for (int64_t d : dims)
    if (d < 0) return false;
  return true;
}

void Node::set_attr(Attribute a) {
  for (Attribute& old : attrs)
    if (old.name == a.name) {
      old = std::move(a);
      return;
    }
  attrs.push_back(std::move(a));
}

namespace {
Attribute named(const std::string& name, AttrKind kind) {
  Attribute a;
  a.name = name;
  a.kind = kind;
  return a;
}
}  // namespace

Attribute attr_int(const std::string& name, int64_t v) {
  Attribute a = named(name, AttrKind::i);
  a.i = v;
  return a;
}
Attribute attr_float(const std::string& name, float v) {
  Attribute a = named(name, AttrKind::f);
  a.f = v;
  return a;
}
Attribute attr_string(const std::string& name, const std::string& v) {
  Attribute a = named(name, AttrKind::s);
  a.s = v;
  return a;
}
Attribute attr_ints(const std::string& name, std::vector<int64_t> v) {
  Attribute a = named(name, AttrKind::ints);
  a.ints = std::move(v);
  return a;
}
Attribute attr_floats(const std::string& name, std::vector<float> v) {
  Attribute a = named(name, AttrKind::floats);
  a.floats = std::move(v);
  return a;
}

const Attribute* Node::attr(std::string_view n) const {
  // The length and first letter decide most mismatches without a memcmp call.
  for (const Attribute& a : attrs)
    if (a.name.size() == n.size() && (n.empty() || a.name[0] == n[0]) && std::string_view(a.name) == n) return &a;
  return nullptr;
}

static void check_kind(const Node& node, const Attribute& a, AttrKind want) {
  if (a.kind != want)
    fail_model(node.label() + ": attribute '" + a.name + "' is " + attr_kind_name(a.kind) + ", expected " +
               attr_kind_name(want));
}

int64_t Node::attr_i(std::string_view n, int64_t def) const {
  const Attribute* a = attr(n);
  if (!a) return def;
  check_kind(*this, *a, AttrKind::i);
  return a->i;
}

float Node::attr_f(std::string_view n, float def) const {
  const Attribute* a = attr(n);
  if (!a) return def;
  if (a->kind == AttrKind::i) return float(a->i);
  check_kind(*this, *a, AttrKind::f);
  return a->f;
}

std::string Node::attr_s(std::string_view n, const std::string& def) const {
  const Attribute* a = attr(n);
  if (!a) return def;
  check_kind(*this, *a, AttrKind::s);
  return a->s;
}

std::vector<int64_t> Node::attr_ints(std::string_view n, std::vector<int64_t> def) const {
  const Attribute* a = attr(n);
  if (!a) return def;
  check_kind(*this, *a, AttrKind::ints);
  return a->ints;
}

std::vector<float> Node::attr_floats(std::string_view n, std::vector<float> def) const {
  const Attribute* a = attr(n);
  if (!a) return def;
  check_kind(*this, *a, AttrKind::floats);
  return a->floats;
}

std::string Node::label() const { return op_type + " '" + name + "'"; }

int Graph::find_value(const std::string& n) const {
  auto it = value_by_name.find(n);
  return it == value_by_name.end() ? -1 : it->second;
}

int Graph::add_value(const std::string& n) {
  int id = find_value(n);
  if (id >= 0) return id;
  id = int(values.size());
  values.push_back(Value{});
  values.back().name = n;
  value_by_name[n] = id;
  return id;
}

std::string Graph::unique_name(const std::string& hint) const {
  std::string name = hint;
  for (int k = 1; find_value(name) >= 0; ++k) name = hint + "_" + std::to_string(k);
  return name;
}

int Graph::add_constant(const std::string& hint, Tensor t) {
  const int id = add_value(unique_name(hint));
  Value& v = values[size_t(id)];
  v.type.dtype = t.dtype();
  v.type.rank_known = true;
  v.type.dims = t.shape();
  v.constant = std::move(t);
  return id;
}

std::set<std::string> Graph::outer_names() const {
  std::set<std::string> names;
  for (const Value& v : values)
    if (v.is_outer) names.insert(v.name);
  for (const Node& n : nodes)
    for (const Graph* s : subgraphs(n))
      for (const std::string& name : s->outer_names()) {
        int id = find_value(name);
        if (id < 0 || values[size_t(id)].is_outer) names.insert(name);
      }
  return names;
}

std::vector<int> Graph::implicit_inputs(const Node& n) const {
  std::vector<int> ids;
  for (const Graph* s : subgraphs(n))
    for (const std::string& name : s->outer_names()) {
      int id = find_value(name);
      if (id >= 0) ids.push_back(id);
    }
  return ids;
}

std::vector<int> Graph::topological_order() const {
  // Kahn's algorithm over value producers; stable in file order.
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> consumers(values.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    std::vector<int> reads = nodes[n].inputs;
    std::vector<int> implicit = implicit_inputs(nodes[n]);
    reads.insert(reads.end(), implicit.begin(), implicit.end());
    for (int v : reads) {
      if (v < 0 || values[size_t(v)].producer < 0) continue;
      ++pending[n];
      consumers[size_t(v)].push_back(int(n));
    }
  }
  std::vector<int> order, ready;
  for (size_t n = 0; n < nodes.size(); ++n)
    if (pending[n] == 0) ready.push_back(int(n));
  std::reverse(ready.begin(), ready.end());
  while (!ready.empty()) {
    int n = ready.back();
    ready.pop_back();
    order.push_back(n);
    std::vector<int> next;
    for (int v : nodes[size_t(n)].outputs) {
      if (v < 0) continue;
      for (int c : consumers[size_t(v)])
        if (--pending[size_t(c)] == 0) next.push_back(c);
    }
    std::sort(next.rbegin(), next.rend());
    ready.insert(ready.end(), next.begin(), next.end());
  }
  if (order.size() != nodes.size()) {
    for (size_t n = 0; n < nodes.size(); ++n)
      if (pending[n] > 0)
        fail_model("graph '" + name + "' has a cycle through node " + nodes[n].label());
  }
  return order;
}

int64_t Model::opset() const {
  auto it = opsets.find("");
  if (it != opsets.end()) return it->second;
  it = opsets.find("ai.onnx");
  return it == opsets.end() ? 0 : it->second;
}

std::vector<const Graph*> subgraphs(const Node& n) {
  std::vector<const Graph*> subs;
  for (const Attribute& a : n.attrs) {
    if (a.g) subs.push_back(a.g.get());
    for (const auto& s : a.graphs)
      if (s) subs.push_back(s.get());
  }
  return subs;
}

void for_each_node(const Graph& g, const std::function<void(const Node&, const Graph&)>& fn) {
  for (const Node& n : g.nodes) {
    fn(n, g);
    for (const Graph* s : subgraphs(n)) for_each_node(*s, fn);
  }
}

std::map<std::string, int> op_histogram(const Graph& g) {
  std::map<std::string, int> h;
  for_each_node(g, [&](const Node& n, const Graph&) { ++h[n.op_type]; });
  return h;
}

int64_t parameter_count(const Graph& g) {
  int64_t count = 0;
  for (const Value& v : g.values)
    if (v.constant.defined() && v.producer < 0 && dtype_is_float(v.constant.dtype())) count += v.constant.numel();
  for_each_node(g, [&](const Node& n, const Graph&) {
    if (n.op_type == "Constant")
      for (const Attribute& a : n.attrs)
        if (a.kind == AttrKind::t && dtype_is_float(a.t.dtype())) count += a.t.numel();
  });
  // initializers of subgraphs
  for_each_node(g, [&](const Node& n, const Graph&) {
    for (const Graph* sg : subgraphs(n))
      for (const Value& v : sg->values)
        if (v.constant.defined() && v.producer < 0 && dtype_is_float(v.constant.dtype())) count += v.constant.numel();
  });
  return count;
}

}  // namespace pareto::ir
