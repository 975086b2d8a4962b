// Conv/GEMM epilogues with AVX-512: residual add, the piecewise-linear
// activations and the affine after them in one pass over the block (the
// generic loop is built for the baseline ISA: 4 lanes, and a second pass for
// the affine). Same operation order as the generic loop, so the same bits,
// except sigmoid and SiLU, whose polynomial exp differs from std::exp by a
// few units in the last place; tanh stays generic.
#include "kernels/x86/avx512_intrinsics.h"
// Products and sums rounded separately, as in the generic twin: both give
// the same bits.
#pragma GCC optimize("fp-contract=off")

#include "kernels/activation.h"
#include "kernels/x86/avx512_math.h"

namespace pareto::kernels::avx512 {

namespace {

template <class F>
void each(const Activation& a, float* y, const float* r, int64_t n, F f) {
  const __m512 sc = _mm512_set1_ps(a.scale), sh = _mm512_set1_ps(a.shift), fl = _mm512_set1_ps(a.floor);
  const bool affine = a.has_affine(), floor = a.has_floor();
  auto one = [&](__m512 v) {
    v = f(v);
    if (affine) v = _mm512_add_ps(_mm512_mul_ps(sc, v), sh);
    if (!floor) return v;
    // v where v > floor or v is NaN, else floor: as the unfused Max (NaN stays, max(-0, +0) = +0).
    const __mmask16 keep = _mm512_cmp_ps_mask(v, fl, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(keep, fl, v);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(y + i);
    if (r) v = _mm512_add_ps(v, _mm512_loadu_ps(r + i));
    _mm512_storeu_ps(y + i, one(v));
  }
  if (i < n) {  // the tail through a small buffer: no access past y or r
    alignas(64) float buf[16] = {};
    const int64_t left = n - i;
    for (int64_t k = 0; k < left; ++k) buf[k] = r ? y[i + k] + r[i + k] : y[i + k];
    _mm512_store_ps(buf, one(_mm512_load_ps(buf)));
    for (int64_t k = 0; k < left; ++k) y[i + k] = buf[k];
  }
}

}  // namespace

// std::max(a, b) is (a < b) ? b : a and std::min(a, b) is (b < a) ? b : a;
// MAXPS/MINPS(x, y) return y when either is NaN, so with the operands
// swapped they agree with std, NaN included.
inline __m512 std_max(__m512 a, __m512 b) { return _mm512_max_ps(b, a); }
inline __m512 std_min(__m512 a, __m512 b) { return _mm512_min_ps(b, a); }

// v / 6 as the twin's division rounds it, without a division (a 512-bit
// divide issues once per several cycles and bounded HardSwish-heavy nets
// such as PP-LCNet): q = v * (1/6), the remainder v - 6q exact in one FMA,
// then q corrected by remainder / 6 in another. This equals the rounded
// quotient for every finite |v| >= 2^-122; below that both quotients are
// under 2^-120, and the 0.5 HardSwish adds swallows either, so HardSwish's
// bits equal the division's for all 2^32 inputs (checked once over all of
// them with a throwaway program when this was written;
// Activation.VectorEpilogueMatchesGenericTwin sweeps every 61st bit pattern).
// Infinite and NaN lanes keep the product, the quotient's own value.
inline __m512 div6(__m512 v) {
  const __m512 six = _mm512_set1_ps(6.f), inv = _mm512_set1_ps(1.f / 6.f);
  const __m512 q = _mm512_mul_ps(v, inv);
  const __m512 fixed = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, six, v), inv, q);
  const __mmask16 finite = _mm512_cmp_ps_mask(_mm512_sub_ps(q, q), _mm512_setzero_ps(), _CMP_EQ_OQ);
  return _mm512_mask_blend_ps(finite, q, fixed);
}

bool apply_activation(const Activation& a, float* y, const float* r, int64_t n) {
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.f);
  const __m512 al = _mm512_set1_ps(a.alpha), be = _mm512_set1_ps(a.beta);
  switch (a.kind) {
    case ActKind::none: each(a, y, r, n, [](__m512 v) { return v; }); return true;
    case ActKind::relu: each(a, y, r, n, [&](__m512 v) { return std_max(v, zero); }); return true;
    case ActKind::clip: each(a, y, r, n, [&](__m512 v) { return std_min(std_max(v, al), be); }); return true;
    case ActKind::hard_sigmoid:
      each(a, y, r, n, [&](__m512 v) { return std_max(zero, std_min(one, _mm512_add_ps(_mm512_mul_ps(al, v), be))); });
      return true;
    case ActKind::hard_swish: {
      const __m512 half = _mm512_set1_ps(0.5f);
      each(a, y, r, n, [&](__m512 v) { return _mm512_mul_ps(v, std_max(zero, std_min(one, _mm512_add_ps(div6(v), half)))); });
      return true;
    }
    case ActKind::leaky_relu:
      each(a, y, r, n, [&](__m512 v) { return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, al); });
      return true;
    case ActKind::sigmoid: each(a, y, r, n, [](__m512 v) { return sigmoid_ps(v); }); return true;
    case ActKind::silu: each(a, y, r, n, [](__m512 v) { return silu_ps(v); }); return true;
    default: return false;
  }
}

// gate = silu(gate) * up: the LLM feed-forward's gating, 16 lanes at a time
// (the scalar loop's std::exp per element was a serial 2% of a decode step).
void silu_mul(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(gate + i, _mm512_mul_ps(silu_ps(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu_ps(_mm512_maskz_loadu_ps(m, gate + i)), _mm512_maskz_loadu_ps(m, up + i)));
  }
}

}  // namespace pareto::kernels::avx512
