// The bf16 conv's GEMM and panel packing with AVX512-BF16: an 8-row x
// 32-pixel tile of f32 sums, each k-pair step two panel loads, eight
// weight-pair broadcasts and sixteen vdpbf16ps.
#include "kernels/x86/avx512_intrinsics.h"  // immintrin.h (GCC bug 105593's false warnings off), first_lanes

#include <algorithm>

#include "kernels/bf16_conv.h"

namespace pareto::kernels::avx512bf16 {

namespace {

// R rows (<= 8) x V vectors of 16 pixels, starting at pixel j of the panel.
template <int R, int V>
void tile(const uint16_t* a, int64_t lda, int64_t k2, const uint16_t* b, int64_t n16, int64_t j, int64_t n, float* c, int64_t ldc,
          bool accumulate) {
  __m512 acc[R][V];
  __mmask16 mask[V];
  for (int v = 0; v < V; ++v) mask[v] = first_lanes(n - j - 16 * v);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v)
      acc[r][v] = accumulate ? _mm512_maskz_loadu_ps(mask[v], c + r * ldc + j + 16 * v) : _mm512_setzero_ps();
  const uint16_t* bp = b + j * 2;
  for (int64_t p = 0; p < k2; ++p, bp += n16 * 2) {
    __m512bh x[V];
    for (int v = 0; v < V; ++v) x[v] = __m512bh(_mm512_loadu_si512(bp + 32 * v));
    for (int r = 0; r < R; ++r) {
      int32_t pair;
      __builtin_memcpy(&pair, a + r * lda + 2 * p, 4);
      const __m512bh w = __m512bh(_mm512_set1_epi32(pair));
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], w, x[v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(c + r * ldc + j + 16 * v, mask[v], acc[r][v]);
}

template <int R>
void rows(const uint16_t* a, int64_t lda, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate) {
  const int64_t n16 = (n + 15) / 16 * 16;
  int64_t j = 0;
  for (; j + 16 < n; j += 32) tile<R, 2>(a, lda, k2, b, n16, j, n, c, ldc, accumulate);
  if (j < n) tile<R, 1>(a, lda, k2, b, n16, j, n, c, ldc, accumulate);
}

}  // namespace

void bf16_gemm(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate) {
  int64_t r = 0;
  for (; r + 8 <= m; r += 8) rows<8>(a + r * lda, lda, k2, b, n, c + r * ldc, ldc, accumulate);
  if (m - r >= 4) rows<4>(a + r * lda, lda, k2, b, n, c + r * ldc, ldc, accumulate), r += 4;
  if (m - r >= 2) rows<2>(a + r * lda, lda, k2, b, n, c + r * ldc, ldc, accumulate), r += 2;
  if (m - r >= 1) rows<1>(a + r * lda, lda, k2, b, n, c + r * ldc, ldc, accumulate);
}

void bf16_pack_pair(const float* r0, const float* r1, int64_t count, int64_t n16, uint16_t* out) {
  for (int64_t q = 0; q < n16; q += 16) {
    const __mmask16 m = first_lanes(count - q);
    // Round each row to bf16 (vcvtneps2bf16: nearest even, NaN kept), widen
    // to 32-bit lanes and put row 1 in the high halves: pixel q's pair.
    const __m512i lo = _mm512_cvtepu16_epi32(__m256i(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r0 + q))));
    __m512i pair = lo;
    if (r1) {
      const __m512i hi = _mm512_cvtepu16_epi32(__m256i(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r1 + q))));
      pair = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
    }
    _mm512_storeu_si512(out + 2 * q, pair);
  }
}

}  // namespace pareto::kernels::avx512bf16
