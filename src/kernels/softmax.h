// Softmax over the last axis of contiguous rows (the classifier heads of
// PP-OCR's recognizer: 6625 classes per time step). The dispatched entry
// point runs rows in parallel with the ISA's vector exp; the reference is
// the plain loop with std::exp.
#pragma once
#include <cstdint>

namespace pareto::kernels {

// y[r, :] = exp(x[r, :] - max) / sum, rows x len, row-major; y may equal x.
void f32_softmax_rows(const float* x, float* y, int64_t rows, int64_t len);
void f32_softmax_rows_ref(const float* x, float* y, int64_t rows, int64_t len);

namespace avx512 {
// One row; exp by range reduction to [-ln2/2, ln2/2] and a degree-6
// polynomial (max relative error ~2e-7).
void f32_softmax_row(const float* x, float* y, int64_t len);
}  // namespace avx512
namespace neon {  // the same exp at 4 lanes (arm/activation_neon.cpp)
void f32_softmax_row(const float* x, float* y, int64_t len);
}

}  // namespace pareto::kernels
