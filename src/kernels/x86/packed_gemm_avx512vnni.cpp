// AVX512-VNNI matrix kernel over repacked Q4_0 weights (layout in
// kernels/packed_weights.h). A tile of R weight rows by T tokens: each 512-weight
// chunk of a row is unpacked once (four loads, nibbles split by shift and
// mask) and reused for the T tokens; per row and token a chunk costs eight
// vpdpbusd (activations as memory operands), one int32 -> float conversion
// and two float ops for the 16 block scales.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>

#include "kernels/packed_weights.h"

namespace pareto::kernels::avx512vnni {

namespace {

// Decode streams rows from DRAM: prefetch this many bytes ahead of each row,
// further than the out-of-order window reaches, into L2 (whose miss queue is
// deeper than L1's).
constexpr int64_t kPrefetchAhead = 16384;

template <int Bits, int R, int T>
void tile(const PackedView& w, int64_t r, const Q8Panel& x, int64_t t, float* y, int64_t ldy) {
  const int64_t cols = w.cols, nb = cols / 32, chunks = cols / kPackedChunk;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[R][T];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < chunks; ++c) {
    __m512i wq[R][8];
    __m512 ws[R];
    for (int i = 0; i < R; ++i) {
      constexpr int kChunkBytes = kPackedChunk * Bits / 8;
      const uint8_t* row = w.qs + (r + i) * cols * Bits / 8 + kChunkBytes * c;
      if (T == 1)
        for (int l = 0; l < kChunkBytes / 64; ++l) _mm_prefetch(reinterpret_cast<const char*>(row + kPrefetchAhead + 64 * l), _MM_HINT_T2);
      if constexpr (Bits == 4) {
        for (int s = 0; s < 4; ++s) {
          const __m512i v = _mm512_loadu_si512(row + 64 * s);
          wq[i][s] = _mm512_and_si512(v, m4);
          wq[i][s + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        }
      } else {
        for (int s = 0; s < 8; ++s) wq[i][s] = _mm512_loadu_si512(row + 64 * s);
      }
      ws[i] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.scales + (r + i) * nb + 16 * c)));
    }
    for (int j = 0; j < T; ++j) {
      const int8_t* a = x.qs + (t + j) * cols + kPackedChunk * c;
      const __m512 ad = _mm512_loadu_ps(x.d + (t + j) * nb + 16 * c);
      const __m512i off = _mm512_loadu_si512(x.off + (t + j) * nb + 16 * c);
      for (int i = 0; i < R; ++i) {
        // two dependency chains of four vpdpbusd each
        __m512i s0 = _mm512_dpbusd_epi32(off, wq[i][0], _mm512_load_si512(a));
        __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[i][4], _mm512_load_si512(a + 256));
        for (int s = 1; s < 4; ++s) {
          s0 = _mm512_dpbusd_epi32(s0, wq[i][s], _mm512_load_si512(a + 64 * s));
          s1 = _mm512_dpbusd_epi32(s1, wq[i][s + 4], _mm512_load_si512(a + 256 + 64 * s));
        }
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_mul_ps(ws[i], ad), acc[i][j]);
      }
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[(t + j) * ldy + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

template <int Bits, int R>
void rows_all_tokens(const PackedView& w, int64_t r, const Q8Panel& x, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) tile<Bits, R, 4>(w, r, x, t, y, ldy);
  for (; t < t1; ++t) tile<Bits, R, 1>(w, r, x, t, y, ldy);
}

template <int Bits>
void gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  // The tokens of one chunk keep their activations in L2 while every row of
  // the range passes over them.
  const int64_t chunk = std::max<int64_t>(4, (int64_t(256) << 10) / x.cols / 4 * 4);
  for (int64_t tc = 0; tc < x.tokens; tc += chunk) {
    const int64_t te = std::min(x.tokens, tc + chunk);
    int64_t r = r0;
    for (; r + 2 <= r1; r += 2) rows_all_tokens<Bits, 2>(w, r, x, tc, te, y, ldy);
    for (; r < r1; ++r) rows_all_tokens<Bits, 1>(w, r, x, tc, te, y, ldy);
  }
}

}  // namespace

void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  if (w.bits == 8) gemm<8>(w, r0, r1, x, y, ldy);
  else gemm<4>(w, r0, r1, x, y, ldy);
}

}  // namespace pareto::kernels::avx512vnni
