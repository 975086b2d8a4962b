#include "frontend/onnx/onnx_loader.h"

#include <map>
#include <string_view>

#include "core/checked.h"
#include "core/file.h"
#include "frontend/onnx/wire_reader.h"

namespace pareto::onnx {

namespace {

constexpr int kMaxGraphDepth = 32;

// Rethrows an Error with "context: " in front, so messages read outermost first.
template <class F>
auto with_context(const std::string& context, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    throw Error(e.code(), context + ": " + e.what());
  }
}

class Loader {
 public:
  Loader(const uint8_t* base, size_t size, std::string base_dir, std::shared_ptr<const void> owner)
      : base_(base), size_(size), base_dir_(std::move(base_dir)), owner_(std::move(owner)) {}

  ir::Model model();
  Tensor tensor(WireReader r, std::string* name);

 private:
  std::shared_ptr<ir::Graph> graph(WireReader r, int depth, bool is_subgraph);
  void node(WireReader r, ir::Node& n, std::vector<std::string>& ins, std::vector<std::string>& outs, int depth);
  ir::Attribute attribute(WireReader r, int depth);
  void value_info(WireReader r, std::string& name, ir::ValueType& type);
  Tensor external_tensor(const std::string& name, DType dtype, const Shape& shape,
                         const std::map<std::string, std::string>& kv);
  Tensor make_tensor(DType dtype, Shape shape, std::string_view bytes);

  const uint8_t* base_;
  size_t size_;
  std::string base_dir_;
  std::shared_ptr<const void> owner_;
  std::map<std::string, std::shared_ptr<MappedFile>> external_files_;
};

Tensor Loader::make_tensor(DType dtype, Shape shape, std::string_view bytes) {
  const void* p = bytes.data();
  size_t esize = dtype_size(dtype);
  bool inside = owner_ && reinterpret_cast<const uint8_t*>(p) >= base_ &&
                reinterpret_cast<const uint8_t*>(p) + bytes.size() <= base_ + size_;
  if (inside && reinterpret_cast<uintptr_t>(p) % esize == 0)
    return Tensor::wrap(dtype, std::move(shape), owner_, p);
  Tensor t = Tensor::empty(dtype, std::move(shape));
  if (bytes.size()) std::memcpy(t.raw(), p, bytes.size());
  return t;
}

Tensor Loader::tensor(WireReader r, std::string* name_out) {
  Shape dims;
  int32_t data_type = 0;
  std::string name;
  std::string_view raw;
  bool has_raw = false, external = false;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<double> doubles;
  std::map<std::string, std::string> kv;
  size_t start = r.offset();
  while (r.next()) {
    switch (r.field()) {
      case 1: r.read_varints([&](int64_t d) { dims.push_back(d); }); break;
      case 2: data_type = int32_t(r.read_int()); break;
      case 3: fail_unsupported("segmented tensors are not supported");
      case 4: r.read_fixed<float>([&](float f) { floats.push_back(f); }); break;
      case 5: case 7: case 11: r.read_varints([&](int64_t v) { ints.push_back(v); }); break;
      case 6: fail_unsupported("string tensors are not supported");
      case 8: name = r.read_string(); break;
      case 9: raw = r.read_bytes(); has_raw = true; break;
      case 10: r.read_fixed<double>([&](double d) { doubles.push_back(d); }); break;
      case 13: {
        WireReader e = r.read_message();
        std::string k, v;
        while (e.next()) {
          if (e.field() == 1) k = e.read_string();
          else if (e.field() == 2) v = e.read_string();
          else e.skip();
        }
        kv[k] = v;
        break;
      }
      case 14: external = r.read_int() == 1; break;
      default: r.skip();
    }
  }
  if (name_out) *name_out = name;
  return with_context("tensor '" + name + "' (at offset " + std::to_string(start) + ")", [&]() -> Tensor {
    if (!dtype_is_known(data_type)) fail_unsupported("unknown or unsupported data_type " + std::to_string(data_type));
    DType dtype = DType(data_type);
    if (dtype == DType::string) fail_unsupported("string tensors are not supported");
    if (dims.size() > 16) fail_model("rank " + std::to_string(dims.size()) + " exceeds 16");
    for (int64_t d : dims)
      if (d < 0) fail_model("negative dimension in " + shape_to_string(dims));
    int64_t n = shape_numel(dims);
    size_t esize = dtype_size(dtype);
    if (external) return external_tensor(name, dtype, dims, kv);
    if (has_raw) {
      if (uint64_t(n) > raw.size() / esize || raw.size() != size_t(n) * esize)
        fail_model("raw_data holds " + std::to_string(raw.size()) + " bytes, shape " + shape_to_string(dims) + " " +
                   dtype_name(dtype) + " needs " + (uint64_t(n) > (uint64_t(1) << 60) / esize ? std::string("more") : std::to_string(uint64_t(n) * esize)));
      return make_tensor(dtype, dims, raw);
    }
    size_t have = floats.size() + ints.size() + doubles.size();
    if (have != uint64_t(n))
      fail_model("has " + std::to_string(have) + " typed values, shape " + shape_to_string(dims) + " needs " +
                 std::to_string(n));
    // The field that holds the values must be the one for data_type (checked
    // before any of it is read: a hostile INT64 tensor with its values in
    // float_data would otherwise index the empty int64 array).
    const size_t in_field = dtype == DType::f32 ? floats.size() : dtype == DType::f64 ? doubles.size() : ints.size();
    if (in_field != size_t(n))
      fail_model("typed data field does not match data_type " + std::string(dtype_name(dtype)) + " (" + std::to_string(in_field) +
                 " values in its field, shape needs " + std::to_string(n) + ")");
    Tensor t = Tensor::empty(dtype, dims);
    for (int64_t i = 0; i < n; ++i) {
      size_t k = size_t(i);
      switch (dtype) {
        case DType::f32: t.data<float>()[k] = floats[k]; break;
        case DType::f64: t.data<double>()[k] = doubles[k]; break;
        case DType::i64: t.data<int64_t>()[k] = ints[k]; break;
        case DType::i32: t.data<int32_t>()[k] = int32_t(ints[k]); break;
        case DType::i16: t.data<int16_t>()[k] = int16_t(ints[k]); break;
        case DType::i8: t.data<int8_t>()[k] = int8_t(ints[k]); break;
        case DType::u8: t.data<uint8_t>()[k] = uint8_t(ints[k]); break;
        case DType::boolean: static_cast<uint8_t*>(t.raw())[k] = ints[k] != 0; break;
        case DType::u16: case DType::f16: case DType::bf16: static_cast<uint16_t*>(t.raw())[k] = uint16_t(ints[k]); break;
        case DType::u32: t.data<uint32_t>()[k] = uint32_t(ints[k]); break;
        case DType::u64: t.data<uint64_t>()[k] = uint64_t(ints[k]); break;
        default: fail_unsupported(std::string("typed data for ") + dtype_name(dtype));
      }
    }
    return t;
  });
}

Tensor Loader::external_tensor(const std::string& name, DType dtype, const Shape& shape,
                               const std::map<std::string, std::string>& kv) {
  auto loc = kv.find("location");
  if (loc == kv.end() || loc->second.empty()) fail_model("external data without a location");
  const std::string& rel = loc->second;
  if (base_dir_.empty()) fail_model("external data '" + rel + "' but the model was not loaded from a file");
  if (rel[0] == '/' || rel.find("..") != std::string::npos)
    fail_model("external data location '" + rel + "' escapes the model's directory");
  auto parse_u64 = [&](const char* key, uint64_t def) -> uint64_t {
    auto it = kv.find(key);
    if (it == kv.end()) return def;
    char* end = nullptr;
    uint64_t v = std::strtoull(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end) fail_model(std::string("external data ") + key + " '" + it->second + "' is not a number");
    return v;
  };
  std::string path = base_dir_ + "/" + rel;
  auto& file = external_files_[path];
  if (!file) file = MappedFile::open(path);
  uint64_t offset = parse_u64("offset", 0);
  const std::optional<uint64_t> bytes = checked_mul(uint64_t(shape_numel(shape)), dtype_size(dtype));
  if (!bytes) fail_model("external data of shape " + shape_to_string(shape) + " would need more than 2^64 bytes");
  const uint64_t need = *bytes;
  uint64_t length = parse_u64("length", need);
  if (length != need)
    fail_model("external data length " + std::to_string(length) + " does not match shape " + shape_to_string(shape) +
               " (" + std::to_string(need) + " bytes)");
  if (offset > file->size() || need > file->size() - offset)
    fail_model("external data [" + std::to_string(offset) + ", +" + std::to_string(need) + ") lies past the end of " +
               path + " (" + std::to_string(file->size()) + " bytes)");
  (void)name;
  const uint8_t* p = file->data() + offset;
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(dtype) == 0)
    return Tensor::wrap(dtype, shape, std::shared_ptr<const void>(file, p), p);
  Tensor t = Tensor::empty(dtype, shape);
  std::memcpy(t.raw(), p, need);
  return t;
}

void Loader::value_info(WireReader r, std::string& name, ir::ValueType& type) {
  while (r.next()) {
    if (r.field() == 1) {
      name = r.read_string();
    } else if (r.field() == 2) {
      WireReader tp = r.read_message();
      while (tp.next()) {
        if (tp.field() == 4 || tp.field() == 5 || tp.field() == 8 || tp.field() == 9) type.non_tensor = true;
        if (tp.field() != 1) { tp.skip(); continue; }
        WireReader tt = tp.read_message();
        while (tt.next()) {
          if (tt.field() == 1) {
            int64_t et = tt.read_int();
            type.dtype = dtype_is_known(int32_t(et)) ? DType(et) : DType::undefined;
          } else if (tt.field() == 2) {
            WireReader sh = tt.read_message();
            type.rank_known = true;
            while (sh.next()) {
              if (sh.field() != 1) { sh.skip(); continue; }
              WireReader dim = sh.read_message();
              int64_t v = -1;
              std::string param;
              while (dim.next()) {
                if (dim.field() == 1) v = dim.read_int();
                else if (dim.field() == 2) param = dim.read_string();
                else dim.skip();
              }
              if (type.dims.size() >= 64) fail_model("value '" + name + "' has rank above 64");
              type.dims.push_back(v < 0 ? -1 : v);
              type.dim_params.push_back(param);
            }
            check_declared_shape(type.dims, "value '" + name + "'");
          } else {
            tt.skip();
          }
        }
      }
    } else {
      r.skip();
    }
  }
}

ir::Attribute Loader::attribute(WireReader r, int depth) {
  ir::Attribute a;
  int64_t type = -1;
  auto sub_graph = [&](WireReader g) { return graph(g, depth + 1, true); };
  while (r.next()) {
    switch (r.field()) {
      case 1: a.name = r.read_string(); break;
      case 20: type = r.read_int(); break;
      case 2: a.f = r.read_float(); a.kind = ir::AttrKind::f; break;
      case 3: a.i = r.read_int(); a.kind = ir::AttrKind::i; break;
      case 4: a.s = r.read_string(); a.kind = ir::AttrKind::s; break;
      case 5: a.t = tensor(r.read_message(), nullptr); a.kind = ir::AttrKind::t; break;
      case 6: a.g = sub_graph(r.read_message()); a.kind = ir::AttrKind::g; break;
      case 7: r.read_fixed<float>([&](float f) { a.floats.push_back(f); }); a.kind = ir::AttrKind::floats; break;
      case 8: r.read_varints([&](int64_t v) { a.ints.push_back(v); }); a.kind = ir::AttrKind::ints; break;
      case 9: a.strings.push_back(r.read_string()); a.kind = ir::AttrKind::strings; break;
      case 10: a.tensors.push_back(tensor(r.read_message(), nullptr)); a.kind = ir::AttrKind::tensors; break;
      case 11: a.graphs.push_back(sub_graph(r.read_message())); a.kind = ir::AttrKind::graphs; break;
      case 22: r.skip(); a.kind = ir::AttrKind::sparse_tensor; break;
      case 14: case 15: r.skip(); a.kind = ir::AttrKind::type_proto; break;
      default: r.skip();
    }
  }
  // The declared type wins (an empty `ints` list has no payload field at all).
  static const ir::AttrKind by_type[] = {ir::AttrKind::undefined, ir::AttrKind::f, ir::AttrKind::i,
                                         ir::AttrKind::s, ir::AttrKind::t, ir::AttrKind::g,
                                         ir::AttrKind::floats, ir::AttrKind::ints, ir::AttrKind::strings,
                                         ir::AttrKind::tensors, ir::AttrKind::graphs, ir::AttrKind::sparse_tensor,
                                         ir::AttrKind::sparse_tensor, ir::AttrKind::type_proto,
                                         ir::AttrKind::type_proto};
  if (type > 0 && type < int64_t(std::size(by_type))) a.kind = by_type[type];
  else if (type >= int64_t(std::size(by_type))) fail_model("attribute '" + a.name + "' has unknown type " + std::to_string(type));
  return a;
}

void Loader::node(WireReader r, ir::Node& n, std::vector<std::string>& ins, std::vector<std::string>& outs,
                  int depth) {
  std::vector<std::pair<WireReader, size_t>> attrs;
  while (r.next()) {
    switch (r.field()) {
      case 1: ins.push_back(r.read_string()); break;
      case 2: outs.push_back(r.read_string()); break;
      case 3: n.name = r.read_string(); break;
      case 4: n.op_type = r.read_string(); break;
      case 7: n.domain = r.read_string(); break;
      case 5: attrs.emplace_back(r.read_message(), r.offset()); break;
      default: r.skip();
    }
  }
  // Attributes parsed after the name is known so errors can name the node.
  with_context("node " + n.label(), [&] {
    for (auto& [ar, off] : attrs) n.attrs.push_back(attribute(ar, depth));
  });
  if (n.domain == "ai.onnx") n.domain.clear();
}

// Replaces a Constant node by a constant value: shape inference and folding
// then see it like an initializer.
Tensor constant_node_value(const ir::Node& n) {
  if (n.attrs.size() != 1) fail_model("Constant " + n.label() + " must have exactly one attribute");
  const ir::Attribute& a = n.attrs[0];
  if (a.name == "value" && a.kind == ir::AttrKind::t) return a.t;
  if (a.name == "value_float" && a.kind == ir::AttrKind::f) return Tensor::scalar<float>(a.f);
  if (a.name == "value_int" && a.kind == ir::AttrKind::i) return Tensor::scalar<int64_t>(a.i);
  if (a.name == "value_floats" && a.kind == ir::AttrKind::floats)
    return Tensor::from_vector<float>(a.floats, {int64_t(a.floats.size())});
  if (a.name == "value_ints" && a.kind == ir::AttrKind::ints)
    return Tensor::from_vector<int64_t>(a.ints, {int64_t(a.ints.size())});
  fail_unsupported("Constant " + n.label() + " with attribute '" + a.name + "' (" + ir::attr_kind_name(a.kind) + ")");
}

std::shared_ptr<ir::Graph> Loader::graph(WireReader r, int depth, bool is_subgraph) {
  if (depth > kMaxGraphDepth) fail_model("subgraphs nested deeper than " + std::to_string(kMaxGraphDepth));
  auto g = std::make_shared<ir::Graph>();
  struct RawNode {
    ir::Node node;
    std::vector<std::string> ins, outs;
  };
  std::vector<RawNode> raw_nodes;
  std::vector<std::pair<std::string, Tensor>> inits;
  std::vector<std::pair<std::string, ir::ValueType>> inputs, outputs, infos;
  while (r.next()) {
    switch (r.field()) {
      case 1: {
        RawNode rn;
        size_t index = raw_nodes.size();
        with_context("node #" + std::to_string(index), [&] { node(r.read_message(), rn.node, rn.ins, rn.outs, depth); });
        raw_nodes.push_back(std::move(rn));
        break;
      }
      case 2: g->name = r.read_string(); break;
      case 5: {
        std::string name;
        Tensor t = tensor(r.read_message(), &name);
        inits.emplace_back(name, std::move(t));
        break;
      }
      case 15: fail_unsupported("sparse initializers are not supported");
      case 11: case 12: case 13: {
        uint32_t f = r.field();
        std::pair<std::string, ir::ValueType> vi;
        value_info(r.read_message(), vi.first, vi.second);
        (f == 11 ? inputs : f == 12 ? outputs : infos).push_back(std::move(vi));
        break;
      }
      default: r.skip();
    }
  }
  std::string where = "graph '" + g->name + "'";
  for (auto& [name, t] : inits) {
    int id = g->add_value(name);
    ir::Value& v = g->values[size_t(id)];
    v.constant = t;
    v.type.dtype = t.dtype();
    v.type.rank_known = true;
    v.type.dims = t.shape();
  }
  for (auto& [name, type] : inputs) {
    int id = g->add_value(name);
    ir::Value& v = g->values[size_t(id)];
    if (v.constant.defined()) continue;  // IR < 4: initializers listed as inputs are defaults
    v.type = type;
    g->inputs.push_back(id);
  }
  std::vector<int> node_index(raw_nodes.size(), -1);
  for (RawNode& rn : raw_nodes) {
    for (const std::string& o : rn.outs) {
      if (o.empty()) continue;
      int existing = g->find_value(o);
      if (existing >= 0)
        fail_model(where + ": value '" + o + "' is defined twice (again by node " + rn.node.label() + ")");
    }
    if (rn.node.op_type == "Constant" && rn.node.domain.empty()) {
      Tensor t = with_context(where, [&] { return constant_node_value(rn.node); });
      if (rn.outs.size() != 1) fail_model(where + ": Constant " + rn.node.label() + " must have one output");
      int id = g->add_value(rn.outs[0]);
      g->values[size_t(id)].constant = t;
      g->values[size_t(id)].type = ir::ValueType{t.dtype(), true, t.shape(), {}};
      continue;
    }
    int index = int(g->nodes.size());
    for (const std::string& o : rn.outs) {
      int id = o.empty() ? -1 : g->add_value(o);
      if (id >= 0) g->values[size_t(id)].producer = index;
      rn.node.outputs.push_back(id);
    }
    node_index[size_t(&rn - raw_nodes.data())] = index;
    g->nodes.push_back(std::move(rn.node));
  }
  for (size_t r_i = 0; r_i < raw_nodes.size(); ++r_i) {
    if (node_index[r_i] < 0) continue;
    RawNode& rn = raw_nodes[r_i];
    ir::Node& n = g->nodes[size_t(node_index[r_i])];
    for (const std::string& in : rn.ins) {
      if (in.empty()) { n.inputs.push_back(-1); continue; }
      int id = g->find_value(in);
      if (id < 0) {
        if (!is_subgraph)
          fail_model(where + ": node " + n.label() + " reads '" + in + "', which no node, input or initializer defines");
        id = g->add_value(in);
        g->values[size_t(id)].is_outer = true;
      }
      n.inputs.push_back(id);
    }
  }
  for (auto& [name, type] : outputs) {
    int id = g->find_value(name);
    if (id < 0) {
      if (!is_subgraph) fail_model(where + ": output '" + name + "' is not defined by any node or input");
      id = g->add_value(name);
      g->values[size_t(id)].is_outer = true;
    }
    ir::Value& v = g->values[size_t(id)];
    if (v.type.dtype == DType::undefined) v.type = type;
    g->outputs.push_back(id);
  }
  for (auto& [name, type] : infos) {
    int id = g->find_value(name);
    if (id >= 0 && !g->values[size_t(id)].constant.defined()) g->values[size_t(id)].type = type;
  }
  g->topological_order();  // rejects cycles now, before anything runs
  return g;
}

ir::Model Loader::model() {
  ir::Model m;
  WireReader r(base_, base_ + size_, base_);
  bool has_graph = false;
  while (r.next()) {
    switch (r.field()) {
      case 1: m.ir_version = r.read_int(); break;
      case 2: m.producer = r.read_string(); break;
      case 8: {
        WireReader o = r.read_message();
        std::string domain;
        int64_t version = 0;
        while (o.next()) {
          if (o.field() == 1) domain = o.read_string();
          else if (o.field() == 2) version = o.read_int();
          else o.skip();
        }
        if (domain == "ai.onnx") domain.clear();
        m.opsets[domain] = version;
        break;
      }
      case 7: m.graph = graph(r.read_message(), 0, false); has_graph = true; break;
      default: r.skip();
    }
  }
  if (!has_graph) fail_model("no graph in model (is this an ONNX file?)");
  if (m.ir_version < 1 || m.ir_version > 11)
    fail_unsupported("IR version " + std::to_string(m.ir_version) + " (pareto reads IR versions 3 to 10)");
  if (m.opsets.empty()) m.opsets[""] = 1;
  return m;
}

}  // namespace

ir::Model load_model_from_memory(const uint8_t* data, size_t size, const std::string& name, const std::string& base_dir,
                                 std::shared_ptr<const void> owner) {
  return with_context(name, [&] {
    Loader loader(data, size, base_dir, std::move(owner));
    ir::Model m = loader.model();
    m.path = name;
    return m;
  });
}

ir::Model load_model(const std::string& path) {
  auto file = MappedFile::open(path);
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return load_model_from_memory(file->data(), file->size(), path, dir, file);
}

Tensor load_tensor_file(const std::string& path, std::string* name) {
  auto file = MappedFile::open(path);
  return with_context(path, [&] {
    Loader loader(file->data(), file->size(), "", nullptr);
    WireReader r(file->data(), file->data() + file->size(), file->data());
    return loader.tensor(r, name);
  });
}

}  // namespace pareto::onnx
