// Sums of few products per output (k <= 128), AVX-512, without the packed
// GEMM (kernels/conv.cpp drives it for 1x1 convs and small lowered ones).
// Weights are read as they are. A register tile of 8 output channels x 32
// pixels (bias added to the finished sums) takes one input channel per
// step (two pixel loads, eight weight broadcasts, sixteen FMAs). The packed
// GEMM spends more on packing and on its k blocking than such short sums
// cost (PP-OCR det's 16 -> 32 channel 1x1 at 320 x 320 ran at 15 GMAC/s).
#include "kernels/x86/avx512_intrinsics.h"

#include <algorithm>

#include "kernels/conv.h"
#include "kernels/small_k_blocks.h"

namespace pareto::kernels::avx512 {

namespace {

// Rows [0, R) of this output channel block, pixels [q, q + 16 V) of the
// chunk (the last vector masked at `end`); x rows ldx apart, y rows ldy.
template <int R, int V>
void tile(const float* x, int64_t ldx, int64_t ldy, int64_t k, const float* w, const float* bias, float* y, int64_t q, int64_t end) {
  __m512 acc[R][V];
  __mmask16 m[V];
  for (int v = 0; v < V; ++v) m[v] = first_lanes(end - (q + 16 * v));
  // Every loop over the tile fully unrolled, or GCC keeps acc in memory.
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t c = 0; c < k; ++c) {
    __m512 xv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) xv[v] = _mm512_loadu_ps(x + c * ldx + q + 16 * v);  // the scratch rows are padded
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 wv = _mm512_set1_ps(w[r * k + c]);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
    }
  }
  // The bias joins the finished sum, as the GEMM path and other engines add it.
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      const __m512 out = bias ? _mm512_add_ps(acc[r][v], _mm512_set1_ps(bias[r])) : acc[r][v];
      _mm512_mask_storeu_ps(y + r * ldy + q + 16 * v, m[v], out);
    }
}

template <int R>
void rows(const float* x, int64_t ldx, int64_t ldy, int64_t k, const float* w, const float* bias, float* y, int64_t width) {
  int64_t q = 0;
  for (; q + 32 <= width; q += 32) tile<R, 2>(x, ldx, ldy, k, w, bias, y, q, width);
  if (q < width) tile<R, 1>(x, ldx, ldy, k, w, bias, y, q, width);
  if (q + 16 < width) tile<R, 1>(x, ldx, ldy, k, w, bias, y, q + 16, width);
}


}  // namespace

void small_k_gemm(const float* x, int64_t ldx, int64_t k, const float* w, const float* bias, int64_t m, float* y, int64_t ldy, int64_t width) {
  small_k_row_blocks(m, [&](auto height, int64_t r) {
    rows<decltype(height)::value>(x, ldx, ldy, k, w + r * k, bias ? bias + r : nullptr, y + r * ldy, width);
  });
}

// Four rows at a time, each a dot product of 16-wide partial sums (the
// tail masked) reduced at the end; the bias joins the finished sum. k >= 1
// (the dispatcher sends k = 0 to the twin: its mask would be all lanes).
void f32_dot_rows(const float* w, int64_t k, const float* x, const float* bias, int64_t m, float* y) {
  const __mmask16 tail = first_lanes(k % 16 == 0 ? 16 : k % 16);
  const int64_t full = (k - 1) / 16 * 16;  // every block but the last, which may be partial
  int64_t r = 0;
  for (; r + 4 <= m; r += 4) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t c = 0; c < full; c += 16) {
      const __m512 xv = _mm512_loadu_ps(x + c);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(w + (r + i) * k + c), xv, acc[i]);
    }
    const __m512 xv = _mm512_maskz_loadu_ps(tail, x + full);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w + (r + i) * k + full), xv, acc[i]);
      y[r + i] = _mm512_reduce_add_ps(acc[i]) + (bias ? bias[r + i] : 0.f);
    }
  }
  for (; r < m; ++r) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < full; c += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * k + c), _mm512_loadu_ps(x + c), acc);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w + r * k + full), _mm512_maskz_loadu_ps(tail, x + full), acc);
    y[r] = _mm512_reduce_add_ps(acc) + (bias ? bias[r] : 0.f);
  }
}

}  // namespace pareto::kernels::avx512

namespace pareto::kernels::avx512 {

namespace {

// The 16 x 16 transpose of v (row q lane k -> row k lane q).
void transpose16(__m512 v[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    v[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    v[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    v[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // v[4a + m]'s 128-bit lane L: column 4L + m of rows 4a..4a+3. The 128-bit
  // lanes of v[m], v[4 + m], v[8 + m], v[12 + m] then make columns m, 4 + m,
  // 8 + m and 12 + m.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    v[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    v[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

}  // namespace

void plane_sums(const float* s, int64_t n, int64_t stride, int64_t count, float* out) {
  const int64_t full = n / 16 * 16;
  int64_t p = 0;
  for (; p + 16 <= count; p += 16) {
    // Sixteen planes side by side: each one's sixteen running sums in one
    // register (the twin's acc[16]), sixteen independent add chains.
    __m512 acc[16];
    for (int q = 0; q < 16; ++q) acc[q] = _mm512_setzero_ps();
    for (int64_t j = 0; j < full; j += 16)
      for (int q = 0; q < 16; ++q) acc[q] = _mm512_add_ps(acc[q], _mm512_loadu_ps(s + (p + q) * stride + j));
    // Then each plane's sixteen sums in the twin's order, k = 0..15, all
    // sixteen planes at once: column k of the transpose is sum k of each.
    transpose16(acc);
    __m512 total = _mm512_setzero_ps();
    for (int k = 0; k < 16; ++k) total = _mm512_add_ps(total, acc[k]);
    alignas(64) float totals[16];
    _mm512_store_ps(totals, total);
    for (int q = 0; q < 16; ++q) {
      float t = totals[q];
      for (int64_t j = full; j < n; ++j) t += s[(p + q) * stride + j];
      out[p + q] = t;
    }
  }
  for (; p < count; ++p) out[p] = plane_sum_ref(s + p * stride, n);
}

}  // namespace pareto::kernels::avx512
