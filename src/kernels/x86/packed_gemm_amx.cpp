// AMX-INT8 matrix kernel over repacked weights (layout in
// kernels/packed_weights.h), for prompt batches on CPUs with AMX.
//
// Tiles: C (16 weight rows x 16 tokens, int32) += A (16 rows x one 32-weight
// block, unsigned bytes) . B (the block's 32 activations for 16 tokens,
// signed), one TDPBUSD per block: every block has its own scale, so each
// block's C is stored and added into 16 float accumulators (one per row, 16
// tokens wide) with the block scales of the weights (broadcast) and of the
// tokens (a vector). Kinds with a scale per 16 weights (Q6_K, Q3_K, Q2_K)
// take two half-depth TDPBUSD per block. Offsets and minimums leave through
// the activation sums, as in the VNNI kernel.
//
// Per group of 16 rows the weights are unpacked once (the VNNI kernel's
// chunk unpacking, bytes transposed to block-major rows) and the scales
// expanded; then every group of 16 tokens passes over them. The activation
// panel comes rearranged into B tiles (Q8TilePanel, built once per matmul).
//
// Built twice: with the AMX intrinsics (namespace amx) and, for the tests,
// over the emulated tiles (namespace amx_emulated, PARETO_AMX_EMULATE).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/packed_weights.h"
#include "kernels/x86/amx_tiles.h"
// chunk_scales leaves the scale vectors a kind does not use unset
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/x86/packed_chunk_avx512.h"

namespace pareto::kernels::PARETO_AMX_NS {

namespace {

using amx_tiles::TileConfig;

// Tile numbers: A (weights) 0, 1; B (activations) 2, 3; C 4, 5.
TileConfig tile_config(bool halves) {
  TileConfig c;
  // Whole blocks: A 16 x 32 bytes, B 8 x 64. Half blocks: A 16 x 16, B 4 x 64.
  for (int t : {0, 1}) c.set(t, 16, halves ? 16 : 32);
  for (int t : {2, 3}) c.set(t, halves ? 4 : 8, 64);
  for (int t : {4, 5}) c.set(t, 16, 64);
  return c;
}

// Weights of 16 rows, unpacked: per block a 16 x 32-byte A tile, and per
// block and row the scales (scale[k][block][row]: k as in chunk_scales).
struct RowGroup {
  std::vector<uint8_t> a;
  std::vector<float> scale[4];
};

template <PackedKind K, bool Short>
void unpack_chunk(const PackedView& w, int64_t r, int rows, int64_t c, int blocks, RowGroup& g) {
  constexpr int64_t CQ = int64_t(packed_chunk_qs_bytes(K)), CM = int64_t(packed_chunk_meta_bytes(K));
  const int64_t chunks = packed_chunks(w.cols), row_qs = int64_t(packed_row_qs_bytes(K, w.cols));
  alignas(64) uint8_t steps[8][64];
  alignas(64) float sv_out[4][16];
  for (int i = 0; i < rows; ++i) {
    __m512i wq[8];
    __m512 sv[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    chunk_quants<K, Short>(w.qs + (r + i) * row_qs + c * CQ, blocks, wq);
    chunk_scales<K>(w.meta + ((r + i) * chunks + c) * CM, sv);
    for (int s = 0; s < 8; ++s) _mm512_store_si512(steps[s], wq[s]);
    for (int k = 0; k < 4; ++k) _mm512_store_ps(sv_out[k], sv[k]);
    for (int b = 0; b < blocks; ++b) {
      uint8_t* row = g.a.data() + ((c * 16 + b) * 16 + i) * 32;
      for (int s = 0; s < 8; ++s) std::memcpy(row + 4 * s, &steps[s][4 * b], 4);
      for (int k = 0; k < 4; ++k) g.scale[k][size_t((c * 16 + b) * 16 + i)] = sv_out[k][b];
    }
  }
}

template <PackedKind K>
void unpack_rows(const PackedView& w, int64_t r, int rows, RowGroup& g) {
  const int64_t full = w.cols / kPackedChunk, nbp = packed_chunks(w.cols) * 16;
  const int tail = packed_tail_blocks(w.cols);
  // Rows past the range stay zero (their results are not written).
  g.a.assign(size_t(nbp * 16 * 32), 0);
  for (auto& s : g.scale) s.assign(size_t(nbp * 16), 0.f);
  for (int64_t c = 0; c < full; ++c) unpack_chunk<K, false>(w, r, rows, c, 16, g);
  if (tail) unpack_chunk<K, true>(w, r, rows, full, tail, g);
}

// Adds block `blk`'s C tile(s), already stored, into acc with the scales.
template <PackedKind K>
inline void scale_block(const int32_t (*c)[16][16], const RowGroup& g, const Q8TilePanel& p, int64_t tg, int64_t blk, __m512 (&acc)[16]) {
  const int64_t at = (tg * p.nbp + blk) * 16;
  const __m512 xd = _mm512_loadu_ps(p.d.data() + at);
  const float* s0 = g.scale[0].data() + blk * 16;
  if constexpr (packed_halves(K)) {
    // half sums: per chunk the 16 first halves, then the 16 last
    const int64_t ch = blk / 16, l = blk % 16, lo = (tg * 2 * p.nbp + 32 * ch + l) * 16, hi = lo + 16 * 16;
    const float* s1 = g.scale[1].data() + blk * 16;
    __m512i off_lo = _mm512_setzero_si512(), off_hi = _mm512_setzero_si512();
    if constexpr (packed_half_offset(K) != 0) {
      off_lo = _mm512_loadu_si512(p.off16.data() + lo);
      off_hi = _mm512_loadu_si512(p.off16.data() + hi);
    }
    for (int i = 0; i < 16; ++i) {
      const __m512 vlo = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_loadu_si512(c[0][i]), off_lo));
      const __m512 vhi = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_loadu_si512(c[1][i]), off_hi));
      acc[i] = _mm512_fmadd_ps(vlo, _mm512_mul_ps(_mm512_set1_ps(s0[i]), xd), acc[i]);
      acc[i] = _mm512_fmadd_ps(vhi, _mm512_mul_ps(_mm512_set1_ps(s1[i]), xd), acc[i]);
      if constexpr (K == PackedKind::q2_k) {
        acc[i] = _mm512_fnmadd_ps(_mm512_set1_ps(g.scale[2][size_t(blk * 16 + i)]), _mm512_loadu_ps(p.dsum16.data() + lo), acc[i]);
        acc[i] = _mm512_fnmadd_ps(_mm512_set1_ps(g.scale[3][size_t(blk * 16 + i)]), _mm512_loadu_ps(p.dsum16.data() + hi), acc[i]);
      }
    }
  } else {
    const __m512i off = packed_has_mins(K) ? _mm512_setzero_si512() : _mm512_loadu_si512(p.off.data() + at);
    for (int i = 0; i < 16; ++i) {
      const __m512 v = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_loadu_si512(c[0][i]), off));
      acc[i] = _mm512_fmadd_ps(v, _mm512_mul_ps(_mm512_set1_ps(s0[i]), xd), acc[i]);
      if constexpr (packed_has_mins(K))
        acc[i] = _mm512_fnmadd_ps(_mm512_set1_ps(g.scale[1][size_t(blk * 16 + i)]), _mm512_loadu_ps(p.dsum.data() + at), acc[i]);
    }
  }
}

// Block blk of the row group against token group tg: C tiles into c[0] (and
// c[1], the second half, for the halves kinds).
template <PackedKind K>
inline void block_tiles(const RowGroup& g, const Q8TilePanel& p, int64_t tg, int64_t blk, int32_t (*c)[16][16]) {
  const uint8_t* a = g.a.data() + blk * 16 * 32;
  const int8_t* b = p.tile(tg, blk);
  if constexpr (packed_halves(K)) {
    PARETO_TILE_LOAD(0, a, 32);
    PARETO_TILE_LOAD(1, a + 16, 32);
    PARETO_TILE_LOAD(2, b, 64);
    PARETO_TILE_LOAD(3, b + 256, 64);
    PARETO_TILE_ZERO(4);
    PARETO_TILE_ZERO(5);
    PARETO_TILE_DPBUSD(4, 0, 2);
    PARETO_TILE_DPBUSD(5, 1, 3);
    PARETO_TILE_STORE(4, c[0], 64);
    PARETO_TILE_STORE(5, c[1], 64);
  } else {
    PARETO_TILE_LOAD(0, a, 32);
    PARETO_TILE_LOAD(2, b, 64);
    PARETO_TILE_ZERO(4);
    PARETO_TILE_DPBUSD(4, 0, 2);
    PARETO_TILE_STORE(4, c[0], 64);
  }
}

template <PackedKind K>
void gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy, RowGroup& group) {
  const Q8TilePanel& panel = *x.tiles;
  const int64_t nb = w.cols / 32;  // real blocks (the panel pads a short chunk)
  const int64_t chunks = packed_chunks(w.cols);
  const TileConfig cfg = tile_config(packed_halves(K));
  PARETO_TILE_CONFIG(&cfg);
  alignas(64) int32_t c[2][16][16];
  alignas(64) float out[16][16];
  for (int64_t r = r0; r < r1; r += 16) {
    const int rows = int(std::min<int64_t>(16, r1 - r));
    unpack_rows<K>(w, r, rows, group);
    for (int64_t tg = 0; tg < panel.groups; ++tg) {
      __m512 acc[16];
      for (auto& v : acc) v = _mm512_setzero_ps();
      for (int64_t ch = 0; ch < chunks; ++ch)
        for (int64_t blk = ch * 16; blk < std::min(nb, ch * 16 + 16); ++blk) {
          block_tiles<K>(group, panel, tg, blk, c);
          scale_block<K>(c, group, panel, tg, blk, acc);
        }
      for (int i = 0; i < 16; ++i) _mm512_store_ps(out[i], acc[i]);
      const int tokens = int(std::min<int64_t>(16, x.tokens - tg * 16));
      for (int n = 0; n < tokens; ++n)
        for (int i = 0; i < rows; ++i) y[(tg * 16 + n) * ldy + r + i] = out[i][n];
    }
  }
  PARETO_TILE_RELEASE();
}

}  // namespace

// x.tiles must be set (Q8TilePanel::build, once per matmul).
void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  thread_local RowGroup group;
  visit_packed_kind(w.kind, [&](auto kind) { gemm<decltype(kind)::value>(w, r0, r1, x, y, ldy, group); });
}

}  // namespace pareto::kernels::PARETO_AMX_NS

#pragma GCC diagnostic pop
