// Activation-aware weight quantization (AWQ) for llama-family GGUF models:
// per-input-channel scales s = mean|x|^r (r on a grid, normalized), chosen per
// group of matmuls that read the same activations by the error of the
// group's outputs on calibration activations; the weights are multiplied by
// s and 1/s is folded into what produces the activations (the RMSNorm weight
// for q/k/v and gate/up, v's rows for o when heads are not grouped, up's rows
// for down), so the file stays an ordinary model.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "quant/calibrated_model.h"

namespace pareto::quant {

// AWQ scales and clipping, then the weights rounded to options.type.
CalibratedReport awq_quantize(const std::string& in, const std::string& out, const CalibratedOptions& options);

// AWQ on one block of a layer's f32 copies y, in place: the attention block
// (q, k, v judged by the attention output, 1/s folded into attn_norm; then
// o, folded into v's rows) or the MLP block (gate, up by the MLP output,
// into ffn_norm; then down, into up's rows). The weights are left scaled
// and clipped (clip) for rounding to `type`; nothing outside the block
// changes, so a block's result depends on its own weights and inputs only
// (pareto tune chooses AWQ per block). acts: the layer's four inputs
// (llm::MatmulInput order). Returns the r chosen for the block's two groups.
std::array<float, 2> awq_block(const llm::ModelConfig& c, CalibratedLayer& y, const std::vector<Activations>& acts, int64_t ctx, int64_t error_tokens,
                               bool attention, uint32_t type, int grid, bool clip);

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
