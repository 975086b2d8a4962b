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

// The constants of an activation in registers.
struct VectorActivationArgs {
  explicit VectorActivationArgs(const Activation& a)
      : zero(_mm512_setzero_ps()), one(_mm512_set1_ps(1.f)), al(_mm512_set1_ps(a.alpha)), be(_mm512_set1_ps(a.beta)),
        sixth(_mm512_set1_ps(1.f / 6.f)), half(_mm512_set1_ps(0.5f)), sc(_mm512_set1_ps(a.scale)), sh(_mm512_set1_ps(a.shift)),
        fl(_mm512_set1_ps(a.floor)) {}
  __m512 zero, one, al, be, sixth, half, sc, sh, fl;
};

// The function of kind K on one vector (a kind with a vector form).
template <ActKind K>
inline __m512 activate(__m512 v, const VectorActivationArgs& c) {
  if constexpr (K == ActKind::none) return v;
  else if constexpr (K == ActKind::relu) return std_max(v, c.zero);
  else if constexpr (K == ActKind::clip) return std_min(std_max(v, c.al), c.be);
  else if constexpr (K == ActKind::hard_sigmoid) return std_max(c.zero, std_min(c.one, _mm512_add_ps(_mm512_mul_ps(c.al, v), c.be)));
  else if constexpr (K == ActKind::hard_swish)  // ONNX's alpha = 1/6, beta = 0.5
    return _mm512_mul_ps(v, std_max(c.zero, std_min(c.one, _mm512_add_ps(_mm512_mul_ps(v, c.sixth), c.half))));
  else if constexpr (K == ActKind::leaky_relu) return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, c.zero, _CMP_LT_OQ), v, c.al);
  else if constexpr (K == ActKind::sigmoid) return sigmoid_ps(v);
  else if constexpr (K == ActKind::silu) return silu_ps(v);
  else static_assert(K == ActKind::none, "a kind without a vector form");
}

// The same with the kind chosen per call, then the affine and the floor:
// the rarer forms (an exp-based kind or leaky Relu with an affine, a floor
// without one) in one body for every kind, not one per kind.
inline __m512 activate_full(const Activation& a, __m512 v, const VectorActivationArgs& c) {
  switch (a.kind) {
    case ActKind::relu: v = activate<ActKind::relu>(v, c); break;
    case ActKind::clip: v = activate<ActKind::clip>(v, c); break;
    case ActKind::hard_sigmoid: v = activate<ActKind::hard_sigmoid>(v, c); break;
    case ActKind::hard_swish: v = activate<ActKind::hard_swish>(v, c); break;
    case ActKind::leaky_relu: v = activate<ActKind::leaky_relu>(v, c); break;
    case ActKind::sigmoid: v = activate<ActKind::sigmoid>(v, c); break;
    case ActKind::silu: v = activate<ActKind::silu>(v, c); break;
    default: break;  // none (with_vector_activation refuses the kinds without a vector form)
  }
  if (a.has_affine()) v = _mm512_add_ps(_mm512_mul_ps(c.sc, v), c.sh);
  if (!a.has_floor()) return v;
  // v where v > floor or v is NaN, else floor: as the unfused Max (NaN stays, max(-0, +0) = +0).
  const __mmask16 keep = _mm512_cmp_ps_mask(v, c.fl, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(keep, c.fl, v);
}

// Kind K, then the affine, then (Floor) the floor: activate_full's
// operations with the kind and the floor's presence fixed.
template <ActKind K, bool Floor>
inline __m512 activate_affine(__m512 v, const VectorActivationArgs& c) {
  v = _mm512_add_ps(_mm512_mul_ps(c.sc, activate<K>(v, c)), c.sh);
  if constexpr (!Floor) return v;
  const __mmask16 keep = _mm512_cmp_ps_mask(v, c.fl, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(keep, c.fl, v);
}

// Calls body(one) with `one` the whole activation of a (the function, then
// the affine, then the floor) as a callable __m512 -> __m512, chosen once
// so the body's loop has no switch. Without affine and floor `one` is the
// bare function: their checks per vector, inside the kernels' loops, cost
// PP-OCR cls int8 4% (its convs 6%). With the affine (PP-LCNetV3's
// learnable affine after every activation: PP-OCRv4 det and rec) the
// piecewise-linear kinds are fixed at compile time too, with or without a
// floor: the switch per vector doubled the time of rec's 5x5 depthwise
// convs on 3-row maps. Returns false, without calling body, where
// has_vector_form(a.kind) is false (kernels/activation.h).
template <class Body>
bool with_vector_activation(const Activation& a, Body&& body) {
  if (!has_vector_form(a.kind)) return false;
  const VectorActivationArgs c(a);
  if (a.has_affine()) {
    auto fixed = [&]<ActKind K>() {
      if (a.has_floor()) body([=](__m512 v) { return activate_affine<K, true>(v, c); });
      else body([=](__m512 v) { return activate_affine<K, false>(v, c); });
      return true;
    };
    switch (a.kind) {
      case ActKind::none: return fixed.template operator()<ActKind::none>();
      case ActKind::relu: return fixed.template operator()<ActKind::relu>();
      case ActKind::clip: return fixed.template operator()<ActKind::clip>();
      case ActKind::hard_sigmoid: return fixed.template operator()<ActKind::hard_sigmoid>();
      case ActKind::hard_swish: return fixed.template operator()<ActKind::hard_swish>();
      default: break;  // the exp-based kinds and leaky Relu: activate_full below
    }
  }
  if (a.has_affine() || a.has_floor()) {
    body([=](__m512 v) { return activate_full(a, v, c); });
    return true;
  }
  auto run = [&]<ActKind K>() {
    body([=](__m512 v) { return activate<K>(v, c); });
    return true;
  };
  switch (a.kind) {
    case ActKind::none: return run.template operator()<ActKind::none>();
    case ActKind::relu: return run.template operator()<ActKind::relu>();
    case ActKind::clip: return run.template operator()<ActKind::clip>();
    case ActKind::hard_sigmoid: return run.template operator()<ActKind::hard_sigmoid>();
    case ActKind::hard_swish: return run.template operator()<ActKind::hard_swish>();
    case ActKind::leaky_relu: return run.template operator()<ActKind::leaky_relu>();
    case ActKind::sigmoid: return run.template operator()<ActKind::sigmoid>();
    case ActKind::silu: return run.template operator()<ActKind::silu>();
    default: return false;
  }
}

}  // namespace pareto::kernels::avx512
