// Integer MatMul by constant int8 weights, as the QDQ form
// MatMul(DequantizeLinear(QuantizeLinear(x)), DequantizeLinear(w)) defines
// it (passes/fold_qdq.cpp): y[r][j] = scale[j] * Σ_k (xq[r][k] - x_zero) *
// w[k][j], xq = QuantizeLinear(x, x_scale, x_zero) to uint8, w int8 with one
// scale per column (scale[j] = x_scale * w_scale[j]).
//
// The roles of the conv GEMM are swapped so that y comes out row-major, as
// MatMul writes it, with no transpose: the activation rows are the signed
// operand (xq - 128) and the weights the unsigned panel (w + 128). The two
// shifts change every sum by a per-row and a per-column term, added back
// in the epilogue; the true sum fits 32 bits (|Σ| <= k * 255 * 128 for
// k <= kMaxInt8ConvK), so the correction is exact even where the parts
// wrap.
#pragma once
#include <cstdint>
#include <vector>

namespace pareto::kernels {

// Columns per weight panel: each block is [k4/4][width][4] bytes, width 64
// (the last block: its columns rounded up to 16, padding zero).
constexpr int64_t kInt8MatmulBlock = 64;

struct Int8MatmulWeights {
  int64_t k = 0, n = 0, k4 = 0;   // k4: k rounded up to 4 (zero quads)
  std::vector<uint8_t> panels;    // w + 128, block after block
  std::vector<int32_t> col_sums;  // Σ_k w[k][j]
};

// w: [k][n] int8 (a MatMul's B, rounded per column).
Int8MatmulWeights pack_int8_matmul_weights(const int8_t* w, int64_t k, int64_t n);

// x: [rows][k] float; y: [rows][n]. Splits over column blocks and row
// blocks on the current pool; the same bits at any thread count.
void int8_matmul(const float* x, int64_t rows, const Int8MatmulWeights& w, float x_scale, int32_t x_zero, const float* scale, float* y);

// Whether int8_matmul runs a vector GEMM here (VNNI, SDOT or i8mm); where
// not, the runtime computes the same QDQ graph as a float MatMul of the
// input rounded to its uint8 grid (the scalar reference GEMM is slower).
bool int8_matmul_fast();

// Direct loops over the unpacked operands: the twin the tests compare with.
void int8_matmul_ref(const float* x, int64_t rows, int64_t k, int64_t n, const int8_t* w, float x_scale, int32_t x_zero,
                     const float* scale, float* y);

namespace avx512vnni {
// One output row: y[j] = scale[j] * float(acc[j] + fix + col_fix[j]), the
// adds wrapping in 32 bits (x86/int8_gemm_avx512vnni.cpp).
void int8_matmul_row(const int32_t* acc, int64_t n, int32_t fix, const int32_t* col_fix, const float* scale, float* y);
}  // namespace avx512vnni

}  // namespace pareto::kernels
