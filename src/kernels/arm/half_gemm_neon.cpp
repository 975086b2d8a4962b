// F16 / BF16 weight batches on plain NEON (prefill): tiles of 4 rows x 6
// tokens, weights widened to f32 in registers four columns at a time (FCVTL
// for F16, a 16-bit left shift for BF16, both exact), 24 accumulators of
// fused multiply-adds, one horizontal add per output at the end. Each
// weight is widened once per 6 tokens (a 4 x 4 tile spent 41 instructions
// per 64 multiply-adds, more than widening rows for the f32 GEMM).
#include <arm_neon.h>

#include <algorithm>

#include "kernels/quant_dot.h"

namespace pareto::kernels::neon {

namespace {

// Four columns from k of a row (F16 / BF16 bits) or of a token (f32, or BF16 bits).
inline float32x4_t widen_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float32x4_t widen_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }

inline float scalar_f16(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
inline float scalar_bf16(uint16_t h) { return vgetq_lane_f32(vreinterpretq_f32_u32(vshll_n_u16(vdup_n_u16(h), 16)), 0); }

template <bool kBf16, int R, int T>
void tile(const uint16_t* w, int64_t cols, int64_t r, const void* x, int64_t t0, float* y, int64_t ldy) {
  const uint16_t* rows[R];
  for (int i = 0; i < R; ++i) rows[i] = w + (r + i) * cols;
  float32x4_t acc[R][T];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[i][t] = vdupq_n_f32(0.f);
  int64_t k = 0;
  for (; k + 4 <= cols; k += 4) {
    // The R widened weight vectors, then one token at a time (R + 1 + R*T registers).
    // Every loop over the tile fully unrolled, or GCC keeps acc in memory.
    float32x4_t wv[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) wv[i] = kBf16 ? widen_bf16(rows[i] + k) : widen_f16(rows[i] + k);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      float32x4_t xv;
      if constexpr (kBf16) xv = widen_bf16(static_cast<const uint16_t*>(x) + (t0 + t) * cols + k);
      else xv = vld1q_f32(static_cast<const float*>(x) + (t0 + t) * cols + k);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) acc[i][t] = vfmaq_f32(acc[i][t], wv[i], xv);
    }
  }
  float sums[R][T];  // reduced first, so acc stays in registers through the loop above
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) sums[i][t] = vaddvq_f32(acc[i][t]);
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < T; ++t) {
      float s = sums[i][t];
      for (int64_t c = k; c < cols; ++c) {
        const float wc = kBf16 ? scalar_bf16(rows[i][c]) : scalar_f16(rows[i][c]);
        const float xc = kBf16 ? scalar_bf16(static_cast<const uint16_t*>(x)[(t0 + t) * cols + c])
                               : static_cast<const float*>(x)[(t0 + t) * cols + c];
        s += wc * xc;
      }
      y[(t0 + t) * ldy + r + i] = s;
    }
}

// Tokens in blocks of 36 (their activations stay in L2 while every row of
// the range passes over them); within a block, 4 rows x 6 tokens per tile
// (24 accumulators, 4 widened weight vectors: 40 instructions per 96
// multiply-adds), tails as 4 x 1, 1 x 6 and 1 x 1.
template <bool kBf16>
void gemm(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy) {
  constexpr int64_t kTokenBlock = 36;
  for (int64_t tb = 0; tb < tokens; tb += kTokenBlock) {
    const int64_t te = std::min(tokens, tb + kTokenBlock);
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
      int64_t t = tb;
      for (; t + 6 <= te; t += 6) tile<kBf16, 4, 6>(w, cols, r, x, t, y, ldy);
      for (; t < te; ++t) tile<kBf16, 4, 1>(w, cols, r, x, t, y, ldy);
    }
    for (; r < r1; ++r) {
      int64_t t = tb;
      for (; t + 6 <= te; t += 6) tile<kBf16, 1, 6>(w, cols, r, x, t, y, ldy);
      for (; t < te; ++t) tile<kBf16, 1, 1>(w, cols, r, x, t, y, ldy);
    }
  }
}

}  // namespace

void half_gemm(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy) {
  if (bf16) gemm<true>(w, cols, r0, r1, x, tokens, y, ldy);
  else gemm<false>(w, cols, r0, r1, x, tokens, y, ldy);
}

}  // namespace pareto::kernels::neon
