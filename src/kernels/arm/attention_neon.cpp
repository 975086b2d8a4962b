// Plain NEON (every AArch64 CPU) for the decode step's KV cache: f32 <-> f16
// rows (FCVTN / FCVTL, round to nearest even like the reference) and one
// head's attention over an f16 or int8 cache. The attention keeps the
// reference's shape (scores, softmax, weighted sum of values) with the
// cache rows widened in registers instead of through a float buffer; sums
// run in four or eight lanes, so results equal the reference within float
// rounding, not bit for bit.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/llm_ops.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels::neon {

namespace {

inline float32x4_t f16x4_at(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

// Eight int8 codes widened to two float vectors.
inline void i8x8_at(const int8_t* p, float32x4_t& lo, float32x4_t& hi) {
  const int16x8_t h = vmovl_s8(vld1_s8(p));
  lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(h)));
  hi = vcvtq_f32_s32(vmovl_high_s16(h));
}

// q . k for one cache row of n (a multiple of 8) values.
inline float score(const float* q, const uint16_t* k, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = vdupq_n_f32(0.f);
  for (int64_t i = 0; i < n; i += 8) {
    a0 = vfmaq_f32(a0, vld1q_f32(q + i), f16x4_at(k + i));
    a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), f16x4_at(k + i + 4));
  }
  return vaddvq_f32(vaddq_f32(a0, a1));
}
inline float score(const float* q, const uint8_t* row, int64_t n) {
  float scale;
  std::memcpy(&scale, row, 4);
  const int8_t* k = reinterpret_cast<const int8_t*>(row + 4);
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = vdupq_n_f32(0.f);
  for (int64_t i = 0; i < n; i += 8) {
    float32x4_t lo, hi;
    i8x8_at(k + i, lo, hi);
    a0 = vfmaq_f32(a0, vld1q_f32(q + i), lo);
    a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), hi);
  }
  return scale * vaddvq_f32(vaddq_f32(a0, a1));
}

// out[i0 .. i0+8) += p * v[i0 .. i0+8) of one cache row.
inline void add_values(const uint16_t* v, int64_t i0, float p, float32x4_t& lo, float32x4_t& hi) {
  lo = vfmaq_n_f32(lo, f16x4_at(v + i0), p);
  hi = vfmaq_n_f32(hi, f16x4_at(v + i0 + 4), p);
}
inline void add_values(const uint8_t* row, int64_t i0, float p, float32x4_t& lo, float32x4_t& hi) {
  float scale;
  std::memcpy(&scale, row, 4);
  float32x4_t a, b;
  i8x8_at(reinterpret_cast<const int8_t*>(row + 4) + i0, a, b);
  lo = vfmaq_n_f32(lo, a, p * scale);
  hi = vfmaq_n_f32(hi, b, p * scale);
}

// Scores, softmax, then the values' weighted sum 32 columns at a time (eight
// accumulators stay in registers across every position), then 8 at a time.
// Cache rows are `stride` elements (T = uint16_t) or bytes (uint8_t) apart.
template <class T>
void attention(const float* q, const T* k, const T* v, int64_t n_pos, int64_t head_dim, int64_t stride, float* scratch, float* out) {
  const float scale = 1.f / std::sqrt(float(head_dim));
  for (int64_t t = 0; t < n_pos; ++t) scratch[t] = score(q, k + t * stride, head_dim) * scale;
  attention_softmax(scratch, n_pos);
  int64_t i0 = 0;
  for (; i0 + 32 <= head_dim; i0 += 32) {
    float32x4_t acc[8];
    for (auto& a : acc) a = vdupq_n_f32(0.f);
    for (int64_t t = 0; t < n_pos; ++t)
      for (int c = 0; c < 4; ++c) add_values(v + t * stride, i0 + 8 * c, scratch[t], acc[2 * c], acc[2 * c + 1]);
    for (int c = 0; c < 8; ++c) vst1q_f32(out + i0 + 4 * c, acc[c]);
  }
  for (; i0 < head_dim; i0 += 8) {
    float32x4_t lo = vdupq_n_f32(0.f), hi = vdupq_n_f32(0.f);
    for (int64_t t = 0; t < n_pos; ++t) add_values(v + t * stride, i0, scratch[t], lo, hi);
    vst1q_f32(out + i0, lo);
    vst1q_f32(out + i0 + 4, hi);
  }
}

}  // namespace

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) {
    const __fp16 h = x[i];
    std::memcpy(y + i, &h, 2);
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, f16x4_at(x + i));
  for (; i < n; ++i) {
    __fp16 h;
    std::memcpy(&h, x + i, 2);
    y[i] = float(h);
  }
}

// head_dim % 8 == 0 (the dispatcher's condition).
void f16kv_attention_head(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out) {
  attention(q, k, v, n_pos, head_dim, stride, scratch, out);
}

// head_dim % 16 == 0 (the dispatcher's condition); stride in bytes.
void q8kv_attention_head(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                         float* scratch, float* out) {
  attention(q, k, v, n_pos, head_dim, stride, scratch, out);
}

}  // namespace pareto::kernels::neon
