// Squared error of a quantized layer's outputs on activations x against the
// float weights: what GPTQ minimizes, for the tests that compare it with
// rounding to nearest.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/quant_formats.h"

namespace pareto::testing {

inline double layer_output_error(const std::vector<float>& w, const std::string& q, uint32_t type, int64_t rows, int64_t cols,
                                 const std::vector<float>& x) {
  const int64_t tokens = int64_t(x.size()) / cols;
  const size_t rb = kernels::ggml_row_size(type, cols);
  std::vector<float> row(static_cast<size_t>(cols));
  double e = 0;
  for (int64_t r = 0; r < rows; ++r) {
    kernels::dequantize_row_ref(type, q.data() + size_t(r) * rb, row.data(), cols);
    for (int64_t t = 0; t < tokens; ++t) {
      double d = 0;
      for (int64_t j = 0; j < cols; ++j) d += double(x[size_t(t * cols + j)]) * (row[size_t(j)] - w[size_t(r * cols + j)]);
      e += d * d;
    }
  }
  return e;
}

}  // namespace pareto::testing
