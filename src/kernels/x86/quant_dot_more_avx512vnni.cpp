// AVX512-VNNI dot products for the remaining weight types: Q4_1 (scale and
// minimum), Q4_K, Q5_K and Q3_K (super-blocks of 256 with 6-bit sub-block scales)
// and BF16 (float activations, weights widened by a shift); attention over
// the int8 KV cache. Same scheme as
// quant_dot_avx512vnni.cpp: unsigned weights times signed activations with
// vpdpbusd, offsets removed through sums, scales applied to int32 lanes.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/quant_dot.h"
#include "kernels/x86/vnni_helpers.h"

namespace pareto::kernels::avx512vnni {

float q8a_q4_1_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const int64_t nb = n / 32;
  __m512 acc = _mm512_setzero_ps();
  float mins = 0.f, tail = 0.f;
  int64_t b = 0;
  for (; b + 1 < nb; b += 2, w += 40) {
    __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pair(unpack_q4(w + 4), unpack_q4(w + 24)), pair(act(x[b]), act(x[b + 1])));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), block_scales(f16(w) * x[b].d, f16(w + 20) * x[b + 1].d), acc);
    mins += f16(w + 2) * x[b].d * float(x[b].sum) + f16(w + 22) * x[b + 1].d * float(x[b + 1].sum);
  }
  if (b < nb) tail = q8a_q4_1_dot_ref(w, x + b, 32);
  return _mm512_reduce_add_ps(acc) + mins + tail;
}

// Q4_K and Q5_K: sub-blocks 2p (low nibbles) and 2p+1 (high nibbles) share
// 32 bytes; Q5_K adds a fifth bit per element from qh (bit j for sub-block j).
template <bool Five>
float k_quant_4_5_dot(const uint8_t* w, const Q8aBlock* x, int64_t n) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  __m512 acc = _mm512_setzero_ps();
  float mins = 0.f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += Five ? 176 : 144) {
    const float d = f16(w), dmin = f16(w + 2);
    const uint8_t* q = w + (Five ? 48 : 16);
    const Q8aBlock* xb = x + sb * 8;
    for (int p = 0; p < 4; ++p) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * p));
      __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      if constexpr (Five) {
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
        lo = _mm256_or_si256(lo, _mm256_maskz_mov_epi8(_mm256_test_epi8_mask(qh, _mm256_set1_epi8(char(1 << (2 * p)))), bit4));
        hi = _mm256_or_si256(hi, _mm256_maskz_mov_epi8(_mm256_test_epi8_mask(qh, _mm256_set1_epi8(char(1 << (2 * p + 1)))), bit4));
      }
      __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pair(lo, hi), pair(act(xb[2 * p]), act(xb[2 * p + 1])));
      uint8_t sc0, m0, sc1, m1;
      k_quant_scale_min(2 * p, w + 4, &sc0, &m0);
      k_quant_scale_min(2 * p + 1, w + 4, &sc1, &m1);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), block_scales(d * float(sc0) * xb[2 * p].d, d * float(sc1) * xb[2 * p + 1].d), acc);
      mins += dmin * (float(m0) * xb[2 * p].d * float(xb[2 * p].sum) + float(m1) * xb[2 * p + 1].d * float(xb[2 * p + 1].sum));
    }
  }
  return _mm512_reduce_add_ps(acc) - mins;
}

float q8a_q4_k_dot(const void* row, const Q8aBlock* x, int64_t n) { return k_quant_4_5_dot<false>(static_cast<const uint8_t*>(row), x, n); }
float q8a_q5_k_dot(const void* row, const Q8aBlock* x, int64_t n) { return k_quant_4_5_dot<true>(static_cast<const uint8_t*>(row), x, n); }

// Q3_K: element value (q & 3) - (high bit ? 0 : 4) is stored unsigned as
// (q & 3) | high << 2 (0..7); the -4 leaves through dpbusd(4, x) per lane.
// Each lane (4 elements) lies in one 16-element scale group.
float q8a_q3_k_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const __m256i m3 = _mm256_set1_epi8(0x03), bit2 = _mm256_set1_epi8(0x04);
  const __m512i k4 = _mm512_set1_epi8(4);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 110) {
    const float d = f16(w + 108);
    int8_t sc[16];
    q3_k_scales(w, sc);
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const Q8aBlock* xb = x + sb * 8;
    for (int b = 0; b < 8; b += 2) {  // activation blocks b, b+1 (same 128-element half)
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 + (b / 4) * 32));
      __m256i u[2];
      for (int k = 0; k < 2; ++k) {
        const int bb = b + k, shift = 2 * (bb % 4);
        const __mmask32 high = _mm256_test_epi8_mask(hm, _mm256_set1_epi8(char(1 << bb)));
        u[k] = _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(shift)), m3), _mm256_maskz_mov_epi8(high, bit2));
      }
      const __m512i xq = pair(act(xb[b]), act(xb[b + 1]));
      __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pair(u[0], u[1]), xq);
      dot = _mm512_sub_epi32(dot, _mm512_dpbusd_epi32(_mm512_setzero_si512(), k4, xq));
      const __m512 scales = group_scales(sc + 2 * b, d * xb[b].d, d * xb[b + 1].d);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, acc);
    }
  }
  return _mm512_reduce_add_ps(acc);
}

// Decode streams float rows from DRAM one after the other: fetch this far
// ahead (past the row end into the next rows) into L2, beyond what the
// out-of-order window keeps in flight.
constexpr int64_t kRowPrefetchBytes = 16384;
inline void prefetch_ahead(const void* p) { _mm_prefetch(static_cast<const char*>(p) + kRowPrefetchBytes, _MM_HINT_T2); }

float f32_bf16_dot(const void* row, const float* x, int64_t n) {
  const uint16_t* w = static_cast<const uint16_t*>(row);
  auto widen = [](const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
  };
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    prefetch_ahead(w + i);
    a0 = _mm512_fmadd_ps(widen(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(widen(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
  }
  float acc = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  if (i < n) acc += f32_bf16_dot_ref(w + i, x + i, n - i);
  return acc;
}

namespace {

// 16 weights from element i of a row of F16 (0), BF16 (1) or F32 (2).
template <int Kind>
inline __m512 widen16(const uint8_t* row, int64_t i) {
  if constexpr (Kind == 0) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  if constexpr (Kind == 1)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i))), 16));
  return _mm512_loadu_ps(reinterpret_cast<const float*>(row + 4 * i));
}

template <int Kind>
float element(const uint8_t* row, int64_t i) {
  if constexpr (Kind == 2) return reinterpret_cast<const float*>(row)[i];
  uint16_t h;
  std::memcpy(&h, row + 2 * i, 2);
  return Kind == 0 ? _cvtsh_ss(h) : _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(int(h) << 16)));
}

// R rows at once: R streams from DRAM in flight instead of one, each
// prefetched 16 KiB ahead; the activations load once for the R rows.
template <int Kind, int R>
void rows_dot(const uint8_t* w, int64_t row_bytes, const float* x, int64_t n, float* y) {
  constexpr int64_t E = Kind == 2 ? 4 : 2;
  __m512 acc[R];
  for (auto& a : acc) a = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 xv = _mm512_loadu_ps(x + i);
    for (int r = 0; r < R; ++r) {
      if ((i * E) % 64 == 0) prefetch_ahead(w + r * row_bytes + i * E);
      acc[r] = _mm512_fmadd_ps(widen16<Kind>(w + r * row_bytes, i), xv, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float s = _mm512_reduce_add_ps(acc[r]);
    for (int64_t k = i; k < n; ++k) s += element<Kind>(w + r * row_bytes, k) * x[k];
    y[r] = s;
  }
}

template <int Kind>
void float_rows(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) {
  const auto* p = static_cast<const uint8_t*>(w);
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) rows_dot<Kind, 4>(p + r * row_bytes, row_bytes, x, n, y + r);
  for (; r < rows; ++r) rows_dot<Kind, 1>(p + r * row_bytes, row_bytes, x, n, y + r);
}

}  // namespace

void f16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) { float_rows<0>(w, row_bytes, rows, x, n, y); }
void bf16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) { float_rows<1>(w, row_bytes, rows, x, n, y); }
void f32_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) { float_rows<2>(w, row_bytes, rows, x, n, y); }

// Attention over the int8 KV cache; head_dim a multiple of 16 (the dispatcher checks).
void q8kv_attention_head(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                         float* scratch, float* out) {
  auto widen = [](const uint8_t* p) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))); };
  const float scale = 1.f / std::sqrt(float(head_dim));
  float mx = -INFINITY;
  for (int64_t t = 0; t < n_pos; ++t) {
    const uint8_t* kt = k + t * stride;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < head_dim; i += 16) acc = _mm512_fmadd_ps(widen(kt + 4 + i), _mm512_loadu_ps(q + i), acc);
    float ks;
    std::memcpy(&ks, kt, 4);
    scratch[t] = _mm512_reduce_add_ps(acc) * ks * scale;
    mx = std::max(mx, scratch[t]);
  }
  float sum = 0;
  for (int64_t t = 0; t < n_pos; ++t) {
    scratch[t] = std::exp(scratch[t] - mx);
    sum += scratch[t];
  }
  const float inv = 1.f / sum;
  for (int64_t i = 0; i < head_dim; ++i) out[i] = 0.f;
  for (int64_t t = 0; t < n_pos; ++t) {
    const uint8_t* vt = v + t * stride;
    float vs;
    std::memcpy(&vs, vt, 4);
    const __m512 p = _mm512_set1_ps(scratch[t] * inv * vs);
    for (int64_t i = 0; i < head_dim; i += 16)
      _mm512_storeu_ps(out + i, _mm512_fmadd_ps(widen(vt + 4 + i), p, _mm512_loadu_ps(out + i)));
  }
}

}  // namespace pareto::kernels::avx512vnni
