// The pass both conv tile GEMMs make (x86/int8_gemm_amx.cpp,
// x86/bf16_gemm_amx.cpp): C tiles of 16 weight rows x 16 pixels, 2 x 2 of
// them per pass so each A and B tile loaded serves two products. A rows are
// `lda` bytes apart; each step takes 64 bytes of every A row and 16 rows
// of B (the conv's panel, `ldb` bytes per row: 16 pixels x 4 bytes from
// column j); the caller pads k so every step is whole and leaves 16
// readable A rows past row m - 1. Tiles: A 0-1, B 2-3, C 4-7, all 16 x 64
// bytes, so LDTILECFG runs once. The tile product is TDPBF16PS (Bf16) or
// TDPBSUD; its tile numbers are literals (GCC's intrinsics paste them into
// the instruction text). emit(tile, r, j, rows, cols) takes each finished
// C tile (16 rows of 64 bytes) for rows r.. and pixels j.. that exist.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/x86/amx_tiles.h"

namespace pareto::kernels::PARETO_AMX_NS {

#define PARETO_CONV_TILE_DOT(d, a, b) \
  do {                                \
    if constexpr (Bf16)               \
      PARETO_TILE_DPBF16PS(d, a, b);  \
    else                              \
      PARETO_TILE_DPBSUD(d, a, b);    \
  } while (0)

template <bool Bf16, class Emit>
void conv_tile_passes(const uint8_t* a, int64_t lda, int64_t m, int64_t steps, const uint8_t* b, int64_t ldb, int64_t n, Emit emit) {
  amx_tiles::TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.set(t, 16, 64);
  PARETO_TILE_CONFIG(&cfg);
  alignas(64) uint8_t out[16][64];
  auto finish = [&](int64_t r, int64_t j) { emit(out, r, j, int(std::min<int64_t>(16, m - r)), int(std::min<int64_t>(16, n - j))); };
  for (int64_t r = 0; r < m; r += 32) {
    const bool two_r = r + 16 < m;
    for (int64_t j = 0; j < n; j += 32) {
      const bool two_j = j + 16 < n;
      PARETO_TILE_ZERO(4);
      PARETO_TILE_ZERO(5);
      PARETO_TILE_ZERO(6);
      PARETO_TILE_ZERO(7);
      for (int64_t s = 0; s < steps; ++s) {
        const uint8_t* bk = b + s * 16 * ldb + j * 4;
        PARETO_TILE_LOAD(0, a + r * lda + s * 64, lda);
        PARETO_TILE_LOAD(2, bk, ldb);
        PARETO_CONV_TILE_DOT(4, 0, 2);
        if (two_j) {
          PARETO_TILE_LOAD(3, bk + 64, ldb);
          PARETO_CONV_TILE_DOT(5, 0, 3);
        }
        if (two_r) {
          PARETO_TILE_LOAD(1, a + (r + 16) * lda + s * 64, lda);
          PARETO_CONV_TILE_DOT(6, 1, 2);
          if (two_j) PARETO_CONV_TILE_DOT(7, 1, 3);
        }
      }
      PARETO_TILE_STORE(4, out, 64);
      finish(r, j);
      if (two_j) {
        PARETO_TILE_STORE(5, out, 64);
        finish(r, j + 16);
      }
      if (two_r) {
        PARETO_TILE_STORE(6, out, 64);
        finish(r + 16, j);
        if (two_j) {
          PARETO_TILE_STORE(7, out, 64);
          finish(r + 16, j + 16);
        }
      }
    }
  }
  PARETO_TILE_RELEASE();
}

#undef PARETO_CONV_TILE_DOT

}  // namespace pareto::kernels::PARETO_AMX_NS
