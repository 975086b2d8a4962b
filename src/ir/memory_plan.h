// The memory plan of a schedule: which intermediates share a buffer, when
// each buffer is live, and where it sits in one arena. The type and the
// checks on it are facts about a graph, so they live in ir: the executor
// uses a plan and the artifact reader validates a stored one without any
// pass. Choosing the offsets (the optimization) is passes/memory_plan.h.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pareto::ir {

// One buffer: the values that share it (a tensor and its views or in-place
// successors) and the schedule positions [first, last] it is live for.
struct Buffer {
  std::vector<int> values;
  size_t bytes = 0;  // rounded up to the alignment
  int first = 0, last = 0;
  size_t offset = 0;
};

struct MemoryPlan {
  std::vector<Buffer> buffers;
  std::vector<int> buffer_of;  // per value id, -1 when not in the arena
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;      // every buffer separately
  size_t lower_bound = 0;      // the most bytes live at one schedule position
  std::string algorithm;
  size_t alignment = 64;
};

// The buffers of the intermediates of `g` run in `order` whose types are
// static in `types` (per value id), with their lifetimes, not yet placed
// (every offset 0). Graph inputs, outputs, constants and values read by
// subgraphs stay outside. in_place: let elementwise ops reuse a dying
// input's buffer.
MemoryPlan collect_buffers(const Graph& g, const std::vector<int>& order, const std::vector<ValueType>& types, bool in_place,
                           size_t alignment);

// Whether the runtime may write node n's output over the input it shares a
// buffer with (elementwise ops planned in place).
bool writes_in_place(const Node& n);

// Whether a plan read from a file fits this graph and schedule: every
// planned value is an intermediate the arena may hold, lives within its
// buffer's [first, last] and fits its bytes. Guards against a hostile plan
// that would let live tensors overlap.
bool plan_matches(const MemoryPlan& plan, const Graph& g, const std::vector<int>& order, const std::vector<ValueType>& types,
                  std::string* why);

// True when no two buffers that are live at the same position overlap in
// the arena and every offset is aligned; `why` says which pair breaks it.
bool plan_is_valid(const MemoryPlan& plan, std::string* why = nullptr);

}  // namespace pareto::ir
