#include "ir/printer.h"

#include <sstream>

namespace pareto::ir {

std::string type_to_string(const ValueType& t) {
  std::string s = dtype_name(t.dtype);
  if (!t.rank_known) return s + "[...]";
  s += "[";
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (i) s += ",";
    if (t.dims[i] >= 0) s += std::to_string(t.dims[i]);
    else if (i < t.dim_params.size() && !t.dim_params[i].empty()) s += t.dim_params[i];
    else s += "?";
  }
  return s + "]";
}

namespace {

std::string attr_value(const Attribute& a, int indent) {
  std::ostringstream o;
  auto list = [&](const auto& v) {
    o << "[";
    for (size_t i = 0; i < v.size() && i < 16; ++i) o << (i ? "," : "") << v[i];
    if (v.size() > 16) o << ",...";
    o << "]";
  };
  switch (a.kind) {
    case AttrKind::f: o << a.f; break;
    case AttrKind::i: o << a.i; break;
    case AttrKind::s: o << '"' << a.s << '"'; break;
    case AttrKind::t: o << "tensor " << dtype_name(a.t.dtype()) << shape_to_string(a.t.shape()); break;
    case AttrKind::floats: list(a.floats); break;
    case AttrKind::ints: list(a.ints); break;
    case AttrKind::strings: {
      std::vector<std::string> q;
      for (const auto& s : a.strings) q.push_back('"' + s + '"');
      list(q);
      break;
    }
    case AttrKind::g: o << "\n" << print_graph(*a.g, nullptr, indent + 4); break;
    case AttrKind::graphs: o << a.graphs.size() << " graphs"; break;
    default: o << "<" << attr_kind_name(a.kind) << ">";
  }
  return o.str();
}

}  // namespace

std::string print_graph(const Graph& g, const std::vector<ValueType>* types, int indent) {
  std::ostringstream o;
  std::string pad(size_t(indent), ' ');
  auto type_of = [&](int v) -> const ValueType& { return types ? (*types)[size_t(v)] : g.values[size_t(v)].type; };
  auto name = [&](int v) { return v < 0 ? std::string("_") : "%" + g.values[size_t(v)].name; };
  o << pad << "graph " << (g.name.empty() ? "main" : g.name) << " (";
  for (size_t i = 0; i < g.inputs.size(); ++i)
    o << (i ? ", " : "") << name(g.inputs[i]) << ": " << type_to_string(type_of(g.inputs[i]));
  o << ") {\n";
  int constants = 0;
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].constant.defined()) ++constants;
  if (constants) o << pad << "  # " << constants << " constants\n";
  for (int n : g.topological_order()) {
    const Node& node = g.nodes[size_t(n)];
    o << pad << "  ";
    for (size_t i = 0; i < node.outputs.size(); ++i) o << (i ? ", " : "") << name(node.outputs[i]);
    o << " = " << node.op_type << "(";
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int v = node.inputs[i];
      o << (i ? ", " : "") << name(v);
      if (v >= 0 && g.values[size_t(v)].constant.defined()) {
        const Tensor& t = g.values[size_t(v)].constant;
        o << ":const" << shape_to_string(t.shape());
        if (t.numel() <= 4 && t.numel() > 0) {
          o << "{";
          for (int64_t k = 0; k < t.numel(); ++k) o << (k ? "," : "") << t.as_double(k);
          o << "}";
        }
      }
    }
    o << ")";
    if (!node.attrs.empty()) {
      o << " {";
      for (size_t i = 0; i < node.attrs.size(); ++i)
        o << (i ? ", " : "") << node.attrs[i].name << "=" << attr_value(node.attrs[i], indent + 2);
      o << "}";
    }
    o << "  # ";
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (node.outputs[i] >= 0) o << (i ? ", " : "") << type_to_string(type_of(node.outputs[i]));
    if (!node.name.empty()) o << "  '" << node.name << "'";
    o << "\n";
  }
  o << pad << "  return ";
  for (size_t i = 0; i < g.outputs.size(); ++i) o << (i ? ", " : "") << name(g.outputs[i]);
  o << "\n" << pad << "}";
  if (indent == 0) o << "\n";
  return o.str();
}

}  // namespace pareto::ir
