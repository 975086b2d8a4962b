// AVX512-VNNI matrix kernel over repacked weights (layout in
// kernels/packed_weights.h). A tile of R weight rows by T tokens: each
// 512-weight chunk of a row is unpacked once (four loads, nibbles split by
// shift and mask, fifth and sixth bits added under byte masks) and reused
// for the T tokens; per row and token a chunk costs eight vpdpbusd
// (activations as memory operands), one int32 -> float conversion and two
// float ops for the 16 block scales (one more for K-quant minimums, two
// more for Q6_K's second scale per block).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/packed_weights.h"
#include "kernels/x86/packed_chunk_avx512.h"

namespace pareto::kernels::avx512vnni {

namespace {

// One chunk c of rows r..r+R-1 against tokens t..t+T-1, added to acc.
template <PackedKind K, int R, int T, bool Short>
inline void chunk_tile(const PackedView& w, int64_t r, const Q8Panel& x, int64_t t, int64_t c, int blocks, __m512 (&acc)[R][T]) {
  constexpr int64_t CQ = int64_t(packed_chunk_qs_bytes(K)), CM = int64_t(packed_chunk_meta_bytes(K));
  const int64_t chunks = packed_chunks(w.cols), nbp = chunks * 16, row_qs = int64_t(packed_row_qs_bytes(K, w.cols));
  __m512i wq[R][8];
  __m512 sv[R][4];
  for (int i = 0; i < R; ++i) {
    const uint8_t* q = w.qs + (r + i) * row_qs + c * CQ;
    const uint8_t* meta = w.meta + ((r + i) * chunks + c) * CM;
    // Rows stream from memory once per step when few tokens share them
    // (decode, and several sequences decoding together): prefetch ahead.
    if (!Short && (T == 1 || x.tokens <= 8)) {
      for (int l = 0; l < CQ / 64; ++l) _mm_prefetch(reinterpret_cast<const char*>(q + kPrefetchAhead + 64 * l), _MM_HINT_T2);
      _mm_prefetch(reinterpret_cast<const char*>(meta + kPrefetchAhead / CQ * CM), _MM_HINT_T2);
    }
    chunk_quants<K, Short>(q, blocks, wq[i]);
    chunk_scales<K>(meta, sv[i]);
  }
  for (int j = 0; j < T; ++j) {
    const int64_t at = (t + j) * nbp + 16 * c;
    const int8_t* a = x.qs + (t + j) * nbp * 32 + kPackedChunk * c;
    const __m512 ad = _mm512_loadu_ps(x.d + at);
    __m512i seed0, seed1 = _mm512_setzero_si512();
    if constexpr (packed_half_offset(K) != 0) {
      seed0 = _mm512_loadu_si512(x.off16 + 2 * at);
      seed1 = _mm512_loadu_si512(x.off16 + 2 * at + 16);
    } else if constexpr (has_mins(K) || K == PackedKind::q2_k) {
      seed0 = _mm512_setzero_si512();
    } else {
      seed0 = _mm512_loadu_si512(x.off + at);
    }
    for (int i = 0; i < R; ++i) {
      // two dependency chains of four vpdpbusd each: the blocks' first and last 16 elements
      __m512i s0 = _mm512_dpbusd_epi32(seed0, wq[i][0], _mm512_load_si512(a));
      __m512i s1 = _mm512_dpbusd_epi32(seed1, wq[i][4], _mm512_load_si512(a + 256));
      for (int s = 1; s < 4; ++s) {
        s0 = _mm512_dpbusd_epi32(s0, wq[i][s], _mm512_load_si512(a + 64 * s));
        s1 = _mm512_dpbusd_epi32(s1, wq[i][s + 4], _mm512_load_si512(a + 256 + 64 * s));
      }
      if constexpr (packed_halves(K)) {
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(sv[i][0], ad), acc[i][j]);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_mul_ps(sv[i][1], ad), acc[i][j]);
        if constexpr (K == PackedKind::q2_k) {
          acc[i][j] = _mm512_fnmadd_ps(sv[i][2], _mm512_loadu_ps(x.dsum16 + 2 * at), acc[i][j]);
          acc[i][j] = _mm512_fnmadd_ps(sv[i][3], _mm512_loadu_ps(x.dsum16 + 2 * at + 16), acc[i][j]);
        }
      } else {
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_mul_ps(sv[i][0], ad), acc[i][j]);
        if constexpr (has_mins(K)) acc[i][j] = _mm512_fnmadd_ps(sv[i][1], _mm512_loadu_ps(x.dsum + at), acc[i][j]);
      }
    }
  }
}

template <PackedKind K, int R, int T>
void tile(const PackedView& w, int64_t r, const Q8Panel& x, int64_t t, float* y, int64_t ldy) {
  const int64_t full = w.cols / kPackedChunk;
  const int tail = packed_tail_blocks(w.cols);
  __m512 acc[R][T];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < full; ++c) chunk_tile<K, R, T, false>(w, r, x, t, c, 16, acc);
  if (tail) chunk_tile<K, R, T, true>(w, r, x, t, full, tail, acc);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[(t + j) * ldy + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

template <PackedKind K, int R>
void rows_all_tokens(const PackedView& w, int64_t r, const Q8Panel& x, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) tile<K, R, 4>(w, r, x, t, y, ldy);
  for (; t < t1; ++t) tile<K, R, 1>(w, r, x, t, y, ldy);
}

template <PackedKind K>
void gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  // The tokens of one chunk keep their activations in L2 while every row of
  // the range passes over them.
  const int64_t chunk = std::max<int64_t>(4, (int64_t(256) << 10) / x.cols / 4 * 4);
  for (int64_t tc = 0; tc < x.tokens; tc += chunk) {
    const int64_t te = std::min(x.tokens, tc + chunk);
    int64_t r = r0;
    for (; r + 2 <= r1; r += 2) rows_all_tokens<K, 2>(w, r, x, tc, te, y, ldy);
    for (; r < r1; ++r) rows_all_tokens<K, 1>(w, r, x, tc, te, y, ldy);
  }
}

}  // namespace

void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  visit_packed_kind(w.kind, [&](auto kind) { gemm<decltype(kind)::value>(w, r0, r1, x, y, ldy); });
}

}  // namespace pareto::kernels::avx512vnni
