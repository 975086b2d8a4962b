// Unpacking of one 512-weight chunk of the repacked layout
// (kernels/packed_weights.h) into unsigned bytes and scale vectors, shared
// by the AVX512-VNNI kernel and the AMX kernel (which stores the bytes into
// its tiles). Included only by translation units built with AVX-512 BW and
// F16C; the anonymous namespace gives each of them its own copy, so units
// built for different instruction sets never share one definition.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {
namespace {

// IQ4 table values as stored (+ 128, unsigned for vpdpbusd).
struct Iq4Stored {
  alignas(16) uint8_t v[16];
};
constexpr Iq4Stored make_iq4_stored() {
  Iq4Stored t{};
  for (int i = 0; i < 16; ++i) t.v[i] = uint8_t(kIq4nlValues[i] + 128);
  return t;
}
constexpr Iq4Stored kIq4Stored = make_iq4_stored();

inline __mmask64 mask_at(const uint8_t* p) {
  uint64_t m;
  std::memcpy(&m, p, 8);
  return _cvtu64_mask64(m);
}

// Decode streams rows from DRAM: prefetch this many bytes ahead of each row,
// further than the out-of-order window reaches, into L2 (whose miss queue is
// deeper than L1's).
constexpr int64_t kPrefetchAhead = 16384;

constexpr bool has_mins(PackedKind k) { return packed_has_mins(k); }

// A chunk's scale vectors (lane l = block l): sv[0] the blocks' scales
// (halves kinds: of their first 16 weights); sv[1] the minimums (K-quants,
// Q4_1, Q5_1) or the last 16 weights' scales (Q6_K, Q3_K, Q2_K); Q2_K's
// minimums of the first and last 16 in sv[2], sv[3].
template <PackedKind K>
inline void chunk_scales(const uint8_t* meta, __m512 (&sv)[4]) {
  auto f16x16 = [&](int at) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(meta + at))); };
  if constexpr (K == PackedKind::q4_0 || K == PackedKind::q8_0 || K == PackedKind::q5_0 || K == PackedKind::iq4_nl) {
    sv[0] = f16x16(0);
  } else if constexpr (K == PackedKind::q4_1 || K == PackedKind::q5_1) {
    sv[0] = f16x16(0);
    sv[1] = f16x16(32);
  } else {
    // lanes 0..7 take the chunk's first super-block, 8..15 its second
    const __m512i first = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    auto bytes = [&](int at, bool is_signed) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(meta + at));
      return is_signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
    };
    auto to_ps = [](__m512i v) { return _mm512_cvtepi32_ps(v); };
    if constexpr (has_mins(K) || K == PackedKind::q2_k) {
      const __m512 f = _mm512_castps128_ps512(_mm_loadu_ps(reinterpret_cast<const float*>(meta)));  // d0 d1 dmin0 dmin1
      const __m512 dv = _mm512_permutexvar_ps(first, f), mv = _mm512_permutexvar_ps(_mm512_add_epi32(first, _mm512_set1_epi32(2)), f);
      if constexpr (K == PackedKind::q2_k) {  // scale | min << 4 per half block
        const __m512i lo = bytes(16, false), hi = bytes(32, false), m4 = _mm512_set1_epi32(0xF);
        sv[0] = _mm512_mul_ps(to_ps(_mm512_and_si512(lo, m4)), dv);
        sv[1] = _mm512_mul_ps(to_ps(_mm512_and_si512(hi, m4)), dv);
        sv[2] = _mm512_mul_ps(to_ps(_mm512_srli_epi32(lo, 4)), mv);
        sv[3] = _mm512_mul_ps(to_ps(_mm512_srli_epi32(hi, 4)), mv);
      } else {
        sv[0] = _mm512_mul_ps(to_ps(bytes(16, false)), dv);
        sv[1] = _mm512_mul_ps(to_ps(bytes(32, false)), mv);
      }
    } else {  // Q6_K, Q3_K, IQ4_XS: signed scales per block (Q6_K, Q3_K: per half block)
      const __m512 dv = _mm512_permutexvar_ps(first, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(meta)))));
      sv[0] = _mm512_mul_ps(to_ps(bytes(8, true)), dv);
      if constexpr (packed_halves(K)) sv[1] = _mm512_mul_ps(to_ps(bytes(24, true)), dv);
    }
  }
}

// The eight steps of one row chunk as unsigned bytes, lanes 0..15 (a whole
// chunk: steps of 64 bytes) or the first `blocks` lanes of a short last one
// (steps of 4 * blocks bytes, loaded under a mask; the other lanes zero).
template <PackedKind K, bool Short>
inline void chunk_quants(const uint8_t* q, int blocks, __m512i* wq) {
  const int64_t step = Short ? 4 * blocks : 64;
  const __mmask64 lanes = Short ? _cvtu64_mask64((uint64_t(1) << step) - 1) : _cvtu64_mask64(~uint64_t(0));
  auto load = [&](int s) { return Short ? _mm512_maskz_loadu_epi8(lanes, q + step * s) : _mm512_loadu_si512(q + step * s); };
  if constexpr (K == PackedKind::q8_0) {
    for (int s = 0; s < 8; ++s) wq[s] = load(s);
  } else if constexpr (packed_crumbs(K)) {  // Q2_K, Q3_K: whole 64-byte vectors, short chunk or not
    // 16-bit shifts: the bits a shift moves across a byte's edge land
    // outside the mask that follows it.
    const __m512i c[2] = {_mm512_loadu_si512(q), _mm512_loadu_si512(q + 64)}, m3 = _mm512_set1_epi8(3);
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      const __m512i lo = s % 4 ? _mm512_srli_epi16(c[s / 4], unsigned(2 * (s % 4))) : c[s / 4];
      if constexpr (K == PackedKind::q2_k) {
        wq[s] = _mm512_and_si512(lo, m3);
      } else {  // bit s of the high byte to bit 2, then (lo & 3) | hi
        const __m512i h = _mm512_loadu_si512(q + 128);
        const __m512i hs = s < 2 ? _mm512_slli_epi16(h, unsigned(2 - s)) : s > 2 ? _mm512_srli_epi16(h, unsigned(s - 2)) : h;
        wq[s] = _mm512_ternarylogic_epi32(lo, _mm512_and_si512(hs, _mm512_set1_epi8(4)), m3, 0xEC);  // (A & C) | B
      }
    }
  } else {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int s = 0; s < 4; ++s) {
      const __m512i v = load(s);
      wq[s] = _mm512_and_si512(v, m4);
      wq[s + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
    const uint8_t* planes = q + 4 * step;
    if constexpr (packed_high_bits(K) >= 1)
      for (int s = 0; s < 8; ++s) wq[s] = _mm512_mask_add_epi8(wq[s], mask_at(planes + 8 * s), wq[s], _mm512_set1_epi8(0x10));
    if constexpr (packed_high_bits(K) >= 2)
      for (int s = 0; s < 8; ++s) wq[s] = _mm512_mask_add_epi8(wq[s], mask_at(planes + 64 + 8 * s), wq[s], _mm512_set1_epi8(0x20));
    if constexpr (packed_lookup(K)) {
      // nibble -> table value + 128 (unsigned), one byte shuffle per step
      const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4Stored.v)));
      for (int s = 0; s < 8; ++s) wq[s] = _mm512_shuffle_epi8(table, wq[s]);
    }
  }
}

}  // namespace
}  // namespace pareto::kernels
