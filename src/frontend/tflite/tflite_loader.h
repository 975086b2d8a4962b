// TFLite FlatBuffers model -> ir::Model. Tensors keep TFLite's NHWC layout
// and integer types; each operator becomes a node of domain "pareto" named
// Tfl<Op> (TflConv2D, TflDepthwiseConv2D, ...) that carries the operator's
// options and the quantization parameters of its inputs and outputs as
// attributes (in<k>_scale / in<k>_zero / in<k>_axis, out<k>_...), so its
// kernel can redo TFLite's integer arithmetic exactly. Constant buffers stay
// in the mapped file. Errors name the file, the tensor or operator and the
// byte offset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "ir/graph.h"

namespace pareto::tflite {

// True when the bytes carry TFLite's file identifier ("TFL3" at offset 4).
bool is_tflite(const uint8_t* data, size_t size);

// Reads subgraph 0 (the model's main graph). If `owner` is set, constant
// tensors may alias [data, data + size) and keep the owner alive.
ir::Model load_model_from_memory(const uint8_t* data, size_t size, const std::string& name, std::shared_ptr<const void> owner = nullptr);

}  // namespace pareto::tflite
