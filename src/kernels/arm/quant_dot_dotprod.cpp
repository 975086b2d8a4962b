// Armv8.2 dot product (SDOT, FEAT_DotProd): the quantized dots with one
// instruction per 16 int8 products, and the W8A8 row GEMM.
#include <arm_neon.h>

#include <cstring>

#include "kernels/pareto_formats.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels::dotprod {

#define DOT16 vdotq_s32
#include "kernels/arm/quant_dot_arm.inc"
#undef DOT16

namespace {
// Σ (x - 128) * q over n: the activations' +128 offset removed by flipping
// the top bit, so SDOT takes them as int8. Equals dot(x, q) - 128 * Σq.
int32_t offset_dot(const uint8_t* x, const int8_t* q, int64_t n) {
  int32x4_t acc = vdupq_n_s32(0);
  int64_t i = 0;
  const uint8x16_t flip = vdupq_n_u8(0x80);
  for (; i + 16 <= n; i += 16) acc = vdotq_s32(acc, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(x + i), flip)), vld1q_s8(q + i));
  int32_t s = vaddvq_s32(acc);
  for (; i < n; ++i) s += (int32_t(x[i]) - 128) * q[i];
  return s;
}

int64_t code_sum(const int8_t* q, int64_t n) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += q[i];
  return s;
}
}  // namespace

void q8_row_gemm(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens, float* y,
                 int64_t ldy) {
  const size_t stride = q8_row_size(n);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w + size_t(r) * stride;
    float d;
    int32_t wsum;
    std::memcpy(&d, row, 4);
    std::memcpy(&wsum, row + 4, 4);
    const int8_t* qs = reinterpret_cast<const int8_t*>(row + kQ8RowHeader);
    // dot(x, q) - 128 * wsum as the reference computes it, with the file's
    // wsum (not the codes' own sum): equal even when a file's header lies.
    const int64_t correction = 128 * (code_sum(qs, n) - int64_t(wsum));
    for (int64_t t = 0; t < tokens; ++t) y[t * ldy + r] = d * xscale[t] * float(int64_t(offset_dot(xq + t * n, qs, n)) + correction);
  }
}

}  // namespace pareto::kernels::dotprod
