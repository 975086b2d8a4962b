// SmoothQuant (Xiao et al.): migrate activation outliers into the weights
// with per-input-channel s_j = max|X_j|^alpha / max|W_j|^(1-alpha), so that
// both X/s and W*s quantize well to int8. Here: the single-layer W8A8
// simulation (per-tensor or per-token int8 activations, per-output-channel
// int8 weights) that the tests and the report use, and the smoothing scales.
#pragma once
#include <cstdint>
#include <vector>

#include "quant/calibrated_model.h"

namespace pareto::quant {

// SmoothQuant's migration strength for an architecture when none is given:
// 0.85 for Llama (the SmoothQuant authors' Llama setting), 0.8 Mistral, else 0.5.
float smoothquant_alpha(const std::string& architecture);

// The model with s = max|X|^alpha / max|W|^(1-alpha) per matmul group folded
// in as AWQ folds its scales, weights then rounded to options.type (q8_0 or
// q8_row: W8A8, as pareto's int8 matmuls quantize activations to int8).
CalibratedReport smoothquant_model(const std::string& in, const std::string& out, const CalibratedOptions& options);


enum class ActGranularity { per_tensor, per_token };

// s_j for W [rows, cols] from max|X_j| of the calibration activations.
std::vector<float> smoothing_scales(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x_max, float alpha);
// max|X_j| of X [tokens, cols].
std::vector<float> channel_max_abs(const std::vector<float>& x, int64_t cols);

// Squared output error of W8A8 (symmetric int8 activations at `act`
// granularity, int8 weights per output channel) against the float layer on
// x_test, with smoothing scales s (empty: none).
double w8a8_error(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x_test, const std::vector<float>& s,
                  ActGranularity act);

}  // namespace pareto::quant
