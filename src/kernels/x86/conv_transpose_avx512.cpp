// The 2x2 stride-2 transposed convolution (the upsampling step of FPN and DB
// heads) with AVX-512: every output pixel receives one product sum, so each
// 32-pixel stretch of an input row yields, per output channel, the four
// taps' sums, written as two output rows with the j = 0 and j = 1 sums
// interleaved. No column matrix goes through memory. The weights are read
// as ONNX stores them, [c_in][c_out][2][2]: one output channel's four taps
// (and the next channel's) lie side by side for the broadcasts.
#include "kernels/x86/avx512_intrinsics.h"

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"

namespace pareto::kernels::avx512 {

namespace {

// Output channels [oc, oc + OB) of input row ih, columns [iw, iw + 32).
template <int OB>
void stretch(const ConvParams& p, const float* xrow, int64_t ldx, const float* w, const float* bias, int64_t oc, int64_t iw,
             float* yrow0, int64_t out_plane) {
  constexpr int V = 2;
  const int64_t left = p.w - iw;
  __m512 acc[OB][4][V];
#pragma GCC unroll 2
  for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t)
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[ob][t][v] = _mm512_setzero_ps();
  for (int64_t ic = 0; ic < p.c_in; ++ic) {
    const float* xc = xrow + ic * ldx + iw;
    __m512 xv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) xv[v] = _mm512_maskz_loadu_ps(first_lanes(left - 16 * v), xc + 16 * v);
    const float* wc = w + (ic * p.c_out + oc) * 4;
    // Fully unrolled, or GCC keeps acc in memory (a store and a load per FMA).
#pragma GCC unroll 2
    for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {
        const __m512 wv = _mm512_set1_ps(wc[ob * 4 + t]);
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) acc[ob][t][v] = _mm512_fmadd_ps(wv, xv[v], acc[ob][t][v]);
      }
  }
  // Pixel q of the j = 0 sums and of the j = 1 sums go to output columns 2q, 2q + 1.
  const __m512i lo_idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi_idx = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
#pragma GCC unroll 2
  for (int ob = 0; ob < OB; ++ob) {
    const __m512 b = _mm512_set1_ps(bias ? bias[oc + ob] : 0.f);
#pragma GCC unroll 2
    for (int i = 0; i < 2; ++i) {
      float* row = yrow0 + (oc + ob) * out_plane + i * p.out_w + 2 * iw;
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) {
        const __m512 a = _mm512_add_ps(acc[ob][2 * i][v], b), c = _mm512_add_ps(acc[ob][2 * i + 1][v], b);
        const int64_t outs = 2 * (left - 16 * v);  // output columns this vector still owns
        _mm512_mask_storeu_ps(row + 32 * v, first_lanes(outs), _mm512_permutex2var_ps(a, lo_idx, c));
        _mm512_mask_storeu_ps(row + 32 * v + 16, first_lanes(outs - 16), _mm512_permutex2var_ps(a, hi_idx, c));
      }
    }
  }
}

}  // namespace

void conv_transpose2x2_row(const ConvParams& p, const float* rows, int64_t ld, const float* w, const float* bias, float* yrow0) {
  const int64_t out_plane = p.out_h * p.out_w;
  for (int64_t oc = 0; oc < p.c_out; oc += 2)
    for (int64_t iw = 0; iw < p.w; iw += 32) {
      if (oc + 2 <= p.c_out) stretch<2>(p, rows, ld, w, bias, oc, iw, yrow0, out_plane);
      else stretch<1>(p, rows, ld, w, bias, oc, iw, yrow0, out_plane);
    }
}

}  // namespace pareto::kernels::avx512
