// What GPTQ rounding of an ONNX CNN's int8 weights (quant/layer_gptq.h)
// measures on whole models: the noise the quantized model adds to each
// layer's input, which widens that layer's H (LayerHessian::add_input_noise).
#pragma once
#include <map>
#include <vector>

#include "ir/graph.h"
#include "quant/onnx_qdq.h"

namespace pareto::quant {

// For each tensor of `inputs` (ids valid in both models: `rounded` is
// `clean` rewritten with Q/DQ pairs, which only adds values): the variance
// per element of rounded's value minus clean's over the samples, plus the
// tensor's own uint8 rounding as a reader quantizes it, step^2 / 12 (steps:
// its static step; absent, each sample's DynamicQuantizeLinear step). A
// tensor whose size or type differs between the two runs (shapes computed
// from the data) counts only its own rounding.
std::map<int, double> input_noise_variance(const ir::Model& clean, const ir::Model& rounded, const std::vector<int>& inputs,
                                           const std::map<int, float>& steps, const std::vector<InputSample>& samples);

}  // namespace pareto::quant
