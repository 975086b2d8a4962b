// Table lookup on bytes: y[i] = table[x[i]] with the 256-entry table of a
// uint8/int8 tensor's every value (passes/fold_qdq_lookup.cpp makes such
// tables from the elementwise ops between a DequantizeLinear and whatever
// reads their result). Bytes to bytes (a rounded output) or to floats.
#pragma once
#include <cstdint>

namespace pareto::kernels {

// The reference twins.
void lookup_bytes_ref(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);
void lookup_floats_ref(const uint8_t* x, int64_t n, const float* table, float* y);
// Dispatched (AVX-512 VBMI where the CPU has it).
void lookup_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);
void lookup_floats(const uint8_t* x, int64_t n, const float* table, float* y);

namespace avx512vbmi {
void lookup_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);
void lookup_floats(const uint8_t* x, int64_t n, const float* table, float* y);
}  // namespace avx512vbmi

}  // namespace pareto::kernels
