#include "frontend/onnx/onnx_writer.h"

#include <fstream>

#include "core/error.h"
#include "frontend/onnx/proto_writer.h"

namespace pareto::onnx {

namespace {

// ONNX TensorProto.DataType codes are pareto's DType values.
int64_t elem_type(DType t) { return int64_t(t); }

ProtoWriter tensor_proto(const Tensor& t, const std::string& name) {
  if (t.dtype() == DType::string) fail_unsupported("writing string tensor '" + name + "' to ONNX");
  ProtoWriter w;
  for (int64_t d : t.shape()) w.i(1, d);
  w.i(2, elem_type(t.dtype()));
  if (!name.empty()) w.s(8, name);
  w.s(9, t.raw(), size_t(t.numel()) * dtype_size(t.dtype()));
  return w;
}

ProtoWriter value_info(const ir::Value& v) {
  // An unknown type (subgraph outputs often declare none; main graph inputs
  // and outputs always have one after loading) is left out: element type 0
  // is not a valid ONNX type.
  if (v.type.dtype == DType::undefined) return ProtoWriter().s(1, v.name);
  ProtoWriter tensor_type;
  tensor_type.i(1, elem_type(v.type.dtype));
  if (v.type.rank_known) {
    ProtoWriter shape;
    for (size_t i = 0; i < v.type.dims.size(); ++i) {
      ProtoWriter dim;
      const std::string param = i < v.type.dim_params.size() ? v.type.dim_params[i] : "";
      if (!param.empty()) dim.s(2, param);
      else if (v.type.dims[i] >= 0) dim.i(1, v.type.dims[i]);
      shape.m(1, dim);
    }
    tensor_type.m(2, shape);
  }
  return ProtoWriter().s(1, v.name).m(2, ProtoWriter().m(1, tensor_type));
}

ProtoWriter graph_proto(const ir::Graph& g);

ProtoWriter attribute_proto(const ir::Attribute& a) {
  ProtoWriter w;
  w.s(1, a.name);
  switch (a.kind) {
    case ir::AttrKind::f: w.f(2, a.f).i(20, 1); break;
    case ir::AttrKind::i: w.i(3, a.i).i(20, 2); break;
    case ir::AttrKind::s: w.s(4, a.s).i(20, 3); break;
    case ir::AttrKind::t: w.m(5, tensor_proto(a.t, "")).i(20, 4); break;
    case ir::AttrKind::g: w.m(6, graph_proto(*a.g)).i(20, 5); break;
    case ir::AttrKind::floats:
      for (float f : a.floats) w.f(7, f);
      w.i(20, 6);
      break;
    case ir::AttrKind::ints:
      for (int64_t i : a.ints) w.i(8, i);
      w.i(20, 7);
      break;
    case ir::AttrKind::strings:
      for (const std::string& s : a.strings) w.s(9, s);
      w.i(20, 8);
      break;
    case ir::AttrKind::tensors:
      for (const Tensor& t : a.tensors) w.m(10, tensor_proto(t, ""));
      w.i(20, 9);
      break;
    case ir::AttrKind::graphs:
      for (const auto& sub : a.graphs) w.m(11, graph_proto(*sub));
      w.i(20, 10);
      break;
    default: fail_unsupported(std::string("writing a ") + ir::attr_kind_name(a.kind) + " attribute ('" + a.name + "') to ONNX");
  }
  return w;
}

std::string value_name(const ir::Graph& g, int id) { return id < 0 ? "" : g.values[size_t(id)].name; }

ProtoWriter graph_proto(const ir::Graph& g) {
  ProtoWriter w;
  for (int ni : g.topological_order()) {
    const ir::Node& n = g.nodes[size_t(ni)];
    ProtoWriter node;
    for (int in : n.inputs) node.s(1, value_name(g, in));
    for (int out : n.outputs) node.s(2, value_name(g, out));
    if (!n.name.empty()) node.s(3, n.name);
    node.s(4, n.op_type);
    for (const ir::Attribute& a : n.attrs) node.m(5, attribute_proto(a));
    if (!n.domain.empty()) node.s(7, n.domain);
    w.m(1, node);
  }
  w.s(2, g.name.empty() ? "graph" : g.name);
  // Constants read by some node (or a graph output) become initializers.
  std::vector<bool> used(g.values.size(), false);
  for (const ir::Node& n : g.nodes)
    for (int in : n.inputs)
      if (in >= 0) used[size_t(in)] = true;
  for (int out : g.outputs) used[size_t(out)] = true;
  for (const ir::Node& n : g.nodes)  // subgraph bodies read enclosing values by name
    for (int v : g.implicit_inputs(n))
      if (v >= 0) used[size_t(v)] = true;
  for (size_t i = 0; i < g.values.size(); ++i) {
    const ir::Value& v = g.values[i];
    if (used[i] && v.producer < 0 && !v.is_outer && v.constant.defined()) w.m(5, tensor_proto(v.constant, v.name));
  }
  for (int in : g.inputs) w.m(11, value_info(g.values[size_t(in)]));
  for (int out : g.outputs) w.m(12, value_info(g.values[size_t(out)]));
  return w;
}

}  // namespace

std::string write_model(const ir::Model& m) {
  if (!m.graph) fail_model("no graph to write");
  ProtoWriter w;
  w.i(1, m.ir_version > 0 ? m.ir_version : 8);
  w.s(2, "pareto");
  for (const auto& [domain, version] : m.opsets) w.m(8, ProtoWriter().s(1, domain).i(2, version));
  w.m(7, graph_proto(*m.graph));
  return w.bytes;
}

void save_model(const ir::Model& m, const std::string& path) {
  const std::string bytes = write_model(m);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(StatusCode::io_error, path + ": cannot write");
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) fail(StatusCode::io_error, path + ": write failed");
}

}  // namespace pareto::onnx
