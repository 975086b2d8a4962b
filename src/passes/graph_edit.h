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

// A scalar or per-channel constant: its values broadcast over [C] for a
// tensor shaped [N, C, ...] (shapes [], [1], [C], [C,1,1], [1,C,1,1], ...).
// Returns false when it broadcasts any other way.
bool per_channel(const Tensor& t, int64_t channels, int rank, std::vector<float>* out);

// An inference BatchNormalization with constant parameters as y = scale * x + shift
// per channel (scale = gamma / sqrt(var + eps), shift = beta - mean * scale).
bool batchnorm_affine(const GraphEdit& e, const ir::Node& bn, int64_t channels, std::vector<float>* scale, std::vector<float>* shift);

}  // namespace pareto::passes
