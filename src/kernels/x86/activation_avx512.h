// The epilogue activations on one AVX-512 vector, shared by the standalone
// pass (activation_avx512.cpp) and the kernels that finish their outputs in
// registers (the int8 conv's epilogue row): the same operations in the same
// order as the generic loop (kernels/activation.cpp), so the same bits,
// except sigmoid and SiLU, whose polynomial exp differs from std::exp by a
// few units in the last place. Including files compile with
// fp-contract=off, as the twin rounds products and sums separately.
#pragma once
#include "kernels/activation.h"
#include "kernels/x86/avx512_intrinsics.h"
#include "kernels/x86/avx512_math.h"

namespace pareto::kernels::avx512 {

// std::max(a, b) is (a < b) ? b : a and std::min(a, b) is (b < a) ? b : a;
// MAXPS/MINPS(x, y) return y when either is NaN, so with the operands
// swapped they agree with std, NaN included.
inline __m512 std_max(__m512 a, __m512 b) { return _mm512_max_ps(b, a); }
inline __m512 std_min(__m512 a, __m512 b) { return _mm512_min_ps(b, a); }

// Calls body(one) with `one` the whole activation of a (the function, then
// the affine, then the floor) as a callable __m512 -> __m512, chosen once
// so the body's loop has no switch. Returns false, without calling body,
// where has_vector_form(a.kind) is false (kernels/activation.h).
template <class Body>
bool with_vector_activation(const Activation& a, Body&& body) {
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.f);
  const __m512 al = _mm512_set1_ps(a.alpha), be = _mm512_set1_ps(a.beta);
  const __m512 sc = _mm512_set1_ps(a.scale), sh = _mm512_set1_ps(a.shift), fl = _mm512_set1_ps(a.floor);
  const bool affine = a.has_affine(), floor = a.has_floor();
  auto run = [&](auto f) {
    body([=](__m512 v) {
      v = f(v);
      if (affine) v = _mm512_add_ps(_mm512_mul_ps(sc, v), sh);
      if (!floor) return v;
      // v where v > floor or v is NaN, else floor: as the unfused Max (NaN stays, max(-0, +0) = +0).
      const __mmask16 keep = _mm512_cmp_ps_mask(v, fl, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      return _mm512_mask_blend_ps(keep, fl, v);
    });
    return true;
  };
  switch (a.kind) {
    case ActKind::none: return run([](__m512 v) { return v; });
    case ActKind::relu: return run([=](__m512 v) { return std_max(v, zero); });
    case ActKind::clip: return run([=](__m512 v) { return std_min(std_max(v, al), be); });
    case ActKind::hard_sigmoid: return run([=](__m512 v) { return std_max(zero, std_min(one, _mm512_add_ps(_mm512_mul_ps(al, v), be))); });
    case ActKind::hard_swish: {  // ONNX's alpha = 1/6, beta = 0.5
      const __m512 sixth = _mm512_set1_ps(1.f / 6.f), half = _mm512_set1_ps(0.5f);
      return run([=](__m512 v) { return _mm512_mul_ps(v, std_max(zero, std_min(one, _mm512_add_ps(_mm512_mul_ps(v, sixth), half)))); });
    }
    case ActKind::leaky_relu: return run([=](__m512 v) { return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, al); });
    case ActKind::sigmoid: return run([](__m512 v) { return sigmoid_ps(v); });
    case ActKind::silu: return run([](__m512 v) { return silu_ps(v); });
    default: return false;
  }
}

}  // namespace pareto::kernels::avx512
