// Runs a graph node by node in topological order with bound inputs, and
// frees each intermediate tensor after its last consumer.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/function_ref.h"
#include "ir/graph.h"
#include "ir/memory_plan.h"
#include "runtime/op_registry.h"
#include "runtime/thread_choice.h"

namespace pareto::runtime {

// One tensor an op read or wrote, for the profiler's byte counts and cache
// model: `id` is its data address (two views of one buffer share it, and a
// reused arena slot is the same cache lines, which is what reuse means).
struct TensorUse {
  uintptr_t id = 0;
  uint64_t bytes = 0;
  Shape shape;
  DType dtype = DType::undefined;
  bool constant = false;  // a graph constant (weights), not an activation
  bool present = false;   // false: an optional input left out
};

struct ProfileRecord {
  std::string op_type;
  std::string node_name;
  // Exclusive time: a node with subgraphs (If, Loop) does not count the
  // nodes of its bodies, which have records of their own.
  double seconds = 0;
  Shape output_shape;
  const ir::Node* node = nullptr;  // valid while the session's graph lives
  std::string path;                // OpContext::path: the kernel the op chose, when it says
  int depth = 0;                   // 0: top-level graph, 1: a body of one of its nodes ...
  std::vector<TensorUse> inputs, outputs;
  uint64_t live_bytes = 0;  // activations held by this graph invocation after the node ran
};

struct ExecOptions {
  bool profile = false;
  int threads = 1;
  // Place the top-level graph's intermediates (those with static shapes) in
  // one arena laid out by `planner`. The planner is passed in (the api layer
  // gives passes::plan_memory) so the runtime depends on no pass; the arena
  // needs one (the constructor refuses arena without a planner).
  bool arena = false;
  using Planner = ir::MemoryPlan (*)(const ir::Graph& g, const std::vector<int>& order, const std::vector<ir::ValueType>& types);
  Planner planner = nullptr;
  // Learn per node and input shape whether it runs faster inline than split
  // over the pool (runtime/thread_choice.h). PARETO_ADAPTIVE_THREADS=0 turns
  // it off (every node split), for comparisons.
  bool adaptive_threads = true;
};

// The tensors of one graph invocation; subgraph scopes chain to their parent
// so a body can read values of the enclosing graph by name.
struct Scope {
  const ir::Graph* graph = nullptr;
  // Computed values and bound inputs; a constant's slot stays empty (a copy
  // per value and run cost an atomic count each: 500 for PP-OCR cls).
  std::vector<Tensor> slots;
  const Scope* parent = nullptr;
  const Tensor* lookup(const std::string& name) const;
  // Value v: its slot where set, else the graph's constant (undefined where neither is).
  const Tensor& value(size_t v) const { return slots[v].defined() ? slots[v] : graph->values[v].constant; }
};

// What makes a node_cache entry: a borrowed callable (the lookups run on
// every conv call; a std::function would allocate for the makers' captures).
using CacheMaker = FunctionRef<std::shared_ptr<const void>()>;

class Executor {
 public:
  Executor(int64_t opset, ExecOptions options);
  // Binds `inputs` to g.inputs in order and returns g.outputs in order.
  std::vector<Tensor> run_graph(const ir::Graph& g, const std::vector<Tensor>& inputs, const Scope* parent);
  std::vector<Tensor> run_graph(const ir::Graph& g, const std::vector<Tensor>& inputs, const Scope* parent, int depth);
  const std::vector<ProfileRecord>& profile() const { return profile_; }
  // The memory plan of top-level graph g (planned on first use; null when the arena is off).
  const ir::MemoryPlan* memory_plan(const ir::Graph& g);
  // Uses a plan read from a compiled artifact for top-level graph g, after
  // checking it fits the graph (throws naming the problem otherwise).
  void adopt_memory_plan(const ir::Graph& g, std::unique_ptr<ir::MemoryPlan> plan);
  void clear_profile() { profile_.clear(); }
  void set_profile(bool on) { options_.profile = on; }
  // Data an op derives once per node and keeps for the executor's lifetime
  // (a conv's weights packed for the GEMM, its geometry): made by
  // `make` on first use; `stamp` names how it was made (e.g. the kernel
  // level and form), and each stamp is kept: one node may need two forms.
  std::shared_ptr<const void> node_cache(const ir::Node& node, int stamp, const CacheMaker& make);
  int64_t opset() const { return opset_; }
  // True while a top-level graph still times runs to choose its inline nodes.
  bool learning_threads() const;

 private:
  struct Plan {
    std::vector<int> order;
    std::vector<const OpDef*> defs;
    std::vector<std::vector<int>> free_after;  // per position in order
    std::vector<int> outer_values;              // value ids read from the parent scope
    std::unique_ptr<ir::MemoryPlan> memory;  // top-level graph with the arena on
    std::shared_ptr<void> arena;
    // Per position, per output: its arena slot (null: allocate). No slot when the
    // output shares its buffer with one of the node's inputs and the op does not
    // work in place (a view op that materializes, e.g. a converting Cast, would
    // overwrite its input).
    std::vector<std::vector<std::pair<void*, size_t>>> slots;
    std::unique_ptr<ThreadChoice> threads;  // used for top-level graphs run on a pool wider than one
  };
  const Plan& plan_for(const ir::Graph& g);
  void record_profile(const ir::Node& node, const OpContext& ctx, const Scope& scope, double seconds, size_t first_child, int depth);
  void finish_memory(const ir::Graph& g, Plan& plan);

  int64_t opset_;
  ExecOptions options_;
  mutable std::mutex plans_mutex_;
  std::map<const ir::Graph*, std::unique_ptr<Plan>> plans_;
  std::vector<ProfileRecord> profile_;
  double profile_overhead_ = 0;  // seconds spent recording profiles
  std::mutex cache_mutex_;
  std::map<std::pair<const ir::Node*, int>, std::shared_ptr<const void>> node_cache_;
};

// One error listing every op type pareto cannot run, with node names.
void check_supported(const ir::Graph& g);

}  // namespace pareto::runtime
