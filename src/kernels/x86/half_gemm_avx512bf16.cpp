// BF16 weights times activations rounded to BF16 with AVX512-BF16: one
// vdpbf16ps multiplies 32 pairs and adds them into 16 f32 lanes, twice the
// work of an f32 multiply-add for half the weight bytes per instruction.
// The caller rounds activations to BF16 (llama.cpp rounds them the same way
// for BF16 weights). Same 8-row x 3-token tiling as the F16 kernel.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>

#include "kernels/quant_dot.h"

namespace pareto::kernels::avx512bf16 {

namespace {

// 32 columns from k (Tail: the first `m` of them, the rest zero).
template <int R, int T, bool Tail>
inline void step(const uint16_t* w, int64_t cols, int64_t r, const uint16_t* x, int64_t t, int64_t k, __mmask32 m, __m512 (&acc)[R][T]) {
  __m512bh wv[R];
  for (int i = 0; i < R; ++i) {
    const uint16_t* p = w + (r + i) * cols + k;
    wv[i] = __m512bh(Tail ? _mm512_maskz_loadu_epi16(m, p) : _mm512_loadu_si512(p));
  }
  for (int j = 0; j < T; ++j) {
    const uint16_t* p = x + (t + j) * cols + k;
    const __m512bh xv = __m512bh(Tail ? _mm512_maskz_loadu_epi16(m, p) : _mm512_loadu_si512(p));
    for (int i = 0; i < R; ++i) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv[i], xv);
  }
}

template <int R, int T>
void tile(const uint16_t* w, int64_t cols, int64_t r, const uint16_t* x, int64_t t, float* y, int64_t ldy) {
  __m512 acc[R][T];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) step<R, T, false>(w, cols, r, x, t, k, 0, acc);
  if (k < cols) step<R, T, true>(w, cols, r, x, t, k, __mmask32((uint64_t(1) << (cols - k)) - 1), acc);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[(t + j) * ldy + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

template <int R>
void rows_all_tokens(const uint16_t* w, int64_t cols, int64_t r, const uint16_t* x, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  int64_t t = t0;
  for (; t + 3 <= t1; t += 3) tile<R, 3>(w, cols, r, x, t, y, ldy);
  for (; t < t1; ++t) tile<R, 1>(w, cols, r, x, t, y, ldy);
}

}  // namespace

void half_gemm(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy) {
  if (!bf16) return avx512vnni::half_gemm(w, bf16, cols, r0, r1, x, tokens, y, ldy);
  const auto* xb = static_cast<const uint16_t*>(x);
  // Tokens in groups whose activations stay in L2 while the rows pass.
  const int64_t group = std::max<int64_t>(3, (int64_t(512) << 10) / (cols * 2) / 3 * 3);
  for (int64_t tg = 0; tg < tokens; tg += group) {
    const int64_t te = std::min(tokens, tg + group);
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) rows_all_tokens<8>(w, cols, r, xb, tg, te, y, ldy);
    for (; r < r1; ++r) rows_all_tokens<1>(w, cols, r, xb, tg, te, y, ldy);
  }
}

}  // namespace pareto::kernels::avx512bf16
