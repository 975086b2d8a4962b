// AVX2 integer dot products for CPUs without AVX512-VNNI: maddubs multiplies
// unsigned weight bytes by signed activations into 16-bit pair sums (no
// saturation: Q4_0 nibbles are <= 15, Q8_0 weights enter as |w| with the
// sign moved onto the activation), madd folds them to int32 per block.
#include <immintrin.h>

#include <cstring>

#include "kernels/quant_dot.h"

namespace pareto::kernels::avx2 {

namespace {

inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i act(const Q8aBlock& x) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)); }

inline __m256i pair_sums(__m256i u8, __m256i s8) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u8, s8), _mm256_set1_epi16(1)); }

}  // namespace

float q8a_q4_0_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const __m128i mask = _mm_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.f;
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2));
    __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(v, mask)), _mm_and_si128(_mm_srli_epi16(v, 4), mask), 1);
    const float s = f16(w) * x[b].d;
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pair_sums(q, act(x[b]))), _mm256_set1_ps(s), acc);
    offsets += s * float(8 * x[b].sum);  // the -8 of every nibble
  }
  return hsum(acc) - offsets;
}

float q8a_q8_0_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b, w += 34) {
    __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));
    __m256i d = pair_sums(_mm256_sign_epi8(q, q), _mm256_sign_epi8(act(x[b]), q));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(f16(w) * x[b].d), acc);
  }
  return hsum(acc);
}

float f32_f16_dot(const void* row, const float* x, int64_t n) {
  const uint16_t* w = static_cast<const uint16_t*>(row);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i))), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
  }
  float acc = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) acc += _cvtsh_ss(w[i]) * x[i];
  return acc;
}

}  // namespace pareto::kernels::avx2
