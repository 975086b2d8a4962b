// Pieces shared by the reference quantizers of the GGML types
// (quantize_ref.cpp, quantize_ref_q56.cpp): ggml's rounding and scale
// packing, so that quantizing the same floats gives llama-quantize's bytes.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace pareto::kernels::ggml_ref {

constexpr int64_t QK = 32, QK_K = 256;

inline void put_f16(uint8_t* p, float v) {
  const uint16_t h = float_to_half(v);
  std::memcpy(p, &h, 2);
}

inline float get_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// Round half to even via the float mantissa trick ggml uses (|fval| < 2^22).
inline int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// The 6-bit scale and min of sub-block j from a K-quant's 12 packed bytes.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// ggml's make_qkx2_quants: codes in [0, nmax] with a min, the scale searched
// over nstep steps for the least weighted error (absolute with use_mad).
float qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux, float rmin, float rdelta,
                  int nstep, bool use_mad);

// Q4_K / Q5_K (type): the 8 sub-blocks' scales and mins packed in 6 bits
// each into y[4..16), d and dmin (f16) into y[0..4), then every code
// rounded again against the scales as stored.
void k_scales_and_codes(const float* x, const float* scales, const float* mins, float max_scale, float max_min, uint32_t type, uint8_t* y, uint8_t* L);

// One block each, in ggml's layouts: Q5_0 (22 bytes), Q5_1 (24), Q5_K (176), Q6_K (210).
void q5_0_block(const float* x, uint8_t* y);
void q5_1_block(const float* x, uint8_t* y);
void q5_k_block(const float* x, uint8_t* y);
void q6_k_block(const float* x, uint8_t* y);

}  // namespace pareto::kernels::ggml_ref
