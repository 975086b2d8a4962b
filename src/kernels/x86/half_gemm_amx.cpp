// BF16 weights times BF16 activations on AMX-BF16 tiles, for prompt batches
// on CPUs with AMX: C (16 rows x 16 tokens, f32) += A (16 rows x 32 weights)
// . B (32 activations of 16 tokens, in pairs), one TDPBF16PS per 512
// products of each tile pair, with no scales to apply: C stays in the tile
// for the whole row. Two row groups by two token groups per pass (four C
// tiles) so each loaded tile serves two products. A tiles load straight
// from the weight matrix (rows are cols * 2 bytes apart); the activations
// are rearranged once per call into pair-interleaved B tiles.
//
// Built twice like packed_gemm_amx.cpp: AMX intrinsics (namespace amx) and
// emulated tiles for the tests (amx_emulated).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/quant_dot.h"
#include "kernels/x86/amx_tiles.h"

#if PARETO_AMX_EMULATE
#define PARETO_AMX_NS amx_emulated
#else
#define PARETO_AMX_NS amx
#endif

namespace pareto::kernels::PARETO_AMX_NS {

namespace {

using amx_tiles::TileConfig;

// Per pair of token groups (16 tokens each, the last ones zero) and 32-column
// step: two B tiles of 16 rows (column pairs) x 16 tokens x 2 values.
void build_panel(const uint16_t* x, int64_t tokens, int64_t cols, std::vector<uint16_t>& p, int64_t& groups) {
  const int64_t steps = cols / 32;
  groups = (tokens + 31) / 32 * 2;
  p.assign(size_t(groups * steps * 512), 0);
  for (int64_t tok = 0; tok < tokens; ++tok) {
    const uint16_t* src = x + tok * cols;
    uint16_t* dst = p.data() + (tok / 16) * steps * 512 + (tok % 16) * 2;
    for (int64_t k = 0; k < cols; k += 2) std::memcpy(dst + (k / 32) * 512 + (k % 32) / 2 * 32, src + k, 4);
  }
}

}  // namespace

void bf16_gemm(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy) {
  (void)bf16;  // BF16 weights only (dispatch checks; F16 stays on the AVX-512 kernel)
  thread_local std::vector<uint16_t> panel, padded;
  int64_t groups = 0;
  build_panel(static_cast<const uint16_t*>(x), tokens, cols, panel, groups);
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
      const uint16_t* b = panel.data() + g * steps * 512;
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
