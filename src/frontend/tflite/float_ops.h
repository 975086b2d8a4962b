// Float TFLite operators as ONNX operators: the runtime's fp32 kernels (the
// ones the ONNX path runs) serve float TFLite models, instead of a second set
// of NHWC float kernels. Convolutions and pools take their input through a
// Transpose to NCHW and give it back in NHWC (weights are permuted once, at
// load); everything else maps one to one.
#pragma once
#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace pareto::tflite {

// Whether `code` has a float lowering.
bool has_float_lowering(int32_t code);

// Appends the ONNX nodes that compute `tfl` (a node as the reader built it:
// op type Tfl*, TFLite tensors as inputs and outputs, the operator's options
// as attributes) to g, and makes them the producers of its outputs.
// `what` names the operator in errors.
void lower_float_operator(ir::Graph& g, int32_t code, const ir::Node& tfl, const std::string& what);

}  // namespace pareto::tflite
