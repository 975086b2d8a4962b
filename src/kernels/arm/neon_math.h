// Vector math shared by the NEON kernel files (softmax, epilogues): the
// AVX-512 files' exp at 4 lanes.
#pragma once
#include <arm_neon.h>

namespace pareto::kernels::neon {

// e^x = 2^n * e^r with n = round(x / ln2), r = x - n ln2 (ln2 split in a
// high and a low part so r keeps its precision), e^r by its Taylor series
// to r^6 (|r| <= 0.347: the next term is below 1.3e-7 relative). 2^n is
// applied as two exact powers of two (n reaches -149 and 128, outside one
// normal exponent field).
inline float32x4_t exp_ps(float32x4_t x) {
  x = vmaxq_f32(vdupq_n_f32(-103.f), vminq_f32(x, vdupq_n_f32(88.7f)));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.f / 720);
  p = vfmaq_f32(vdupq_n_f32(1.f / 120), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 24), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 6), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n), half = vshrq_n_s32(ni, 1), rest = vsubq_s32(ni, half);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(half, vdupq_n_s32(127)), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(rest, vdupq_n_s32(127)), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

// NaN lanes of x pass through (exp_ps's clamps would turn them into numbers).
inline float32x4_t keep_nan(float32x4_t x, float32x4_t y) { return vbslq_f32(vceqq_f32(x, x), y, x); }

// x / (1 + e^-x), the generic loop's formula (e^-x clamped, as on x86).
inline float32x4_t x_over_one_plus_exp_neg(float32x4_t num, float32x4_t x) {
  return keep_nan(x, vdivq_f32(num, vaddq_f32(vdupq_n_f32(1.f), exp_ps(vnegq_f32(x)))));
}
inline float32x4_t sigmoid_ps(float32x4_t x) { return x_over_one_plus_exp_neg(vdupq_n_f32(1.f), x); }
inline float32x4_t silu_ps(float32x4_t x) { return x_over_one_plus_exp_neg(x, x); }

}  // namespace pareto::kernels::neon
