// Float and integer (not quantized) TFLite operators as ONNX operators: the
// runtime's kernels (the ones the ONNX path runs) serve float TFLite models
// and the int32 index arithmetic of quantized ones, instead of a second set of
// NHWC kernels. Convolutions and pools take their input through a Transpose
// to NCHW and give it back in NHWC (weights are permuted once, at load);
// everything else maps to one or a few ONNX operators. Operators that only
// move data (PACK, UNPACK, GATHER_ND) and CAST are lowered for quantized
// tensors too: they do not requantize, so every data tensor must share one
// scale and zero point.
#pragma once
#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace pareto::tflite {

// Whether operator `code` is lowered here; `quantized`: whether any of its
// tensors carries quantization parameters.
bool lowers(int32_t code, bool quantized);

// Appends the ONNX nodes that compute `tfl` (a node as the reader built it:
// TFLite tensors as inputs and outputs, quantization parameters and the
// operator's options as attributes) to g, and makes them the producers of
// its outputs. `what` names the operator in errors.
void lower_operator(ir::Graph& g, int32_t code, const ir::Node& tfl, const std::string& what);

}  // namespace pareto::tflite
