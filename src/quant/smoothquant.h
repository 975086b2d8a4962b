// SmoothQuant (Xiao et al.): migrate activation outliers into the weights
// with per-input-channel s_j = max|X_j|^alpha / max|W_j|^(1-alpha), so that
// both X/s and W*s quantize well to int8. Here: the single-layer W8A8
// simulation (per-tensor or per-token int8 activations, per-output-channel
// int8 weights) that the tests and the report use, and the smoothing scales.
#pragma once
#include <cstdint>
#include <vector>

namespace pareto::quant {

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
