// Armv8.2 dot product (SDOT, FEAT_DotProd): the quantized dots with one
// instruction per 16 int8 products, and the W8A8 row GEMM.
#include <arm_neon.h>

#include "kernels/pareto_formats.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels::dotprod {

#define DOT16 vdotq_s32
#include "kernels/arm/quant_dot_arm.inc"
#undef DOT16

namespace {
// Σ (x - 128) * q over n: the activations' +128 offset removed by flipping
// the top bit, so SDOT takes them as int8. Equals dot(x, q) - 128 * Σq.
// With code_sum, Σq comes from the same loads (one more SDOT per 16).
template <bool kCodeSum>
int32_t offset_dot(const uint8_t* x, const int8_t* q, int64_t n, int32_t* code_sum = nullptr) {
  int32x4_t acc = vdupq_n_s32(0), qacc = vdupq_n_s32(0);
  int64_t i = 0;
  const uint8x16_t flip = vdupq_n_u8(0x80);
  const int8x16_t ones = vdupq_n_s8(1);
  for (; i + 16 <= n; i += 16) {
    const int8x16_t qv = vld1q_s8(q + i);
    acc = vdotq_s32(acc, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(x + i), flip)), qv);
    if constexpr (kCodeSum) qacc = vdotq_s32(qacc, qv, ones);
  }
  int32_t s = vaddvq_s32(acc), qs = vaddvq_s32(qacc);
  for (; i < n; ++i) s += (int32_t(x[i]) - 128) * q[i], qs += q[i];
  if constexpr (kCodeSum) *code_sum = qs;
  return s;
}
}  // namespace

void q8_row_gemm(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens, float* y,
                 int64_t ldy) {
  if (tokens <= 0) return;
  for (int64_t r = r0; r < r1; ++r) {
    const Q8RowView row = q8_row_at(w, n, r);
    // dot(x, q) - 128 * wsum as the reference computes it, with the file's
    // wsum (not the codes' own sum, taken during the first token's dot):
    // equal even when a file's header lies.
    int32_t code_sum = 0;
    const int32_t first = offset_dot<true>(xq, row.qs, n, &code_sum);
    const int64_t correction = 128 * (int64_t(code_sum) - int64_t(row.wsum));
    y[r] = row.d * xscale[0] * float(int64_t(first) + correction);
    for (int64_t t = 1; t < tokens; ++t) y[t * ldy + r] = row.d * xscale[t] * float(int64_t(offset_dot<false>(xq + t * n, row.qs, n)) + correction);
  }
}

}  // namespace pareto::kernels::dotprod
