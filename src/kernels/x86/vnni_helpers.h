// Small register helpers shared by the AVX512-VNNI dot-product files (each
// compiled with the AVX-512 flags; include only from those).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/quant_dot.h"

namespace pareto::kernels::avx512vnni {

// acc + the four byte products of each 32-bit lane (u8 unsigned, s8
// signed), in place: VPDPBUSD written out. With the intrinsic GCC copied
// each accumulator of a register tile to another register (and some to the
// stack) after every step: dozens of extra moves per k-step, which held the
// int8 conv tiles at about half the VNNI peak.
inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

inline __m512 block_scales(float s0, float s1) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(s0)), _mm256_castps_pd(_mm256_set1_ps(s1)), 1));
}

inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// 16 packed bytes -> 32 nibbles in the low and high 128-bit halves of a ymm.
inline __m256i unpack_q4(const uint8_t* qs) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0F));
  __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

inline __m512i pair(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_zextsi256_si512(a), b, 1); }

// Lane scales for a block pair whose 16-element groups carry their own int8
// scales (Q3_K, Q6_K): lane l (4 elements) takes group l / 4 of sc4[0..3],
// times s0 for the first block's lanes and s1 for the second's.
inline __m512 group_scales(const int8_t* sc4, float s0, float s1) {
  const __m512i expand = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  int32_t packed;
  std::memcpy(&packed, sc4, 4);
  const __m512 g = _mm512_cvtepi32_ps(_mm512_permutexvar_epi32(expand, _mm512_cvtepi8_epi32(_mm_cvtsi32_si128(packed))));
  return _mm512_mul_ps(g, block_scales(s0, s1));
}

inline __m256i act(const Q8aBlock& x) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)); }

}  // namespace pareto::kernels::avx512vnni
