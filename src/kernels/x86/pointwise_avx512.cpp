// Convolutions with few products per output (k <= 128), AVX-512, without
// the packed GEMM: a 1x1 stride-1 conv's input rows are already the GEMM's
// B (a chunk of them is copied to scratch, rows padded apart); small
// lowered convs come as an im2col block. Weights are read as they are. A
// register tile of 8 output channels x 32 pixels (bias added to the
// finished sums) takes one input
// channel per step (two pixel loads, eight weight broadcasts, sixteen
// FMAs); a chunk of pixels stays in cache while every output channel block
// passes over it, and the activation / residual epilogue runs on the chunk
// right after. The packed GEMM spends more on packing and on its k
// blocking than such short sums cost (PP-OCR det's 16 -> 32 channel 1x1 at
// 320 x 320 ran at 15 GMAC/s).
#include "kernels/x86/avx512_intrinsics.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/scratch.h"

namespace pareto::kernels::avx512 {

namespace {

inline __mmask16 lanes(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1u); }

// Rows [0, R) of this output channel block, pixels [q, q + 16 V) of the
// chunk (the last vector masked at `end`); x rows ldx apart, y rows ldy.
template <int R, int V>
void tile(const float* x, int64_t ldx, int64_t ldy, int64_t k, const float* w, const float* bias, float* y, int64_t q, int64_t end) {
  __m512 acc[R][V];
  __mmask16 m[V];
  for (int v = 0; v < V; ++v) m[v] = lanes(end - (q + 16 * v));
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
  int64_t r = 0;
  for (; r + 8 <= m; r += 8) rows<8>(x, ldx, ldy, k, w + r * k, bias ? bias + r : nullptr, y + r * ldy, width);
  if (m - r >= 4) rows<4>(x, ldx, ldy, k, w + r * k, bias ? bias + r : nullptr, y + r * ldy, width), r += 4;
  if (m - r >= 2) rows<2>(x, ldx, ldy, k, w + r * k, bias ? bias + r : nullptr, y + r * ldy, width), r += 2;
  if (m - r >= 1) rows<1>(x, ldx, ldy, k, w + r * k, bias ? bias + r : nullptr, y + r * ldy, width);
}

void pointwise_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int64_t plane = p.h * p.w, k = p.c_in;
  // Pixels per chunk: the chunk's inputs (k rows) stay in L2 with room to spare.
  int64_t chunk = std::max<int64_t>(64, (int64_t(48) << 10) / k / 32 * 32);
  const int64_t want = 4 * num_threads();
  if (num_threads() > 1 && p.n * ((plane + chunk - 1) / chunk) < want) chunk = std::max<int64_t>(32, (p.n * plane / want + 31) / 32 * 32);
  chunk = std::min(chunk, plane);
  const int64_t chunks = (plane + chunk - 1) / chunk;
  parallel_for_dynamic(p.n * chunks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / chunks, q0 = t % chunks * chunk, q1 = std::min(plane, q0 + chunk);
      // The chunk's input rows copied next to each other: in place they sit
      // a plane apart, and planes of 160 x 160 or 320 x 320 floats are
      // multiples of 4 KiB, so every row would fall in the same L1 sets.
      const int64_t width = q1 - q0, ld = (width + 15) / 16 * 16 + 16;
      float* xs = thread_scratch<float, 3>(size_t(k * ld));
      for (int64_t c = 0; c < k; ++c) std::copy_n(x + (n * p.c_in + c) * plane + q0, width, xs + c * ld);
      float* yn = y + n * p.c_out * plane + q0;
      small_k_gemm(xs, ld, k, w, bias, p.c_out, yn, plane, width);
      if (p.epilogue.active())  // the chunk's outputs are still in cache
        for (int64_t oc = 0; oc < p.c_out; ++oc) {
          float* out = yn + oc * plane;
          kernels::apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + (out - y) : nullptr, width);
        }
    }
  });
}

}  // namespace pareto::kernels::avx512
