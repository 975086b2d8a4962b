// AVX-512 matrix kernel for F16 / BF16 weight rows and f32 activations
// (prefill): a tile of R rows by T tokens keeps R*T vector accumulators; per
// 16 columns each row is widened once (F16C convert or a 16-bit shift for
// BF16) and each token's activations loaded once, so a tile costs R + T
// loads per R*T multiply-adds and no f32 copy of the weights is written.
// 8 x 3 measured fastest on Zen 4 (6 x 4 close; 4 x 4 about half as fast:
// too few multiply-adds per load).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/quant_dot.h"

namespace pareto::kernels::avx512vnni {

namespace {

// Activations: f32 with F16 weights, BF16 with BF16 weights.
template <bool BF16>
using Act = std::conditional_t<BF16, uint16_t, float>;

template <bool BF16>
inline __m512 widen(__m256i h) {
  if constexpr (BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  else return _mm512_cvtph_ps(h);
}

// 16 columns from k (Tail: the first `m` of them, the rest read as zero).
template <bool BF16, int R, int T, bool Tail>
inline void step(const uint16_t* w, int64_t cols, int64_t r, const Act<BF16>* x, int64_t t, int64_t k, __mmask16 m, __m512 (&acc)[R][T]) {
  __m512 wv[R];
  for (int i = 0; i < R; ++i) {
    const uint16_t* p = w + (r + i) * cols + k;
    wv[i] = widen<BF16>(Tail ? _mm256_maskz_loadu_epi16(m, p) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  for (int j = 0; j < T; ++j) {
    const Act<BF16>* p = x + (t + j) * cols + k;
    __m512 xv;
    if constexpr (BF16) xv = widen<true>(Tail ? _mm256_maskz_loadu_epi16(m, p) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    else xv = Tail ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
    for (int i = 0; i < R; ++i) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
  }
}

template <bool BF16, int R, int T>
void tile(const uint16_t* w, int64_t cols, int64_t r, const Act<BF16>* x, int64_t t, float* y, int64_t ldy) {
  __m512 acc[R][T];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= cols; k += 16) step<BF16, R, T, false>(w, cols, r, x, t, k, 0, acc);
  if (k < cols) step<BF16, R, T, true>(w, cols, r, x, t, k, __mmask16((1u << (cols - k)) - 1), acc);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[(t + j) * ldy + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

template <bool BF16, int R>
void rows_all_tokens(const uint16_t* w, int64_t cols, int64_t r, const Act<BF16>* x, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  int64_t t = t0;
  for (; t + 3 <= t1; t += 3) tile<BF16, R, 3>(w, cols, r, x, t, y, ldy);
  for (; t < t1; ++t) tile<BF16, R, 1>(w, cols, r, x, t, y, ldy);
}

template <bool BF16>
void gemm(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1, const Act<BF16>* x, int64_t tokens, float* y, int64_t ldy) {
  // Tokens in groups whose activations stay in L2 while the rows pass.
  const int64_t group = std::max<int64_t>(3, (int64_t(512) << 10) / (cols * 4) / 3 * 3);
  for (int64_t tg = 0; tg < tokens; tg += group) {
    const int64_t te = std::min(tokens, tg + group);
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) rows_all_tokens<BF16, 8>(w, cols, r, x, tg, te, y, ldy);
    for (; r < r1; ++r) rows_all_tokens<BF16, 1>(w, cols, r, x, tg, te, y, ldy);
  }
}

}  // namespace

void half_gemm(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy) {
  if (bf16) gemm<true>(w, cols, r0, r1, static_cast<const uint16_t*>(x), tokens, y, ldy);
  else gemm<false>(w, cols, r0, r1, static_cast<const float*>(x), tokens, y, ldy);
}

}  // namespace pareto::kernels::avx512vnni
