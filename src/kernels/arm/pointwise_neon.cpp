// Sums of few products per output (k <= 128) on NEON, without the packed
// GEMM: the AVX-512 small-k kernel's plan at 4 lanes (kernels/conv.cpp
// drives it for 1x1 convs and small lowered ones). Weights are read as they
// are; a register tile of 8 output channels x 8 pixels (16 accumulators,
// 8 weight registers: 12 pixels would spill) takes four input channels per
// step: one 4-weight load per channel row, two pixel loads per input
// channel, 64 fused multiply-adds by lane. The bias joins the finished sums.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"
#include "kernels/small_k_blocks.h"

namespace pareto::kernels::neon {

namespace {

// One input channel (its row at xc) into the tile, weight L of each wv[r].
template <int R, int V, int L>
inline void step(float32x4_t (&acc)[R][V], const float* xc, const float32x4_t (&wv)[R]) {
  float32x4_t xv[V];
  for (int v = 0; v < V; ++v) xv[v] = vld1q_f32(xc + 4 * v);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = vfmaq_laneq_f32(acc[r][v], xv[v], wv[r], L);
}

// Rows [0, R) of this output channel block, pixels [q, q + 4 V) (stores
// stop at `end`); x rows ldx apart (padded: loads past `end` stay inside).
template <int R, int V>
void tile(const float* x, int64_t ldx, int64_t ldy, int64_t k, const float* w, const float* bias, float* y, int64_t q, int64_t end) {
  float32x4_t acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = vdupq_n_f32(0.f);
  int64_t c = 0;
  // Four input channels per step: each row's four weights in one load, taken by lane.
  for (; c + 4 <= k; c += 4) {
    float32x4_t wv[R];
    for (int r = 0; r < R; ++r) wv[r] = vld1q_f32(w + r * k + c);
    step<R, V, 0>(acc, x + c * ldx + q, wv);
    step<R, V, 1>(acc, x + (c + 1) * ldx + q, wv);
    step<R, V, 2>(acc, x + (c + 2) * ldx + q, wv);
    step<R, V, 3>(acc, x + (c + 3) * ldx + q, wv);
  }
  for (; c < k; ++c) {
    float32x4_t wv[R];
    for (int r = 0; r < R; ++r) wv[r] = vld1q_dup_f32(w + r * k + c);
    step<R, V, 0>(acc, x + c * ldx + q, wv);
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) {
      const float32x4_t out = bias ? vaddq_f32(acc[r][v], vdupq_n_f32(bias[r])) : acc[r][v];
      const int64_t at = q + 4 * v, left = end - at;
      if (left >= 4) {
        vst1q_f32(y + r * ldy + at, out);
      } else if (left > 0) {
        float buf[4];
        vst1q_f32(buf, out);
        std::memcpy(y + r * ldy + at, buf, sizeof(float) * size_t(left));
      }
    }
}

// Out of line (one call per R rows): inlined, GCC folds the tiles into
// small_k_gemm and bench/arm_mca.py no longer finds tile<8, 2>.
template <int R>
[[gnu::noinline]] void rows(const float* x, int64_t ldx, int64_t ldy, int64_t k, const float* w, const float* bias, float* y, int64_t width) {
  int64_t q = 0;
  for (; q + 8 <= width; q += 8) tile<R, 2>(x, ldx, ldy, k, w, bias, y, q, width);
  for (; q < width; q += 4) tile<R, 1>(x, ldx, ldy, k, w, bias, y, q, width);
}

}  // namespace

void small_k_gemm(const float* x, int64_t ldx, int64_t k, const float* w, const float* bias, int64_t m, float* y, int64_t ldy, int64_t width) {
  small_k_row_blocks(m, [&](auto height, int64_t r) {
    rows<decltype(height)::value>(x, ldx, ldy, k, w + r * k, bias ? bias + r : nullptr, y + r * ldy, width);
  });
}

}  // namespace pareto::kernels::neon
