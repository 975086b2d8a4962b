// A few rows times a constant matrix of few rows and many columns
// (y [rows][n] = a [rows][k] x B [k][n], k <= 128): PP-OCR rec's classifier
// head, [T, 120] x [120, 6625], T the line's time steps. B is laid out once
// in panels of 32 columns, each panel's k rows contiguous, so that a call
// streams B in the order the small-k kernel reads it: read where it lies,
// B's rows are 26 KB apart and each 32-column tile touched 2k lines no
// prefetcher follows (2.6x slower than copying); copied on every call,
// a 3.2 MB copy per line.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pareto::kernels {

constexpr int64_t kSmallKPanel = 32;  // columns per panel: the AVX-512 small-k tile's

// Floats of B [k][n] in panels (the last one zero-padded to 32 columns).
size_t small_k_panels_floats(int64_t k, int64_t n);
void pack_small_k_panels(const float* b, int64_t k, int64_t n, float* panels);
// y = a x B for B packed by pack_small_k_panels; where small_k_gemm_applicable(k).
// The sums are small_k_gemm's: bit for bit the 1x1-conv form's (pointwise_conv).
void small_k_matmul_panels(const float* a, int64_t rows, int64_t k, const float* panels, int64_t n, float* y);

}  // namespace pareto::kernels
