#include <cstring>
#include <fstream>

#include "core/error.h"
#include "frontend/artifact/artifact.h"

namespace pareto::artifact {

namespace {

struct Writer {
  std::string graph, weights;

  template <class T>
  void put(T v) {
    graph.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    put(uint32_t(s.size()));
    graph += s;
  }
  void tensor(const Tensor& t) {
    if (t.dtype() == DType::string || dtype_size(t.dtype()) == 0)
      fail_unsupported(std::string("compiled artifacts cannot hold ") + dtype_name(t.dtype()) + " tensors");
    put(int32_t(t.dtype()));
    put(uint32_t(t.rank()));
    for (int64_t d : t.shape()) put(d);
    while (weights.size() % 64) weights += '\0';
    put(uint64_t(weights.size()));
    put(uint64_t(t.nbytes()));
    weights.append(static_cast<const char*>(t.raw()), t.nbytes());
  }
  void type(const ir::ValueType& t) {
    put(int32_t(t.dtype));
    put(uint8_t(t.rank_known));
    put(uint8_t(t.non_tensor));
    put(uint32_t(t.dims.size()));
    for (size_t i = 0; i < t.dims.size(); ++i) {
      put(t.dims[i]);
      str(i < t.dim_params.size() ? t.dim_params[i] : "");
    }
  }
  void attr(const ir::Attribute& a) {
    str(a.name);
    put(uint8_t(a.kind));
    switch (a.kind) {
      case ir::AttrKind::f: put(a.f); break;
      case ir::AttrKind::i: put(a.i); break;
      case ir::AttrKind::s: str(a.s); break;
      case ir::AttrKind::t: tensor(a.t); break;
      case ir::AttrKind::g: graph_of(*a.g); break;
      case ir::AttrKind::floats:
        put(uint32_t(a.floats.size()));
        for (float f : a.floats) put(f);
        break;
      case ir::AttrKind::ints:
        put(uint32_t(a.ints.size()));
        for (int64_t i : a.ints) put(i);
        break;
      case ir::AttrKind::strings:
        put(uint32_t(a.strings.size()));
        for (const auto& s : a.strings) str(s);
        break;
      case ir::AttrKind::tensors:
        put(uint32_t(a.tensors.size()));
        for (const auto& t : a.tensors) tensor(t);
        break;
      case ir::AttrKind::graphs:
        put(uint32_t(a.graphs.size()));
        for (const auto& g : a.graphs) graph_of(*g);
        break;
      default: fail_unsupported("attribute '" + a.name + "' of kind " + ir::attr_kind_name(a.kind) + " in a compiled artifact");
    }
  }
  void graph_of(const ir::Graph& g) {
    str(g.name);
    put(uint32_t(g.values.size()));
    for (const ir::Value& v : g.values) {
      str(v.name);
      type(v.type);
      put(uint8_t(v.is_outer));
      put(uint8_t(v.constant.defined()));
      if (v.constant.defined()) tensor(v.constant);
    }
    put(uint32_t(g.nodes.size()));
    for (const ir::Node& n : g.nodes) {
      str(n.name);
      str(n.op_type);
      str(n.domain);
      put(uint32_t(n.inputs.size()));
      for (int v : n.inputs) put(int32_t(v));
      put(uint32_t(n.outputs.size()));
      for (int v : n.outputs) put(int32_t(v));
      put(uint32_t(n.attrs.size()));
      for (const auto& a : n.attrs) attr(a);
    }
    put(uint32_t(g.inputs.size()));
    for (int v : g.inputs) put(int32_t(v));
    put(uint32_t(g.outputs.size()));
    for (int v : g.outputs) put(int32_t(v));
  }
  void plan(const ir::MemoryPlan* p) {
    put(uint8_t(p != nullptr));
    if (!p) return;
    put(uint64_t(p->arena_bytes));
    put(uint64_t(p->naive_bytes));
    put(uint64_t(p->lower_bound));
    put(uint64_t(p->alignment));
    str(p->algorithm);
    put(uint32_t(p->buffers.size()));
    for (const auto& b : p->buffers) {
      put(uint64_t(b.offset));
      put(uint64_t(b.bytes));
      put(int32_t(b.first));
      put(int32_t(b.last));
      put(uint32_t(b.values.size()));
      for (int v : b.values) put(int32_t(v));
    }
  }
};

}  // namespace

void save(const std::string& path, const ir::Model& m, const ir::MemoryPlan* plan) {
  Writer w;
  w.put(int64_t(m.ir_version));
  w.put(uint32_t(m.opsets.size()));
  for (const auto& [domain, version] : m.opsets) {
    w.str(domain);
    w.put(int64_t(version));
  }
  w.str(m.producer);
  w.graph_of(*m.graph);
  w.plan(plan);
  const uint64_t graph_off = 64, weights_off = (graph_off + w.graph.size() + 63) / 64 * 64;
  std::string file(size_t(weights_off), '\0');
  std::memcpy(file.data() + graph_off, w.graph.data(), w.graph.size());
  file += w.weights;
  auto put_at = [&](size_t at, auto v) { std::memcpy(file.data() + at, &v, sizeof v); };
  std::memcpy(file.data(), kMagic, 8);
  put_at(8, uint32_t(kVersion));
  put_at(12, uint32_t(64));
  put_at(16, uint64_t(file.size()));
  put_at(32, graph_off);
  put_at(40, uint64_t(w.graph.size()));
  put_at(48, weights_off);
  put_at(56, uint64_t(w.weights.size()));
  put_at(24, checksum(reinterpret_cast<const uint8_t*>(file.data()) + 64, file.size() - 64));
  std::ofstream out(path, std::ios::binary);
  if (!out || !out.write(file.data(), std::streamsize(file.size()))) fail(StatusCode::io_error, path + ": cannot write");
}

}  // namespace pareto::artifact
