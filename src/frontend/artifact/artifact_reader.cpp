#include <cstring>
#include <limits>

#include "core/error.h"
#include "pareto/limits.hpp"
#include "core/file.h"
#include "core/tensor.h"
#include "frontend/artifact/artifact.h"

namespace pareto::artifact {

namespace {

constexpr int kMaxDepth = 8;
constexpr uint32_t kMaxRank = 32;

struct Reader {
  const uint8_t* p;
  size_t size, pos = 0, base;  // base: file offset of p, for messages
  const std::string& file;
  const uint8_t* weights;
  size_t weights_bytes;
  std::shared_ptr<const void> owner;
  uint32_t version;

  [[noreturn]] void bad(const std::string& what) const {
    fail_model(file + ": corrupt compiled model: " + what + " (at byte " + std::to_string(base + pos) + ")");
  }
  template <class T>
  T get(const char* what) {
    if (size - pos < sizeof(T)) bad(std::string("truncated ") + what);
    T v;
    std::memcpy(&v, p + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  // A count of items at least `min_bytes` each, checked against the bytes left.
  uint32_t count(const char* what, size_t min_bytes) {
    const uint32_t n = get<uint32_t>(what);
    if (min_bytes && n > (size - pos) / min_bytes) bad(std::string(what) + " count " + std::to_string(n) + " exceeds the data");
    return n;
  }
  std::string str(const char* what) {
    const uint32_t n = count(what, 1);
    std::string s(reinterpret_cast<const char*>(p + pos), n);
    pos += n;
    return s;
  }
  int32_t index(const char* what, size_t n_values, bool optional) {
    const int32_t v = get<int32_t>(what);
    if (v < (optional ? -1 : 0) || v >= int64_t(n_values)) bad(std::string(what) + " index " + std::to_string(v) + " out of range");
    return v;
  }
  // A tensor record; int8 weight codes only where value_constant (a graph
  // value's constant: the only place the writer puts them).
  Tensor tensor(bool value_constant = false) {
    const int32_t dt = get<int32_t>("tensor dtype");
    if (dt == kInt8RowsTag && version >= 4 && value_constant) return int8_rows();
    const DType dtype = DType(dt);
    if (dt <= 0 || dt > 16 || dtype == DType::string || dtype_size(dtype) == 0) bad("tensor dtype " + std::to_string(dt));
    const uint32_t rank = count("tensor rank", 8);
    if (rank > kMaxRank) bad("tensor rank " + std::to_string(rank));
    Shape shape;
    uint64_t elems = 1;
    for (uint32_t i = 0; i < rank; ++i) {
      const int64_t d = get<int64_t>("tensor dim");
      if (d < 0 || (d > 0 && elems > std::numeric_limits<uint64_t>::max() / uint64_t(d))) bad("tensor dim " + std::to_string(d));
      elems *= uint64_t(d);
      shape.push_back(d);
    }
    const uint64_t offset = get<uint64_t>("tensor offset"), nbytes = get<uint64_t>("tensor size");
    if (elems > std::numeric_limits<uint64_t>::max() / dtype_size(dtype) || nbytes != elems * dtype_size(dtype))
      bad("tensor size " + std::to_string(nbytes) + " does not match its shape");
    if (offset % 64 || offset > weights_bytes || nbytes > weights_bytes - offset) bad("tensor data outside the weights section");
    return Tensor::wrap(dtype, shape, owner, weights + offset);
  }
  // An int8 conv's weights stored as their codes (version 4): an int8
  // tensor of rank >= 1 aliasing the mapping; its scales are the reading
  // node's w_scales (the conv checks their count).
  Tensor int8_rows() {
    const uint32_t rank = count("int8 weights rank", 8);
    if (rank < 1 || rank > kMaxRank) bad("int8 weights rank " + std::to_string(rank));
    Shape shape;
    uint64_t elems = 1;
    for (uint32_t i = 0; i < rank; ++i) {
      const int64_t d = get<int64_t>("int8 weights dim");
      if (d <= 0 || elems > std::numeric_limits<uint64_t>::max() / uint64_t(d)) bad("int8 weights dim " + std::to_string(d));
      elems *= uint64_t(d);
      shape.push_back(d);
    }
    const uint64_t offset = get<uint64_t>("int8 weights offset"), nbytes = get<uint64_t>("int8 weights size");
    if (nbytes != elems) bad("int8 weights size " + std::to_string(nbytes) + " does not match its shape");
    if (offset % 64 || offset > weights_bytes || nbytes > weights_bytes - offset) bad("int8 weights outside the weights section");
    return Tensor::wrap(DType::i8, shape, owner, weights + offset);
  }
  ir::ValueType type() {
    ir::ValueType t;
    const int32_t dt = get<int32_t>("value dtype");
    if (dt < 0 || dt > 16) bad("value dtype " + std::to_string(dt));
    t.dtype = DType(dt);
    t.rank_known = get<uint8_t>("rank flag") != 0;
    t.non_tensor = get<uint8_t>("non-tensor flag") != 0;
    const uint32_t rank = count("value rank", 12);
    if (rank > kMaxRank) bad("value rank " + std::to_string(rank));
    for (uint32_t i = 0; i < rank; ++i) {
      t.dims.push_back(get<int64_t>("value dim"));
      t.dim_params.push_back(str("dim name"));
    }
    check_declared_shape(t.dims, file + ": a value type");
    return t;
  }
  ir::Attribute attr(int depth) {
    ir::Attribute a;
    a.name = str("attribute name");
    const uint8_t kind = get<uint8_t>("attribute kind");
    a.kind = ir::AttrKind(kind);
    switch (a.kind) {
      case ir::AttrKind::f: a.f = get<float>("float attribute"); break;
      case ir::AttrKind::i: a.i = get<int64_t>("int attribute"); break;
      case ir::AttrKind::s: a.s = str("string attribute"); break;
      case ir::AttrKind::t: a.t = tensor(); break;
      case ir::AttrKind::g: a.g = graph(depth + 1); break;
      case ir::AttrKind::floats:
        for (uint32_t n = count("floats", 4), i = 0; i < n; ++i) a.floats.push_back(get<float>("float"));
        break;
      case ir::AttrKind::ints:
        for (uint32_t n = count("ints", 8), i = 0; i < n; ++i) a.ints.push_back(get<int64_t>("int"));
        break;
      case ir::AttrKind::strings:
        for (uint32_t n = count("strings", 4), i = 0; i < n; ++i) a.strings.push_back(str("string"));
        break;
      case ir::AttrKind::tensors:
        for (uint32_t n = count("tensors", 24), i = 0; i < n; ++i) a.tensors.push_back(tensor());
        break;
      case ir::AttrKind::graphs:
        for (uint32_t n = count("graphs", 20), i = 0; i < n; ++i) a.graphs.push_back(graph(depth + 1));
        break;
      default: bad("attribute '" + a.name + "' of kind " + std::to_string(kind));
    }
    return a;
  }
  std::shared_ptr<ir::Graph> graph(int depth) {
    if (depth > kMaxDepth) bad("subgraphs nested deeper than " + std::to_string(kMaxDepth));
    auto g = std::make_shared<ir::Graph>();
    g->name = str("graph name");
    const uint32_t nv = count("values", 10);
    // A value takes ~10 bytes in the file and far more in memory: charged before the resize.
    check_limit(file + ": a graph of " + std::to_string(nv) + " values (bytes in memory)", uint64_t(nv) * sizeof(ir::Value), "tensor-bytes");
    g->values.resize(nv);
    for (uint32_t v = 0; v < nv; ++v) {
      ir::Value& val = g->values[v];
      val.name = str("value name");
      val.type = type();
      val.is_outer = get<uint8_t>("outer flag") != 0;
      if (get<uint8_t>("constant flag")) val.constant = tensor(true);
      if (!g->value_by_name.emplace(val.name, int(v)).second) bad("value '" + val.name + "' defined twice");
    }
    const uint32_t nn = count("nodes", 24);
    check_limit(file + ": a graph of " + std::to_string(nn) + " nodes (bytes in memory)", uint64_t(nn) * sizeof(ir::Node), "tensor-bytes");
    g->nodes.resize(nn);
    for (uint32_t n = 0; n < nn; ++n) {
      ir::Node& node = g->nodes[n];
      node.name = str("node name");
      node.op_type = str("op type");
      node.domain = str("domain");
      for (uint32_t k = count("node inputs", 4), i = 0; i < k; ++i) node.inputs.push_back(index("node input", nv, true));
      for (uint32_t k = count("node outputs", 4), i = 0; i < k; ++i) {
        const int32_t v = index("node output", nv, true);
        if (v >= 0) {
          if (g->values[size_t(v)].producer >= 0 || g->values[size_t(v)].constant.defined()) bad("value '" + g->values[size_t(v)].name + "' produced twice");
          g->values[size_t(v)].producer = int(n);
        }
        node.outputs.push_back(v);
      }
      for (uint32_t k = count("attributes", 6), i = 0; i < k; ++i) node.attrs.push_back(attr(depth));
    }
    for (uint32_t k = count("graph inputs", 4), i = 0; i < k; ++i) g->inputs.push_back(index("graph input", nv, false));
    for (uint32_t k = count("graph outputs", 4), i = 0; i < k; ++i) g->outputs.push_back(index("graph output", nv, false));
    return g;
  }
  std::unique_ptr<ir::MemoryPlan> plan(size_t n_values) {
    if (!get<uint8_t>("plan flag")) return nullptr;
    auto p = std::make_unique<ir::MemoryPlan>();
    p->arena_bytes = get<uint64_t>("arena size");
    p->naive_bytes = get<uint64_t>("naive size");
    p->lower_bound = get<uint64_t>("lower bound");
    p->alignment = get<uint64_t>("alignment");
    if (p->alignment == 0 || (p->alignment & (p->alignment - 1)) || p->alignment > 4096) bad("plan alignment");
    if (p->arena_bytes > (uint64_t(1) << 40)) bad("arena of " + std::to_string(p->arena_bytes) + " bytes");
    p->algorithm = str("plan algorithm");
    p->buffer_of.assign(n_values, -1);
    for (uint32_t n = count("buffers", 28), b = 0; b < n; ++b) {
      ir::Buffer buf;
      buf.offset = get<uint64_t>("buffer offset");
      buf.bytes = get<uint64_t>("buffer size");
      buf.first = get<int32_t>("buffer start");
      buf.last = get<int32_t>("buffer end");
      for (uint32_t k = count("buffer values", 4), i = 0; i < k; ++i) {
        const int32_t v = index("buffer value", n_values, false);
        if (p->buffer_of[size_t(v)] >= 0) bad("value in two buffers");
        p->buffer_of[size_t(v)] = int(b);
        buf.values.push_back(v);
      }
      if (buf.first < 0 || buf.last < buf.first) bad("buffer lifetime");
      p->buffers.push_back(std::move(buf));
    }
    std::string why;
    if (!ir::plan_is_valid(*p, &why)) bad("memory plan: " + why);
    return p;
  }
};

}  // namespace

// Word-wise FNV-1a: a byte at a time cost ~5 ms per 5 MB model at load.
uint64_t checksum(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

bool is_artifact(const uint8_t* data, size_t size) { return size >= 8 && std::memcmp(data, kMagic, 8) == 0; }

Compiled load_from_memory(const uint8_t* data, size_t size, const std::string& name, std::shared_ptr<const void> owner) {
  auto field = [&](size_t at, auto zero) {
    std::memcpy(&zero, data + at, sizeof zero);
    return zero;
  };
  if (size < 64 || !is_artifact(data, size)) fail_model(name + ": not a compiled pareto model (bad magic or shorter than its header)");
  const uint32_t version = field(8, uint32_t(0)), header = field(12, uint32_t(0));
  if (version < kOldestVersion || version > kVersion)
    fail_model(name + ": compiled model format version " + std::to_string(version) + ", this pareto reads versions " +
               std::to_string(kOldestVersion) + " to " + std::to_string(kVersion) + " (recompile it with `pareto compile`)");
  const uint64_t file_bytes = field(16, uint64_t(0)), stored_sum = field(24, uint64_t(0));
  const uint64_t g_off = field(32, uint64_t(0)), g_bytes = field(40, uint64_t(0)), w_off = field(48, uint64_t(0)), w_bytes = field(56, uint64_t(0));
  if (header != 64 || file_bytes != size)
    fail_model(name + ": truncated or padded compiled model (header says " + std::to_string(file_bytes) + " bytes, file has " + std::to_string(size) + ")");
  if (checksum(data + 64, size - 64) != stored_sum) fail_model(name + ": checksum mismatch (the file is corrupted)");
  if (g_off < 64 || g_off > size || g_bytes > size - g_off || w_off % 64 || w_off > size || w_bytes > size - w_off)
    fail_model(name + ": section table points outside the file");
  if (reinterpret_cast<uintptr_t>(data + w_off) % 64) fail_model(name + ": weights section is not 64-byte aligned in memory");
  Reader r{data + g_off, size_t(g_bytes), 0, size_t(g_off), name, data + w_off, size_t(w_bytes), std::move(owner), version};
  Compiled c;
  c.model.path = name;
  c.model.ir_version = r.get<int64_t>("ir version");
  for (uint32_t n = r.count("opsets", 12), i = 0; i < n; ++i) {
    std::string domain = r.str("opset domain");
    c.model.opsets[domain] = r.get<int64_t>("opset version");
  }
  c.model.producer = r.str("producer");
  c.model.graph = r.graph(0);
  c.plan = r.plan(c.model.graph->values.size());
  if (r.pos != r.size) r.bad("trailing bytes in the graph section");
  c.model.graph->topological_order();  // throws naming a node on a cycle
  return c;
}

Compiled load(const std::string& path) {
  auto f = MappedFile::open(path);
  return load_from_memory(f->data(), f->size(), path, f);
}

}  // namespace pareto::artifact
