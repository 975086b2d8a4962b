// Table lookup on bytes: y[i] = table[x[i]] with the 256-entry table of a
// uint8/int8 tensor's every value (passes/fold_qdq_lookup.cpp makes such
// tables from the elementwise ops between a DequantizeLinear and whatever
// reads their result). Bytes to bytes (a rounded output) or to floats; a
// float table is used as four byte planes (split once per table: the
// runtime keeps them with the node).
#pragma once
#include <cstdint>

namespace pareto::kernels {

// planes[k * 256 + j] = byte k (little-endian) of table[j]: 1024 bytes.
void split_float_table(const float* table, uint8_t* planes);

// The reference twins.
void lookup_bytes_ref(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);
void lookup_floats_ref(const uint8_t* x, int64_t n, const uint8_t* planes, float* y);
// Dispatched (AVX-512 VBMI where the CPU has it).
void lookup_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);
void lookup_floats(const uint8_t* x, int64_t n, const uint8_t* planes, float* y);

namespace avx512vbmi {
void lookup_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);
void lookup_floats(const uint8_t* x, int64_t n, const uint8_t* planes, float* y);
}  // namespace avx512vbmi

}  // namespace pareto::kernels
