// AVX512-VNNI kernels for pareto's own formats: group-wise 2..8-bit rows
// unpacked to one byte per code (8 codes fill exactly `bits` bytes: spread
// with AVX512-VBMI vpermb + vpmultishiftqb, or BMI2 pdep) and dotted with Q8A
// activations, and the W8A8 int8 GEMM over per-token activations (4 rows x 4
// tokens per tile, pure vpdpbusd in the inner loop).
// GCC 12 flags the undefined starting values of its own reduce intrinsics (bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/pareto_formats.h"
#include "kernels/quant_dot.h"
#include "kernels/x86/vnni_helpers.h"

namespace pareto::kernels::avx512vnni {

namespace {

inline float hw_f16(uint16_t h) { return _cvtsh_ss(h); }

inline uint64_t byte_mask(int bits) { return 0x0101010101010101ull * ((1ull << bits) - 1); }

}  // namespace

// BMI2: pdep spreads the 8 codes held in `bits` bytes to 8 bytes.
void group_unpack_pdep(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm) {
  const uint64_t mask = byte_mask(f.bits);
  const int bits = f.bits;
  unpack_group_row(f, row, n, codes, dm, [&](const uint8_t* qs, uint8_t* out) {
    for (int k = 0; k < 4; ++k) {
      uint64_t v = 0;
      std::memcpy(&v, qs + k * bits, size_t(bits));
      v = _pdep_u64(v, mask);
      std::memcpy(out + 8 * k, &v, 8);
    }
  }, hw_f16);
}

// AVX512-VBMI: one masked load of the 4 * bits bytes, vpermb puts each group
// of 8 codes' bytes at the start of its 64-bit lane, vpmultishiftqb pulls
// code i from bit i * bits of the lane.
void group_unpack_vbmi(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm) {
  alignas(32) uint8_t idx[32], shifts[32];
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 8; ++j) {
      idx[8 * k + j] = uint8_t(k * f.bits + std::min(j, f.bits - 1));
      shifts[8 * k + j] = uint8_t(j * f.bits);
    }
  const __m256i vidx = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
  const __m256i vshift = _mm256_load_si256(reinterpret_cast<const __m256i*>(shifts));
  const __m256i vmask = _mm256_set1_epi8(char((1 << f.bits) - 1));
  const __mmask32 load = f.bits == 8 ? ~__mmask32(0) : __mmask32((1u << (4 * f.bits)) - 1);
  unpack_group_row(f, row, n, codes, dm, [&](const uint8_t* qs, uint8_t* out) {
    const __m256i v = _mm256_permutexvar_epi8(vidx, _mm256_maskz_loadu_epi8(load, qs));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_and_si256(_mm256_multishift_epi64_epi8(vshift, v), vmask));
  }, hw_f16);
}

float q8a_codes_dot(const uint8_t* codes, const float* dm, const Q8aBlock* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  float acc_m = 0;
  const int64_t nb = n / 32;
  int64_t s = 0;
  for (; s + 2 <= nb; s += 2) {
    const __m512i c = _mm512_loadu_si512(codes + s * 32);
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), c, pair(act(x[s]), act(x[s + 1])));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), block_scales(dm[2 * s] * x[s].d, dm[2 * s + 2] * x[s + 1].d), acc);
    acc_m += dm[2 * s + 1] * x[s].d * float(x[s].sum) + dm[2 * s + 3] * x[s + 1].d * float(x[s + 1].sum);
  }
  float tail = 0;
  if (s < nb) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + s * 32));
    const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), c, act(x[s]));
    const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dm[2 * s] * x[s].d));
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
    tail = _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2))) + dm[2 * s + 1] * x[s].d * float(x[s].sum);
  }
  return _mm512_reduce_add_ps(acc) + acc_m + tail;
}

void f32_q8tok_quantize(const float* x, int64_t n, uint8_t* q, float* scale) {
  __m512 vmax = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  float amax = _mm512_reduce_max_ps(vmax);
  for (int64_t k = i; k < n; ++k) amax = std::max(amax, std::fabs(x[k]));
  const float d = amax / 127.f, id = d ? 1.f / d : 0.f;
  const __m512 vid = _mm512_set1_ps(id);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
  for (i = 0; i + 16 <= n; i += 16) {
    __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vid));
    v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), off);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtepi32_epi8(v));
  }
  for (; i < n; ++i) q[i] = uint8_t(std::clamp(int(std::lrintf(x[i] * id)), -127, 127) + 128);
  *scale = d;
}

namespace {

// R rows x T tokens of dot products over n bytes; masked loads for the tail.
template <int R, int T>
void q8_row_tile(const uint8_t* const* w, const uint8_t* const* xt, int64_t n, int32_t out[R][T]) {
  __m512i acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
  int64_t k = 0;
  for (; k + 64 <= n; k += 64) {
    __m512i xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm512_loadu_si512(xt[t] + k);
    for (int r = 0; r < R; ++r) {
      // Decode streams each weight once: fetch ahead into L2 (as the packed kernels do).
      if (T == 1) _mm_prefetch(reinterpret_cast<const char*>(w[r] + k + 2048), _MM_HINT_T1);
      const __m512i wv = _mm512_loadu_si512(w[r] + k);
      for (int t = 0; t < T; ++t) acc[r][t] = dpbusd(acc[r][t], xv[t], wv);
    }
  }
  if (k < n) {
    const __mmask64 m = _bzhi_u64(~0ull, unsigned(n - k));
    __m512i xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm512_maskz_loadu_epi8(m, xt[t] + k);
    for (int r = 0; r < R; ++r) {
      const __m512i wv = _mm512_maskz_loadu_epi8(m, w[r] + k);
      for (int t = 0; t < T; ++t) acc[r][t] = dpbusd(acc[r][t], xv[t], wv);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r][t] = _mm512_reduce_add_epi32(acc[r][t]);
}

template <int R, int T>
void q8_row_block(const uint8_t* w, int64_t n, int64_t r, const uint8_t* xq, const float* xscale, int64_t t0, float* y, int64_t ldy) {
  const size_t stride = q8_row_size(n);
  const uint8_t* rows[R];
  const uint8_t* toks[T];
  float d[R];
  int32_t wsum[R];
  for (int i = 0; i < R; ++i) {
    const uint8_t* row = w + size_t(r + i) * stride;
    std::memcpy(&d[i], row, 4);
    std::memcpy(&wsum[i], row + 4, 4);
    rows[i] = row + kQ8RowHeader;
  }
  for (int t = 0; t < T; ++t) toks[t] = xq + (t0 + t) * n;
  int32_t dot[R][T];
  q8_row_tile<R, T>(rows, toks, n, dot);
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < T; ++t) y[(t0 + t) * ldy + r + i] = d[i] * xscale[t0 + t] * float(int64_t(dot[i][t]) - 128 * int64_t(wsum[i]));
}

}  // namespace

void q8_row_gemm(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens,
                 float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    int64_t t = 0;
    for (; t + 4 <= tokens; t += 4) q8_row_block<4, 4>(w, n, r, xq, xscale, t, y, ldy);
    for (; t < tokens; ++t) q8_row_block<4, 1>(w, n, r, xq, xscale, t, y, ldy);
  }
  for (; r < r1; ++r) {
    int64_t t = 0;
    for (; t + 4 <= tokens; t += 4) q8_row_block<1, 4>(w, n, r, xq, xscale, t, y, ldy);
    for (; t < tokens; ++t) q8_row_block<1, 1>(w, n, r, xq, xscale, t, y, ldy);
  }
}

}  // namespace pareto::kernels::avx512vnni
