// GPTQ (Frantar et al.): quantizes a weight matrix column by column, each
// column's rounding error spread over the columns not yet quantized through
// the inverse Hessian of the layer's calibration inputs (H = X^T X), so the
// layer's outputs on those inputs move as little as possible. Writes GGML
// blocks directly (Q4_0 / Q8_0): each 32-column block's scale is taken from
// the error-updated weights when the block is reached.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pareto::quant {

struct GptqResult {
  std::string bytes;      // rows * ggml_row_size(type, cols)
  bool fell_back = false;  // Cholesky failed at every damping: plain rounding was used
  double damping = 0;      // the damping that worked, as a share of mean(diag H)
  int dead_columns = 0;    // inputs that were always zero (their weights are dropped)
};

// w: [rows, cols] row-major, cols % 32 == 0; x: calibration inputs [tokens, cols].
GptqResult gptq_quantize(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x, uint32_t type,
                         double damping = 0.01, int64_t block = 128);

}  // namespace pareto::quant
