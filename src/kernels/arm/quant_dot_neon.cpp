// Plain NEON (every AArch64 CPU): the quantized dots with the int8 dot
// product built from widening multiplies (|a*b| <= 16384 fits int16) and
// pairwise accumulation; the Q8A activation quantizer; F16 weights.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels::neon {

namespace {
inline int32x4_t dot16_widening(int32x4_t acc, int8x16_t a, int8x16_t b) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
}
}  // namespace
#define DOT16 dot16_widening
#include "kernels/arm/quant_dot_arm.inc"
#undef DOT16

// The reference's quantizer in vectors: the same amax, scale and rounding
// (vrndaq rounds half away from zero like roundf), NaN to -128, so the
// blocks are byte-identical for finite, infinite and quiet-NaN inputs (a
// signalling NaN, which no computation produces, would drop its lane's max).
void f32_q8a_quantize(const float* x, int64_t n, Q8aBlock* out) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + b * 32;
    float32x4_t v[8];
    // maxnm skips a (quiet) NaN as the reference's std::max(running, NaN) does.
    float32x4_t amax = vdupq_n_f32(0.f);
    for (int i = 0; i < 8; ++i) {
      v[i] = vld1q_f32(xb + 4 * i);
      amax = vmaxnmq_f32(amax, vabsq_f32(v[i]));
    }
    const float m = vmaxnmvq_f32(amax);
    const float d = m / 127.f, id = d > 0 ? 1.f / d : 0.f;
    const float32x4_t vid = vdupq_n_f32(id), lo = vdupq_n_f32(-128.f), hi = vdupq_n_f32(127.f);
    int32x4_t sum = vdupq_n_s32(0);
    int32x4_t q[8];
    for (int i = 0; i < 8; ++i) {
      const float32x4_t r = vrndaq_f32(vmulq_f32(v[i], vid));
      const float32x4_t kept = vbslq_f32(vcgtq_f32(r, lo), r, lo);  // NaN and <= -128 -> -128
      q[i] = vcvtq_s32_f32(vminq_f32(kept, hi));
      sum = vaddq_s32(sum, q[i]);
    }
    for (int i = 0; i < 8; i += 2) {
      const int16x8_t s16 = vcombine_s16(vmovn_s32(q[i]), vmovn_s32(q[i + 1]));
      vst1_s8(out[b].qs + 4 * i, vmovn_s16(s16));
    }
    out[b].d = half_to_float(float_to_half(d));
    out[b].sum = vaddvq_s32(sum);
  }
}

float f32_f16_dot(const void* row, const float* x, int64_t n) {
  const float16_t* w = static_cast<const float16_t*>(row);
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const float16x8_t h0 = vld1q_f16(w + i), h1 = vld1q_f16(w + i + 8);
    a0 = vfmaq_f32(a0, vcvt_f32_f16(vget_low_f16(h0)), vld1q_f32(x + i));
    a1 = vfmaq_f32(a1, vcvt_high_f32_f16(h0), vld1q_f32(x + i + 4));
    a2 = vfmaq_f32(a2, vcvt_f32_f16(vget_low_f16(h1)), vld1q_f32(x + i + 8));
    a3 = vfmaq_f32(a3, vcvt_high_f32_f16(h1), vld1q_f32(x + i + 12));
  }
  float acc = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
  const uint16_t* bits = static_cast<const uint16_t*>(row);
  for (; i < n; ++i) acc += half_to_float(bits[i]) * x[i];
  return acc;
}

namespace {

// Four weights widened to f32 lanes: F16 by FCVTL, BF16 by a 16-bit shift
// (both exact), F32 as they are.
enum class Wide { f16, bf16, f32 };
template <Wide K>
inline float32x4_t load4(const void* w, int64_t i) {
  if constexpr (K == Wide::f16) return vcvt_f32_f16(vld1_f16(static_cast<const float16_t*>(w) + i));
  else if constexpr (K == Wide::bf16) return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(static_cast<const uint16_t*>(w) + i), 16));
  else return vld1q_f32(static_cast<const float*>(w) + i);
}
template <Wide K>
inline float load1(const void* w, int64_t i) {
  if constexpr (K == Wide::f16) return float(static_cast<const __fp16*>(w)[i]);
  else if constexpr (K == Wide::bf16) return vgetq_lane_f32(vreinterpretq_f32_u32(vshll_n_u16(vld1_dup_u16(static_cast<const uint16_t*>(w) + i), 16)), 0);
  else return static_cast<const float*>(w)[i];
}

// y[r] = row r . x for `rows` rows `row_bytes` apart: four rows per pass share
// each load of x (decode reads every weight once; x stays in registers/L1).
template <Wide K>
void rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) {
  const uint8_t* base = static_cast<const uint8_t*>(w);
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const void* p[4] = {base + r * row_bytes, base + (r + 1) * row_bytes, base + (r + 2) * row_bytes, base + (r + 3) * row_bytes};
    float32x4_t acc[4] = {vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f)};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const float32x4_t xv = vld1q_f32(x + i);
      for (int j = 0; j < 4; ++j) acc[j] = vfmaq_f32(acc[j], load4<K>(p[j], i), xv);
    }
    for (int j = 0; j < 4; ++j) {
      float s = vaddvq_f32(acc[j]);
      for (int64_t t = i; t < n; ++t) s += load1<K>(p[j], t) * x[t];
      y[r + j] = s;
    }
  }
  for (; r < rows; ++r) {
    const void* p = base + r * row_bytes;
    float32x4_t acc = vdupq_n_f32(0.f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) acc = vfmaq_f32(acc, load4<K>(p, i), vld1q_f32(x + i));
    float s = vaddvq_f32(acc);
    for (; i < n; ++i) s += load1<K>(p, i) * x[i];
    y[r] = s;
  }
}

}  // namespace

float f32_bf16_dot(const void* row, const float* x, int64_t n) {
  float y;
  rows_dot<Wide::bf16>(row, 0, 1, x, n, &y);
  return y;
}
void f16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) {
  rows_dot<Wide::f16>(w, row_bytes, rows, x, n, y);
}
void bf16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) {
  rows_dot<Wide::bf16>(w, row_bytes, rows, x, n, y);
}
void f32_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y) {
  rows_dot<Wide::f32>(w, row_bytes, rows, x, n, y);
}

}  // namespace pareto::kernels::neon
