#include <cstring>
#include <fstream>
#include <map>

#include "core/error.h"
#include "frontend/artifact/artifact.h"
#include "kernels/int8_conv.h"

namespace pareto::artifact {

namespace {

// An int8 conv's weights as their int8 codes, row by row with the row's
// scale (kernels::exact_int8_codes): a quarter of the bytes for the same
// weights. False where any weight is not its code times its scale bit for
// bit (the floats are stored then).
bool int8_codes(const Tensor& w, const std::vector<float>& scales, std::vector<int8_t>* codes) {
  if (w.dtype() != DType::f32 || w.rank() < 2 || w.dim(0) != int64_t(scales.size()) || w.numel() == 0) return false;
  const int64_t rows = w.dim(0), per = w.numel() / rows;
  codes->resize(size_t(w.numel()));
  for (int64_t r = 0; r < rows; ++r)
    if (!kernels::exact_int8_codes(w.data<float>() + r * per, per, scales[size_t(r)], codes->data() + r * per)) return false;
  return true;
}

// Constants every reader of which is an int8 conv (Conv / FusedConv with
// fold_qdq's w_scales) taking them as its weights, all with the same
// w_scales: those scales. Only these may be stored as codes (the runtime
// reads such weights as codes of the reading node's w_scales). A graph
// with subgraphs is left alone (its nodes may read a constant by name).
std::map<int, const std::vector<float>*> int8_weight_scales(const ir::Graph& g) {
  std::map<int, const std::vector<float>*> out;
  std::vector<bool> other_use(g.values.size(), false);
  for (int v : g.outputs) other_use[size_t(v)] = true;
  for (const ir::Node& n : g.nodes) {
    for (const ir::Attribute& a : n.attrs)
      if (a.g || !a.graphs.empty()) return {};
    const ir::Attribute* scales = n.attr("w_scales");
    const bool int8_conv = (n.op_type == "Conv" || n.op_type == "FusedConv") && scales && scales->kind == ir::AttrKind::floats;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v < 0) continue;
      if (!int8_conv || i != 1) {
        other_use[size_t(v)] = true;
        continue;
      }
      auto [it, added] = out.emplace(v, &scales->floats);
      if (!added && *it->second != scales->floats) other_use[size_t(v)] = true;
    }
  }
  for (auto it = out.begin(); it != out.end();) it = other_use[size_t(it->first)] ? out.erase(it) : std::next(it);
  return out;
}

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
  // A tensor record: tag (the dtype), rank, dims, then the data's offset
  // and size in the weights section (64-byte aligned).
  void record(int32_t tag, const Shape& shape, const void* data, size_t bytes) {
    put(tag);
    put(uint32_t(shape.size()));
    for (int64_t d : shape) put(d);
    while (weights.size() % 64) weights += '\0';
    put(uint64_t(weights.size()));
    put(uint64_t(bytes));
    weights.append(static_cast<const char*>(data), bytes);
  }
  void tensor(const Tensor& t) {
    if (t.dtype() == DType::string || dtype_size(t.dtype()) == 0)
      fail_unsupported(std::string("compiled artifacts cannot hold ") + dtype_name(t.dtype()) + " tensors");
    record(int32_t(t.dtype()), t.shape(), t.raw(), t.nbytes());
  }
  // An int8 conv's float weights as their int8 codes (tag kInt8RowsTag in
  // place of the dtype; the scales are the reading node's w_scales).
  void int8_rows(const Tensor& t, const std::vector<int8_t>& codes) { record(kInt8RowsTag, t.shape(), codes.data(), codes.size()); }
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
    const std::map<int, const std::vector<float>*> int8_weights = int8_weight_scales(g);
    std::vector<int8_t> codes;
    for (size_t vi = 0; vi < g.values.size(); ++vi) {
      const ir::Value& v = g.values[vi];
      auto it = int8_weights.find(int(vi));
      const bool coded = v.constant.defined() && it != int8_weights.end() && int8_codes(v.constant, *it->second, &codes);
      str(v.name);
      ir::ValueType t = v.type;
      if (coded) t.dtype = DType::i8;  // what the value holds once loaded
      type(t);
      put(uint8_t(v.is_outer));
      put(uint8_t(v.constant.defined()));
      if (coded) int8_rows(v.constant, codes);
      else if (v.constant.defined()) tensor(v.constant);
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
