// What GPTQ rounding of an ONNX CNN's int8 weights (quant/layer_gptq.h)
// measures on whole models: the noise the quantized model adds to each
// layer's input, which widens that layer's H (LayerHessian::add_input_noise).
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "ir/graph.h"
#include "quant/onnx_qdq.h"

namespace pareto::quant {

// A uint8 activation grid: value = (q - zero) * scale.
struct UInt8Grid {
  float scale = 1;
  int32_t zero = 0;
};

// For each tensor of `inputs` (ids valid in both models: `rounded` is
// `clean` rewritten with Q/DQ pairs, which only adds values): the mean
// squared difference, per element and over the samples, between the value
// the int8 reader sees in `rounded` (the tensor put on its uint8 grid:
// `grids`, or absent, each sample's DynamicQuantizeLinear grid) and the
// float model's value. It holds the error of the layers before, the
// rounding, and the clipping of a calibrated range. A tensor whose size or
// type differs between the two runs (shapes computed from the data) counts 0.
std::map<int, double> input_noise_variance(const ir::Model& clean, const ir::Model& rounded, const std::vector<int>& inputs,
                                           const std::map<int, UInt8Grid>& grids, const std::vector<InputSample>& samples);

}  // namespace pareto::quant
