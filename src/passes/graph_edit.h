// Small graph-rewriting toolkit for the compiler passes: use counts, constant
// lookups, rewiring and deferred node removal (indices stay valid until
// commit()).
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pareto::passes {

class GraphEdit {
 public:
  explicit GraphEdit(ir::Graph& g);

  ir::Graph& graph() { return g_; }
  // Readers of a value: node inputs, implicit subgraph reads, graph outputs.
  int uses(int v) const { return v >= 0 ? uses_[size_t(v)] : 0; }
  bool is_output(int v) const;
  // Node indices that read v as an explicit input.
  const std::vector<int>& consumers(int v) const { return consumers_[size_t(v)]; }
  // The single consumer of v when it has exactly one use, else -1.
  int only_consumer(int v) const;
  const Tensor* constant(int v) const;
  int producer(int v) const { return v >= 0 ? g_.values[size_t(v)].producer : -1; }

  // Every read of `from` now reads `to`; `from` must not be a graph output.
  void replace_uses(int from, int to);
  // A new constant value (name made unique from `hint`).
  int add_constant(const std::string& hint, Tensor t);
  void kill(int node) { dead_[size_t(node)] = true; }
  bool dead(int node) const { return dead_[size_t(node)]; }
  // Drops killed nodes, renumbers producers, recomputes uses.
  void commit();

 private:
  void index();
  ir::Graph& g_;
  std::vector<int> uses_;
  std::vector<std::vector<int>> consumers_;
  std::vector<bool> dead_;
};

// Two value types of the same known rank whose dims agree wherever both
// are known (a model compiled for any input size knows its channels, not
// its rows): they may be the same shape at run time.
bool dims_may_match(const ir::ValueType& a, const ir::ValueType& b);

// A scalar or per-channel constant: its values broadcast over [C] for a
// tensor shaped [N, C, ...] (shapes [], [1], [C], [C,1,1], [1,C,1,1], ...).
// Returns false when it broadcasts any other way.
bool per_channel(const Tensor& t, int64_t channels, int rank, std::vector<float>* out);

// Runs one node's op at compile time on the given inputs (nullptr for an
// omitted one); false where the op is unknown or refuses them (the error is
// left for run time, where it names the node with real inputs).
bool run_at_compile_time(const ir::Node& n, int64_t opset, const std::vector<const Tensor*>& inputs, std::vector<Tensor>* outputs);

// A QuantizeLinear to uint8 with a constant scalar float scale and a
// constant scalar uint8 zero point (or none, 0): its scale and zero point.
bool uint8_quantize_params(const GraphEdit& e, const ir::Node& q, float* scale, int64_t* zero);

// Every reader of v rounds it to uint8 with one shared constant scale and
// zero point: convs that read the uint8 grid (fold_qdq's x_scale) and
// QuantizeLinear nodes to uint8 whose outputs are not graph outputs; nothing
// else reads v (no graph output, no subgraph). Both round by
// kernels::quantize_u8, so a producer may hand them its bytes instead.
bool rounding_readers_only(const ir::Graph& g, const GraphEdit& e, int v, float* scale, int64_t* zero);

// After rounding_readers_only(v): v now holds the bytes; its QuantizeLinear
// readers go, their readers read v. Returns how many went.
int hand_bytes_to_quantize_readers(ir::Graph& g, GraphEdit& e, int v);

// An inference BatchNormalization with constant parameters as y = scale * x + shift
// per channel (scale = gamma / sqrt(var + eps), shift = beta - mean * scale).
bool batchnorm_affine(const GraphEdit& e, const ir::Node& bn, int64_t channels, std::vector<float>* scale, std::vector<float>* shift);

}  // namespace pareto::passes
