// ONNX ModelProto -> ir::Model, with our own wire-format reader (see
// docs/ARCHITECTURE.md for why not libprotobuf). Errors name the file, the
// graph/node/tensor and the byte offset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "ir/graph.h"

namespace pareto::onnx {

// Loads a model file; weights in raw_data stay in the mapped file when aligned.
ir::Model load_model(const std::string& path);
// Loads from memory; `base_dir` resolves external data ("" = none allowed).
// If `owner` is set, tensors may alias [data, data+size) and keep owner alive.
ir::Model load_model_from_memory(const uint8_t* data, size_t size, const std::string& name,
                                 const std::string& base_dir, std::shared_ptr<const void> owner = nullptr);
// Parses a serialized TensorProto (the ONNX test data .pb files).
Tensor load_tensor_file(const std::string& path, std::string* name = nullptr);

}  // namespace pareto::onnx
