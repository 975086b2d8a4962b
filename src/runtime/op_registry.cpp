#include "runtime/op_registry.h"

#include <algorithm>

namespace pareto::runtime {

void OpRegistry::add(const std::string& type, RunFn run, InferFn infer) {
  for (OpDef& d : ops_)
    if (d.type == type) {
      d.run = run;
      d.infer = infer;
      return;
    }
  ops_.push_back(OpDef{type, run, infer});
}

const OpDef* OpRegistry::find(const std::string& domain, const std::string& type) const {
  // pareto's own fused ops live in domain "pareto" under names ONNX does not use.
  if (!domain.empty() && domain != "ai.onnx" && domain != "pareto") return nullptr;
  // The TFLite frontend's ops read attributes only that frontend writes.
  if (type.rfind("Tfl", 0) == 0 && domain != "pareto") return nullptr;
  for (const OpDef& d : ops_)
    if (d.type == type) return &d;
  return nullptr;
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> n;
  for (const OpDef& d : ops_) n.push_back(d.type);
  std::sort(n.begin(), n.end());
  return n;
}

const OpRegistry& op_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_math_ops(r);
    register_nn_ops(r);
    register_pool_ops(r);
    register_shape_ops(r);
    register_tensor_ops(r);
    register_reduce_ops(r);
    register_control_ops(r);
    register_rnn_ops(r);
    register_resize_ops(r);
    register_index_ops(r);
    register_norm_ops(r);
    register_quant_ops(r);
    register_tflite_ops(r);
    register_tflite_lstm_ops(r);
    register_fused_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace pareto::runtime
