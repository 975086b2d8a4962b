// The op table: for each ONNX op type, a run function (computes outputs from
// bound inputs, allocating them) and optionally an infer function (output
// types from static input types, and values where they can be known early).
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace pareto::runtime {

class Executor;
struct Scope;

struct OpContext {
  const ir::Node& node;
  int64_t opset;
  std::vector<const Tensor*> inputs;  // nullptr where the optional input is absent
  std::vector<Tensor> outputs;
  Executor* executor = nullptr;
  const Scope* scope = nullptr;  // for subgraph execution

  size_t num_inputs() const { return inputs.size(); }
  bool has(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& in(size_t i) const {
    if (!has(i)) fail_model(node.label() + ": required input " + std::to_string(i) + " is missing");
    return *inputs[i];
  }
  // Where the memory plan put each output (null: allocate), and its capacity.
  const std::vector<std::pair<void*, size_t>>* planned = nullptr;
  std::shared_ptr<const void> arena;  // keeps the planned memory alive in the tensors
  // The kernel an op chose, when it has several ("winograd", "int8", "bf16",
  // "f32"): the profiler counts what ran, not what the node asked for.
  const char* path = nullptr;

  Tensor& out(size_t i, DType dtype, Shape shape) {
    if (i >= outputs.size())  // the model declares fewer outputs than the operator writes
      fail_model(node.label() + ": the operator writes output " + std::to_string(i) + ", the node declares " + std::to_string(outputs.size()));
    if (planned && i < planned->size() && (*planned)[i].first) {
      // Compared by division: a hostile shape's byte count can wrap 2^64 to
      // a small number that would pass a multiplied comparison.
      const size_t esize = dtype_size(dtype);
      if (esize && uint64_t(shape_numel(shape)) <= (*planned)[i].second / esize)
        return outputs[i] = Tensor::wrap(dtype, shape, arena, (*planned)[i].first);
    }
    outputs[i] = Tensor::empty(dtype, std::move(shape));
    return outputs[i];
  }
  void set_out(size_t i, Tensor t) {
    if (i < outputs.size()) outputs[i] = std::move(t);
  }
  [[noreturn]] void unsupported(const std::string& what) const { fail_unsupported(node.label() + ": " + what); }
  [[noreturn]] void invalid(const std::string& what) const { fail_model(node.label() + ": " + what); }
};

struct InferContext {
  const ir::Node& node;
  int64_t opset;
  std::vector<const ir::ValueType*> in_types;  // nullptr where absent
  std::vector<const Tensor*> in_values;        // known constant values, else nullptr
  std::vector<ir::ValueType> out_types;
  std::vector<Tensor> out_values;  // set where the value is known statically (e.g. Shape)

  const ir::ValueType* type(size_t i) const { return i < in_types.size() ? in_types[i] : nullptr; }
  const Tensor* value(size_t i) const { return i < in_values.size() ? in_values[i] : nullptr; }
};

using RunFn = void (*)(OpContext&);
using InferFn = void (*)(InferContext&);

struct OpDef {
  std::string type;
  RunFn run = nullptr;
  InferFn infer = nullptr;
};

class OpRegistry {
 public:
  void add(const std::string& type, RunFn run, InferFn infer = nullptr);
  const OpDef* find(const std::string& domain, const std::string& type) const;
  std::vector<std::string> names() const;

 private:
  std::vector<OpDef> ops_;
};

// The registry with every op pareto implements (built once).
const OpRegistry& op_registry();

// Per-family registration, one per file in runtime/ops/.
void register_elementwise_ops(OpRegistry& r);
void register_math_ops(OpRegistry& r);
void register_nn_ops(OpRegistry& r);
void register_pool_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_tensor_ops(OpRegistry& r);
void register_reduce_ops(OpRegistry& r);
void register_control_ops(OpRegistry& r);
void register_rnn_ops(OpRegistry& r);
void register_resize_ops(OpRegistry& r);
void register_index_ops(OpRegistry& r);
void register_norm_ops(OpRegistry& r);
void register_quant_ops(OpRegistry& r);
void register_tflite_ops(OpRegistry& r);  // the TFLite frontend's Tfl* ops (domain pareto)
void register_tflite_lstm_ops(OpRegistry& r);  // its integer LSTM
void register_fused_ops(OpRegistry& r);  // after the ops it wraps

}  // namespace pareto::runtime
