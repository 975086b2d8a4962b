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

#include "kernels/x86/activation_avx512.h"

namespace pareto::kernels::avx512 {

namespace {

// Residual, then `one` (the whole activation) on each vector of y.
template <class F>
void each(float* y, const float* r, int64_t n, F one) {
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

bool apply_activation(const Activation& a, float* y, const float* r, int64_t n) {
  return with_vector_activation(a, [&](auto one) { each(y, r, n, one); });
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
