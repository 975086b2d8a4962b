// GGML tensor types: block layouts and the scalar reference dequantizers.
// The reference follows ggml's operation order exactly (and this file's
// translation unit is built without FMA contraction) so results match
// llama.cpp bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/dtype.h"

namespace pareto::kernels {

enum class GgmlType : uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
  iq4_nl = 20, iq4_xs = 23, i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, bf16 = 30,
};

// The f16 stored (little-endian, maybe unaligned) at p, as float.
inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// The 16 non-uniform values IQ4_NL and IQ4_XS nibbles index.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

struct GgmlTypeTraits {
  const char* name = nullptr;  // nullptr: unknown to pareto
  int64_t block_size = 0;      // elements per block
  size_t type_size = 0;        // bytes per block
  bool can_dequantize = false;
};

const GgmlTypeTraits& ggml_type_traits(uint32_t type);
// Bytes of a row of n elements; 0 if n is not a multiple of the block size.
size_t ggml_row_size(uint32_t type, int64_t n);

// Dequantizes one block (block_size elements) of a quantized type; null for
// F32/F16/BF16 and unknown types.
using DequantBlockFn = void (*)(const uint8_t* block, float* out);
DequantBlockFn dequantize_block_fn(uint32_t type);

// Dequantizes n elements (a multiple of the block size) starting at a block boundary.
void dequantize_row_ref(uint32_t type, const void* src, float* dst, int64_t n);

// Types quantize_row_ref can produce.
bool can_quantize(uint32_t type);
// Quantizes n floats (a multiple of the block size) with ggml's reference rounding.
void quantize_row_ref(uint32_t type, const float* src, void* dst, int64_t n);

}  // namespace pareto::kernels
