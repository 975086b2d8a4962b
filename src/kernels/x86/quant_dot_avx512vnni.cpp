// AVX512-VNNI integer dot products. Two 32-weight blocks fill one zmm; vpdpbusd
// multiplies unsigned weights (Q4_0 nibbles 0..15, Q8_0 shifted by 128) by
// signed activations, and the offsets come back out through each activation
// block's integer sum. Per-block scales multiply the int32 lanes as floats,
// so the horizontal sum happens once per row.
// GCC 12's reduce intrinsics start from _mm256_undefined_pd(), which its own
// -Wmaybe-uninitialized flags (GCC bug 105593); the values are overwritten.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/quant_dot.h"
#include "kernels/x86/avx512_math.h"
#include "kernels/x86/vnni_helpers.h"

namespace pareto::kernels::avx512vnni {


void f32_q8a_quantize(const float* x, int64_t n, Q8aBlock* out) {
  for (int64_t b = 0; b < n / 32; ++b) {
    __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
    __m512 a = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
    float amax = _mm512_reduce_max_ps(a);
    float d = amax / 127.f, id = d > 0 ? 1.f / d : 0.f;
    __m512 s = _mm512_set1_ps(id);
    // roundf (half away from zero), like the reference and ggml: trunc(v + copysign(0.5, v)).
    const __m512i half = _mm512_castps_si512(_mm512_set1_ps(0.5f)), sign = _mm512_set1_epi32(int(0x80000000u));
    __m512 p0 = _mm512_mul_ps(v0, s), p1 = _mm512_mul_ps(v1, s);
    auto signed_half = [&](__m512 p) { return _mm512_castsi512_ps(_mm512_or_si512(half, _mm512_and_si512(_mm512_castps_si512(p), sign))); };
    // Clamped to int8 before the sum: a NaN or infinite activation (hostile
    // weights) converts to INT_MIN, and the sum must match the stored bytes.
    const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
    __m512i q0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(_mm512_add_ps(p0, signed_half(p0))), lo), hi);
    __m512i q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(_mm512_add_ps(p1, signed_half(p1))), lo), hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
    out[b].d = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    out[b].sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  }
}

float q8a_q4_0_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const int64_t nb = n / 32;
  __m512 acc = _mm512_setzero_ps();
  float tail = 0.f;
  int64_t b = 0;
  for (; b + 1 < nb; b += 2, w += 36) {
    __m512i wq = pair(unpack_q4(w + 2), unpack_q4(w + 20));
    __m512i xq = pair(act(x[b]), act(x[b + 1]));
    __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq, xq);
    float s0 = f16(w) * x[b].d, s1 = f16(w + 18) * x[b + 1].d;
    // The -8 offset of Q4_0, removed through the activation sums: spread over the 8 lanes of each block.
    __m512i off = _mm512_inserti64x4(_mm512_set1_epi32(-8 * x[b].sum), _mm256_set1_epi32(-8 * x[b + 1].sum), 1);
    off = _mm512_mask_blend_epi32(0x0101, _mm512_setzero_si512(), off);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(dot, off)), block_scales(s0, s1), acc);
  }
  if (b < nb) tail = q8a_q4_0_dot_ref(w, x + b, 32);  // odd last block
  return _mm512_reduce_add_ps(acc) + tail;
}

float q8a_q8_0_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const int64_t nb = n / 32;
  const __m256i flip = _mm256_set1_epi8(char(0x80));
  __m512 acc = _mm512_setzero_ps();
  float tail = 0.f;
  int64_t b = 0;
  for (; b + 1 < nb; b += 2, w += 68) {
    // w + 128 as unsigned: sum((w+128)*x) - 128*sum(x) = sum(w*x)
    __m256i w0 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2)), flip);
    __m256i w1 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 36)), flip);
    __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pair(w0, w1), pair(act(x[b]), act(x[b + 1])));
    __m512i off = _mm512_inserti64x4(_mm512_set1_epi32(-128 * x[b].sum), _mm256_set1_epi32(-128 * x[b + 1].sum), 1);
    off = _mm512_mask_blend_epi32(0x0101, _mm512_setzero_si512(), off);
    float s0 = f16(w) * x[b].d, s1 = f16(w + 34) * x[b + 1].d;
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(dot, off)), block_scales(s0, s1), acc);
  }
  if (b < nb) tail = q8a_q8_0_dot_ref(w, x + b, 32);  // odd last block
  return _mm512_reduce_add_ps(acc) + tail;
}

// Q5_0: the fifth bits come from qh through a byte mask (one masked move).
float q8a_q5_0_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const int64_t nb = n / 32;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  auto unpack = [&](const uint8_t* blk) {
    uint32_t qh;
    std::memcpy(&qh, blk + 2, 4);
    return _mm256_or_si256(unpack_q4(blk + 6), _mm256_maskz_mov_epi8(qh, bit4));
  };
  __m512 acc = _mm512_setzero_ps();
  float tail = 0.f;
  int64_t b = 0;
  for (; b + 1 < nb; b += 2, w += 44) {
    __m512i off = _mm512_inserti64x4(_mm512_set1_epi32(-16 * x[b].sum), _mm256_set1_epi32(-16 * x[b + 1].sum), 1);
    off = _mm512_mask_blend_epi32(0x0101, _mm512_setzero_si512(), off);
    __m512i dot = _mm512_dpbusd_epi32(off, pair(unpack(w), unpack(w + 22)), pair(act(x[b]), act(x[b + 1])));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), block_scales(f16(w) * x[b].d, f16(w + 22) * x[b + 1].d), acc);
  }
  if (b < nb) tail = q8a_q5_0_dot_ref(w, x + b, 32);
  return _mm512_reduce_add_ps(acc) + tail;
}

// Q6_K: the four 32-element blocks of each 128-element chunk come from the
// low/high nibbles of ql[0..31] / ql[32..63] and 2-bit fields of qh[0..31].
// Each dpbusd lane covers 4 elements of one 16-element scale group; the -32
// offset leaves through dpbusd(32, x) per lane.
float q8a_q6_k_dot(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
  const __m512i k32 = _mm512_set1_epi8(32);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 210) {
    const float d = f16(w + 208);
    const int8_t* sc = reinterpret_cast<const int8_t*>(w + 192);
    const Q8aBlock* xb = x + sb * 8;
    for (int c = 0; c < 2; ++c) {
      const __m256i L0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * c));
      const __m256i L1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * c + 32));
      const __m256i H = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 128 + 32 * c));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(L0, m4), _mm256_slli_epi16(_mm256_and_si256(H, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(L1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 6), m2), 4));
      for (int p = 0; p < 2; ++p) {
        const int j = 4 * c + 2 * p;  // activation blocks j, j+1 of this super-block
        const __m512i xq = pair(act(xb[j]), act(xb[j + 1]));
        __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pair(q[2 * p], q[2 * p + 1]), xq);
        dot = _mm512_sub_epi32(dot, _mm512_dpbusd_epi32(_mm512_setzero_si512(), k32, xq));
        const __m512 scales = group_scales(sc + 2 * j, d * xb[j].d, d * xb[j + 1].d);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, acc);
      }
    }
  }
  return _mm512_reduce_add_ps(acc);
}

float f32_f16_dot(const void* row, const float* x, int64_t n) {
  const uint16_t* w = static_cast<const uint16_t*>(row);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    // decode streams the rows from DRAM: fetch 16 KiB ahead into L2
    _mm_prefetch(reinterpret_cast<const char*>(w + i) + 16384, _MM_HINT_T2);
    a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16))), _mm512_loadu_ps(x + i + 16), a1);
  }
  float acc = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; i < n; ++i) acc += _cvtsh_ss(w[i]) * x[i];
  return acc;
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  for (; i < n; ++i) y[i] = _cvtsh_ss(x[i]);
}

namespace {

float f16_dot(const uint16_t* k, const float* q, int64_t head_dim) {
  int64_t i = 0;
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  for (; i + 32 <= head_dim; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + i))), _mm512_loadu_ps(q + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + i + 16))), _mm512_loadu_ps(q + i + 16), a1);
  }
  for (; i + 8 <= head_dim; i += 8)  // head_dim is a multiple of 8 (checked by the dispatcher)
    a0 = _mm512_add_ps(a0, _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i))),
                                                                _mm256_loadu_ps(q + i))));
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// scratch[0..n) = exp(scratch - max), returns the sum; 16 lanes at a time.
float exp_shifted_sum(float* scratch, int64_t n) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  int64_t t = 0;
  for (; t + 16 <= n; t += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(scratch + t));
  float m = _mm512_reduce_max_ps(mx);
  for (int64_t i = t; i < n; ++i) m = std::max(m, scratch[i]);
  const __m512 vm = _mm512_set1_ps(m);
  __m512 sum = _mm512_setzero_ps();
  for (t = 0; t < n; t += 16) {
    const __mmask16 k = n - t >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - t)) - 1);
    const __m512 e = avx512::exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, scratch + t), vm));
    _mm512_mask_storeu_ps(scratch + t, k, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, e));
  }
  return _mm512_reduce_add_ps(sum);
}

}  // namespace

// One query head over an f16 KV cache: scores by 512-bit dots, the softmax's
// exponentials 16 at a time, and the weighted sum of V kept in registers for
// each 64 output columns (one pass over V per 64 columns instead of a load
// and store of `out` per position).
void f16kv_attention_head(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out) {
  const float scale = 1.f / std::sqrt(float(head_dim));
  for (int64_t t = 0; t < n_pos; ++t) scratch[t] = f16_dot(k + t * stride, q, head_dim) * scale;
  const float inv = 1.f / exp_shifted_sum(scratch, n_pos);
  int64_t i = 0;
  for (; i + 64 <= head_dim; i += 64) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t t = 0; t < n_pos; ++t) {
      const __m512 p = _mm512_set1_ps(scratch[t]);
      const uint16_t* vt = v + t * stride + i;
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(vt + 16 * j))), p, acc[j]);
    }
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(out + i + 16 * j, _mm512_mul_ps(acc[j], _mm512_set1_ps(inv)));
  }
  for (; i < head_dim; i += 8) {  // the last columns of a head_dim that is not a multiple of 64
    __m256 acc = _mm256_setzero_ps();
    for (int64_t t = 0; t < n_pos; ++t)
      acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + t * stride + i))), _mm256_set1_ps(scratch[t]), acc);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(acc, _mm256_set1_ps(inv)));
  }
}

}  // namespace pareto::kernels::avx512vnni
