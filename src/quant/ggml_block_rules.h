// ggml's Q4_0 / Q8_0 block rules for quantizers that choose scales or codes
// themselves (GPTQ, importance-weighted rounding) but must write blocks that
// every reader decodes: the scale from the block (Q4_0 signed max / -8, Q8_0
// amax / 127), codes rounded like ggml and clamped (weights a method moved
// after fixing the scale can leave its range), and the 18 / 34-byte layout.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/quant_formats.h"

namespace pareto::quant {

inline bool is_q4_0(uint32_t type) { return type == uint32_t(kernels::GgmlType::q4_0); }
inline size_t block_bytes(uint32_t type) { return is_q4_0(type) ? 18 : 34; }

// ggml's scale for 32 values v[0], v[stride], ... (before f16 rounding).
inline float ggml_block_scale(uint32_t type, const float* v, int64_t stride = 1) {
  float amax = 0, mx = 0;
  for (int j = 0; j < 32; ++j)
    if (std::fabs(v[j * stride]) > amax) {
      amax = std::fabs(v[j * stride]);
      mx = v[j * stride];
    }
  return is_q4_0(type) ? mx / -8 : amax / 127;
}

// The code of v with inverse scale id (ggml multiplies by 1/d, not the f16 d).
inline int ggml_code(uint32_t type, float v, float id) {
  if (is_q4_0(type)) return std::clamp(int(std::floor(v * id + 8.5f)), 0, 15);
  return std::clamp(int(std::roundf(v * id)), -127, 127);
}
// What a reader decodes from a code with the block's f16-rounded scale dh.
inline float ggml_value(uint32_t type, int code, float dh) { return is_q4_0(type) ? float(code - 8) * dh : float(code) * dh; }
inline float f16_rounded(float d) { return half_to_float(float_to_half(d)); }

// One block: f16 scale, then Q4_0 nibbles (element j low, j + 16 high) or Q8_0 bytes.
inline void write_ggml_block(uint32_t type, float d, const int* codes, uint8_t* out) {
  const uint16_t h = float_to_half(d);
  std::memcpy(out, &h, 2);
  if (is_q4_0(type))
    for (int j = 0; j < 16; ++j) out[2 + j] = uint8_t(codes[j] | (codes[j + 16] << 4));
  else
    for (int j = 0; j < 32; ++j) out[2 + j] = uint8_t(int8_t(codes[j]));
}

}  // namespace pareto::quant
