// Armv8.6 int8 matrix multiply (FEAT_I8MM): USMMLA multiplies a 2x8 block of
// unsigned bytes by a 2x8 block of signed ones into a 2x2 int32 tile, so two
// tokens' W8A8 activations (offset +128, unsigned) meet two weight rows
// directly: 4 dot products per instruction where SDOT gives one.
#include <arm_neon.h>

#include "kernels/pareto_formats.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels::i8mm {

namespace {

int32_t plain_dot(const uint8_t* x, const int8_t* q, int64_t n) {
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += int32_t(x[i]) * q[i];
  return s;
}

// dot[t][r] = Σ x_t * q_r for tokens t0, t0+1 and rows a, b.
void tile2x2(const uint8_t* x0, const uint8_t* x1, const int8_t* qa, const int8_t* qb, int64_t n, int32_t dot[4]) {
  int32x4_t acc = vdupq_n_s32(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint8x16_t xs = vcombine_u8(vld1_u8(x0 + i), vld1_u8(x1 + i));
    const int8x16_t ws = vcombine_s8(vld1_s8(qa + i), vld1_s8(qb + i));
    acc = vusmmlaq_s32(acc, xs, ws);
  }
  vst1q_s32(dot, acc);  // [t0 ra, t0 rb, t1 ra, t1 rb]
  dot[0] += plain_dot(x0 + i, qa + i, n - i);
  dot[1] += plain_dot(x0 + i, qb + i, n - i);
  dot[2] += plain_dot(x1 + i, qa + i, n - i);
  dot[3] += plain_dot(x1 + i, qb + i, n - i);
}

}  // namespace

void q8_row_gemm(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens, float* y,
                 int64_t ldy) {
  for (int64_t r = r0; r < r1; r += 2) {
    const Q8RowView a = q8_row_at(w, n, r);
    const bool pair = r + 1 < r1;
    const Q8RowView b = pair ? q8_row_at(w, n, r + 1) : a;  // an odd last row is computed twice, stored once
    for (int64_t t = 0; t < tokens; t += 2) {
      const uint8_t* x0 = xq + t * n;
      const uint8_t* x1 = t + 1 < tokens ? x0 + n : x0;
      int32_t dot[4];
      tile2x2(x0, x1, a.qs, b.qs, n, dot);
      // The reference's expression (64-bit: wsum comes from the file).
      y[t * ldy + r] = a.d * xscale[t] * float(int64_t(dot[0]) - 128 * int64_t(a.wsum));
      if (pair) y[t * ldy + r + 1] = b.d * xscale[t] * float(int64_t(dot[1]) - 128 * int64_t(b.wsum));
      if (t + 1 < tokens) {
        y[(t + 1) * ldy + r] = a.d * xscale[t + 1] * float(int64_t(dot[2]) - 128 * int64_t(a.wsum));
        if (pair) y[(t + 1) * ldy + r + 1] = b.d * xscale[t + 1] * float(int64_t(dot[3]) - 128 * int64_t(b.wsum));
      }
    }
  }
}

}  // namespace pareto::kernels::i8mm
