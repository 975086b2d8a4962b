// Y[t, r] = sum_k X[t, k] * W[r, k] for a weight matrix stored in any GGML
// type (F32 rows are used in place; quantized rows are dequantized a block
// of rows at a time into a per-thread buffer, never the whole matrix), then
// multiplied with the shared f32 GEMM.
#pragma once
#include <cstdint>

namespace pareto::kernels {

struct WeightMatrix {
  uint32_t type = 0;        // GGML type id
  const void* data = nullptr;
  int64_t rows = 0;         // output features
  int64_t cols = 0;         // input features (contiguous)
  // Non-null: a matrix repacked at load (kernels/packed_weights.h, the kind
  // follows from type); data then points at the packed quant bits and this
  // at the per-chunk scales.
  const void* packed_meta = nullptr;
};

// X: [tokens, cols] row-major (ldx = cols); Y: [tokens, rows] (ldy = rows).
void matmul_weights(const WeightMatrix& w, const float* x, int64_t tokens, float* y);
// Dequantizes row `r` of w into out[cols].
void weight_row(const WeightMatrix& w, int64_t r, float* out);

}  // namespace pareto::kernels
