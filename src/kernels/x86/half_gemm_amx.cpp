// BF16 weights times BF16 activations on AMX-BF16 tiles, for prompt batches
// on CPUs with AMX: C (16 rows x 16 tokens, f32) += A (16 rows x 32 weights)
// . B (32 activations of 16 tokens, in pairs), one TDPBF16PS (8192
// products) per tile pair, with no scales to apply: C stays in the tile for
// the whole row. Two row groups by two token groups per pass (four C tiles)
// so each loaded tile serves two products. A tiles load straight from the
// weight matrix (rows are cols * 2 bytes apart); the activations come
// rearranged into pair-interleaved B tiles (bf16_tile_panel, once per matmul).
//
// Built twice like packed_gemm_amx.cpp: AMX intrinsics (namespace amx) and
// emulated tiles for the tests (amx_emulated).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/quant_dot.h"
#include "kernels/x86/amx_tiles.h"

namespace pareto::kernels::PARETO_AMX_NS {

using amx_tiles::TileConfig;

void bf16_gemm(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1, const uint16_t* panel, int64_t tokens, float* y, int64_t ldy) {
  thread_local std::vector<uint16_t> padded;
  const int64_t groups = bf16_tile_groups(tokens);
  const int64_t steps = cols / 32, stride = cols * 2;
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.set(t, 16, 64);  // C 0..3, A 4, 5, B 6, 7
  PARETO_TILE_CONFIG(&cfg);
  alignas(64) float out[4][16][16];
  for (int64_t r = r0; r < r1; r += 32) {
    const int rows = int(std::min<int64_t>(32, r1 - r));
    const uint16_t* a = w + r * cols;
    if (rows < 32) {  // a short last pair of row groups reads from a zero-padded copy
      padded.assign(size_t(32 * cols), 0);
      std::memcpy(padded.data(), a, size_t(rows * cols) * 2);
      a = padded.data();
    }
    for (int64_t g = 0; g < groups; g += 2) {
      const uint16_t* b = panel + g * steps * 512;
      PARETO_TILE_ZERO(0);
      PARETO_TILE_ZERO(1);
      PARETO_TILE_ZERO(2);
      PARETO_TILE_ZERO(3);
      for (int64_t s = 0; s < steps; ++s) {
        PARETO_TILE_LOAD(4, a + s * 32, stride);
        PARETO_TILE_LOAD(5, a + 16 * cols + s * 32, stride);
        PARETO_TILE_LOAD(6, b + s * 512, 64);
        PARETO_TILE_LOAD(7, b + (steps + s) * 512, 64);
        PARETO_TILE_DPBF16PS(0, 4, 6);
        PARETO_TILE_DPBF16PS(1, 4, 7);
        PARETO_TILE_DPBF16PS(2, 5, 6);
        PARETO_TILE_DPBF16PS(3, 5, 7);
      }
      PARETO_TILE_STORE(0, out[0], 64);
      PARETO_TILE_STORE(1, out[1], 64);
      PARETO_TILE_STORE(2, out[2], 64);
      PARETO_TILE_STORE(3, out[3], 64);
      // out[2 * row half + token half][row][token]
      for (int q = 0; q < 4; ++q) {
        const int64_t t0 = (g + q % 2) * 16, rr = r + (q / 2) * 16;
        for (int64_t n = 0; n < 16 && t0 + n < tokens; ++n)
          for (int64_t i = 0; i < 16 && rr + i < r + rows; ++i) y[(t0 + n) * ldy + rr + i] = out[q][i][n];
      }
    }
  }
  PARETO_TILE_RELEASE();
}

}  // namespace pareto::kernels::PARETO_AMX_NS
