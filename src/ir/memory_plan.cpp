#include "ir/memory_plan.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "core/checked.h"
#include "core/dtype.h"
#include "pareto/limits.hpp"

namespace pareto::ir {

namespace {

// Ops whose output may be a view of input 0 (the runtime returns the input's memory).
bool view_op(const std::string& op) {
  static const std::set<std::string> ops = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Cast", "CastLike"};
  return ops.count(op) > 0;
}

// Elementwise ops that can write their output over an input of the same size.
bool in_place_op(const std::string& op) {
  static const std::set<std::string> ops = {"Relu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "LeakyRelu", "Exp", "Log",
                                            "Neg",  "Abs",     "Sqrt", "Erf",  "Elu",         "Selu",      "Softplus",  "Reciprocal"};
  return ops.count(op) > 0;
}

}  // namespace

// FusedAdd (a + a * gate + upsample(b)) reads each element of its input 0
// before it writes that element, so it may write over input 0; not when it
// rounds its output to uint8 (a different size, and PlaneSink stages it).
// PP-OCR det's largest one read 12 MB and wrote 10 MB into fresh lines.
bool writes_in_place(const Node& n) {
  if (n.domain == "pareto") return n.op_type == "FusedAdd" && !n.has_attr("out_scale");
  return n.domain.empty() && in_place_op(n.op_type);
}

namespace {
size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
}  // namespace

// Lifetimes and buffer sharing, without placement.
MemoryPlan collect_buffers(const Graph& g, const std::vector<int>& order, const std::vector<ValueType>& types, bool in_place,
                           size_t alignment) {
  MemoryPlan plan;
  plan.alignment = alignment;
  const size_t nv = g.values.size();
  std::vector<int> first(nv, -1), last(nv, -1);
  std::vector<bool> excluded(nv, false);
  for (int v : g.outputs) excluded[size_t(v)] = true;
  for (int v : g.inputs) excluded[size_t(v)] = true;
  for (size_t v = 0; v < nv; ++v)
    if (g.values[v].constant.defined() || g.values[v].is_outer) excluded[v] = true;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const Node& n = g.nodes[size_t(order[pos])];
    for (int v : n.outputs)
      if (v >= 0 && first[size_t(v)] < 0) first[size_t(v)] = int(pos);
    for (int v : n.inputs)
      if (v >= 0) last[size_t(v)] = int(pos);
    // Values a subgraph reads, and what If/Loop return (maybe outer tensors), stay out.
    for (int v : g.implicit_inputs(n)) excluded[size_t(v)] = true;
    if (!subgraphs(n).empty())
      for (int v : n.outputs)
        if (v >= 0) excluded[size_t(v)] = true;
  }
  // Union-find over values that must share a buffer.
  std::vector<int> parent(nv);
  std::iota(parent.begin(), parent.end(), 0);
  std::function<int(int)> root = [&](int v) { return parent[size_t(v)] == v ? v : parent[size_t(v)] = root(parent[size_t(v)]); };
  auto bytes_of = [&](int v) -> size_t {
    const ValueType& t = types[size_t(v)];
    if (!t.fully_known() || dtype_size(t.dtype) == 0) return 0;
    // Checked: a hostile static shape must not wrap into a small size (its
    // buffer would then be too small for the tensor written into it).
    std::optional<uint64_t> n = dtype_size(t.dtype);
    for (int64_t d : t.dims)
      if (n) n = checked_mul(*n, uint64_t(d));
    const std::string what = "value '" + g.values[size_t(v)].name + "' of static shape " + shape_to_string(t.dims) + " (bytes)";
    if (!n) fail_model(what + ": the size overflows 64 bits");
    check_limit(what, *n, "tensor-bytes");
    return size_t(*n);
  };
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const Node& n = g.nodes[size_t(order[pos])];
    if (n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty() || n.outputs[0] < 0) continue;
    const int in = n.inputs[0], out = n.outputs[0];
    const bool alias = view_op(n.op_type) && n.domain.empty();
    const bool reuse = in_place && writes_in_place(n) && last[size_t(in)] == int(pos) && bytes_of(in) == bytes_of(out) &&
                       bytes_of(in) > 0;
    if (!alias && !reuse) continue;
    if (excluded[size_t(in)] || excluded[size_t(out)]) {  // a view of something outside keeps its output outside too
      excluded[size_t(in)] = excluded[size_t(out)] = true;
      continue;
    }
    parent[size_t(root(out))] = root(in);
  }
  // Exclusion spreads over a whole alias group.
  for (size_t v = 0; v < nv; ++v)
    if (excluded[v]) excluded[size_t(root(int(v)))] = true;
  std::vector<int> buffer_of_root(nv, -1);
  plan.buffer_of.assign(nv, -1);
  for (size_t v = 0; v < nv; ++v) {
    if (first[v] < 0 || excluded[size_t(root(int(v)))]) continue;
    const size_t b = bytes_of(int(v));
    if (b == 0) continue;
    const int r = root(int(v));
    int& bi = buffer_of_root[size_t(r)];
    if (bi < 0) {
      bi = int(plan.buffers.size());
      plan.buffers.push_back(Buffer{{}, 0, first[v], first[v], 0});
    }
    Buffer& buf = plan.buffers[size_t(bi)];
    buf.values.push_back(int(v));
    buf.bytes = std::max(buf.bytes, round_up(b, alignment));
    buf.first = std::min(buf.first, first[v]);
    buf.last = std::max({buf.last, last[v] < 0 ? first[v] : last[v], first[v]});
    plan.buffer_of[v] = bi;
  }
  // A value whose size is unknown but shares a group with planned ones cannot be planned: drop the group.
  for (size_t v = 0; v < nv; ++v)
    if (first[v] >= 0 && !excluded[size_t(root(int(v)))] && bytes_of(int(v)) == 0 && buffer_of_root[size_t(root(int(v)))] >= 0) {
      Buffer& buf = plan.buffers[size_t(buffer_of_root[size_t(root(int(v)))])];
      for (int u : buf.values) plan.buffer_of[size_t(u)] = -1;
      buf.values.clear();
      buf.bytes = 0;
    }
  plan.buffers.erase(std::remove_if(plan.buffers.begin(), plan.buffers.end(), [](const Buffer& b) { return b.values.empty(); }),
                     plan.buffers.end());
  plan.buffer_of.assign(nv, -1);
  for (size_t b = 0; b < plan.buffers.size(); ++b)
    for (int v : plan.buffers[b].values) plan.buffer_of[size_t(v)] = int(b);
  return plan;
}

bool plan_matches(const MemoryPlan& plan, const Graph& g, const std::vector<int>& order, const std::vector<ValueType>& types,
                  std::string* why) {
  // The fresh plan marks which values may be in the arena and their true lifetimes.
  const MemoryPlan fresh = collect_buffers(g, order, types, true, plan.alignment);
  if (plan.buffer_of.size() != g.values.size()) {
    *why = "plan covers " + std::to_string(plan.buffer_of.size()) + " values, the graph has " + std::to_string(g.values.size());
    return false;
  }
  for (size_t v = 0; v < g.values.size(); ++v) {
    const int b = plan.buffer_of[v];
    if (b < 0) continue;
    const int f = fresh.buffer_of[v];
    if (f < 0) {
      *why = "value '" + g.values[v].name + "' may not live in the arena";
      return false;
    }
    const Buffer& have = plan.buffers[size_t(b)];
    const Buffer& need = fresh.buffers[size_t(f)];
    if (have.first > need.first || have.last < need.last || have.bytes < need.bytes) {
      *why = "buffer of '" + g.values[v].name + "' is shorter-lived or smaller than the value";
      return false;
    }
  }
  return true;
}

bool plan_is_valid(const MemoryPlan& plan, std::string* why) {
  const auto& b = plan.buffers;
  auto fail = [&](const std::string& what) {
    if (why) *why = what;
    return false;
  };
  uint64_t end = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    // offset + bytes could wrap for a hostile plan: compare without adding.
    if (b[i].offset % plan.alignment || b[i].bytes > plan.arena_bytes || b[i].offset > plan.arena_bytes - b[i].bytes)
      return fail("buffer " + std::to_string(i) + " misaligned or outside the arena");
    if (b[i].first < 0 || b[i].last < b[i].first) return fail("buffer " + std::to_string(i) + " has no lifetime");
    end = std::max<uint64_t>(end, b[i].offset + b[i].bytes);
  }
  // The arena is what the buffers span (rounded up to the alignment): no
  // larger, so a stored plan cannot make the executor allocate more than
  // its tensors need.
  if (plan.arena_bytes > (end + plan.alignment - 1) / plan.alignment * plan.alignment)
    return fail("arena of " + std::to_string(plan.arena_bytes) + " bytes is larger than its buffers span (" + std::to_string(end) + ")");
  // Sweep over positions, keeping the buffers live at the current position
  // by offset: they must be pairwise disjoint, so a starting buffer need only
  // be compared with its neighbours (n log n, also for hostile plans of a
  // million buffers).
  struct Event {
    int64_t at;
    bool start;
    size_t buffer;
  };
  std::vector<Event> events;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i].bytes == 0) continue;
    events.push_back({b[i].first, true, i});
    events.push_back({int64_t(b[i].last) + 1, false, i});
  }
  std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
    return x.at != y.at ? x.at < y.at : (!x.start && y.start);  // a buffer ending at t is gone before one starting at t
  });
  std::map<uint64_t, size_t> live;  // offset -> buffer
  for (const Event& e : events) {
    const Buffer& x = b[e.buffer];
    if (!e.start) {
      live.erase(x.offset);
      continue;
    }
    auto next = live.lower_bound(x.offset);
    if (next != live.end() && next->first < x.offset + x.bytes)
      return fail("buffers " + std::to_string(e.buffer) + " and " + std::to_string(next->second) + " are live together and overlap");
    if (next != live.begin()) {
      auto prev = std::prev(next);
      if (prev->first + b[prev->second].bytes > x.offset)
        return fail("buffers " + std::to_string(e.buffer) + " and " + std::to_string(prev->second) + " are live together and overlap");
    }
    live.emplace(x.offset, e.buffer);
  }
  return true;
}

}  // namespace pareto::ir
