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
// blocks are byte-identical.
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

}  // namespace pareto::kernels::neon
