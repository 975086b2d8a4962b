// Memory planning: every intermediate tensor of a schedule gets an offset in
// one arena so that tensors alive at the same time never overlap. Lifetimes
// come from the schedule; outputs of view ops (Reshape, Squeeze, ...) share
// their input's buffer, and elementwise ops may write over an input that
// dies with them (in place). Five placement orders (by size, by breadth, in
// order, by size x lifetime, by lifetime) are tried and the smallest arena kept.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pareto::passes {

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

// Plans the intermediates of `g` run in `order` whose types are static in
// `types` (per value id); graph inputs, outputs, constants and values read by
// subgraphs stay outside the arena. in_place: let elementwise ops reuse a
// dying input's buffer.
MemoryPlan plan_memory(const ir::Graph& g, const std::vector<int>& order, const std::vector<ir::ValueType>& types, bool in_place = true,
                       size_t alignment = 64);

// The placement alone (for tests on synthetic lifetimes): sets offsets and
// arena_bytes, keeping the best of the five orders.
void place_buffers(MemoryPlan& plan);

// Whether the runtime may write node n's output over the input it shares a
// buffer with (elementwise ops planned in place).
bool writes_in_place(const ir::Node& n);

// Whether a plan read from a file fits this graph and schedule: every
// planned value is an intermediate the arena may hold, lives within its
// buffer's [first, last] and fits its bytes. Guards against a hostile plan
// that would let live tensors overlap.
bool plan_matches(const MemoryPlan& plan, const ir::Graph& g, const std::vector<int>& order, const std::vector<ir::ValueType>& types,
                  std::string* why);

// True when no two buffers that are live at the same position overlap in
// the arena and every offset is aligned; `why` says which pair breaks it.
bool plan_is_valid(const MemoryPlan& plan, std::string* why = nullptr);

}  // namespace pareto::passes
