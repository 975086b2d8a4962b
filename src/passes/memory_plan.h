// Memory planning: every intermediate tensor of a schedule gets an offset in
// one arena so that tensors alive at the same time never overlap. Lifetimes
// come from the schedule (ir::collect_buffers); outputs of view ops
// (Reshape, Squeeze, ...) share their input's buffer, and elementwise ops may
// write over an input that dies with them (in place). Five placement orders
// (by size, by breadth, in order, by size x lifetime, by lifetime) are tried
// and the smallest arena kept.
#pragma once
#include <cstddef>
#include <vector>

#include "ir/graph.h"
#include "ir/memory_plan.h"

namespace pareto::passes {

using ir::Buffer;
using ir::MemoryPlan;
using ir::plan_is_valid;
using ir::plan_matches;
using ir::writes_in_place;

// Plans the intermediates of `g` run in `order` whose types are static in
// `types` (per value id); graph inputs, outputs, constants and values read by
// subgraphs stay outside the arena. in_place: let elementwise ops reuse a
// dying input's buffer.
MemoryPlan plan_memory(const ir::Graph& g, const std::vector<int>& order, const std::vector<ir::ValueType>& types, bool in_place = true,
                       size_t alignment = 64);

// plan_memory with its defaults, in the shape runtime::ExecOptions::planner takes.
MemoryPlan plan_memory_default(const ir::Graph& g, const std::vector<int>& order, const std::vector<ir::ValueType>& types);

// The placement alone (for tests on synthetic lifetimes): sets offsets and
// arena_bytes, keeping the best of the five orders.
void place_buffers(MemoryPlan& plan);

}  // namespace pareto::passes
