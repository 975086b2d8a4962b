// Vector math shared by the AVX-512 kernel files (softmax, epilogues).
#pragma once
#include "kernels/x86/avx512_intrinsics.h"

namespace pareto::kernels::avx512 {

// e^x = 2^n * e^r with n = round(x / ln2), r = x - n ln2 (ln2 split in a
// high and a low part so r keeps its precision), e^r by its Taylor series
// to r^6 (|r| <= 0.347: the next term is below 1.3e-7 relative).
inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-103.f), _mm512_min_ps(x, _mm512_set1_ps(88.7f)));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);  // p * 2^n, exact and without building exponent bits by hand
}

// NaN lanes of x pass through (exp_ps's clamps would turn them into numbers).
inline __m512 keep_nan(__m512 x, __m512 y) { return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x); }

// x / (1 + e^-x), the generic loop's formula: e^-x is clamped (to 3.4e38
// for x < -88.7, giving x * 2.9e-39 rather than 0), so no lane needs a branch.
inline __m512 x_over_one_plus_exp_neg(__m512 num, __m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return keep_nan(x, _mm512_div_ps(num, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x)))));
}
inline __m512 sigmoid_ps(__m512 x) { return x_over_one_plus_exp_neg(_mm512_set1_ps(1.f), x); }
inline __m512 silu_ps(__m512 x) { return x_over_one_plus_exp_neg(x, x); }

}  // namespace pareto::kernels::avx512
