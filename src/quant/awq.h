// Activation-aware weight quantization (AWQ) for llama-family GGUF models:
// per-input-channel scales s = mean|x|^r (r on a grid, normalized), chosen per
// group of matmuls that read the same activations by the error of the
// group's outputs on calibration activations; the weights are multiplied by
// s and 1/s is folded into what produces the activations (the RMSNorm weight
// for q/k/v and gate/up, v's rows for o when heads are not grouped, up's rows
// for down), so the file stays an ordinary model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/calibrated_model.h"

namespace pareto::quant {

// AWQ scales and clipping, then the weights rounded to options.type.
CalibratedReport awq_quantize(const std::string& in, const std::string& out, const CalibratedOptions& options);

// One linear layer on its own (the synthetic-outlier tests): W [rows, cols]
// quantized to `type` by plain rounding and by AWQ (scales searched on
// x_calib), both measured as the squared output error on held-out
// activations x_test.
struct LayerComparison {
  double rtn_error = 0, awq_error = 0;
  float ratio = 0;  // the chosen exponent r
};
LayerComparison compare_on_layer(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x_calib,
                                 const std::vector<float>& x_test, uint32_t type, int grid = 20);

}  // namespace pareto::quant
