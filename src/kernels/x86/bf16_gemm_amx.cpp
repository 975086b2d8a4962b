// The bf16 convolution's GEMM on AMX-BF16 tiles: C (16 weight rows x 16
// pixels, f32) += A (16 rows x 32 bf16 weights) . B (16 k-pairs x 16 pixels
// x 2 bf16), one TDPBF16PS per step, 2 x 2 C tiles per pass. B is the bf16
// conv's panel [k/2][pixel][2] as it is. The caller pads k to a multiple of
// 32 with zeros in both operands and leaves 16 readable rows past the last
// weight row, so every tile has one shape and LDTILECFG runs once per call.
//
// Built twice: with the AMX intrinsics (namespace amx) and, for the tests,
// over the emulated tiles (namespace amx_emulated, PARETO_AMX_EMULATE).
#include <algorithm>
#include <cstring>

#include "kernels/bf16_conv.h"
#include "kernels/x86/amx_tiles.h"

namespace pareto::kernels::PARETO_AMX_NS {

void bf16_gemm_tiles(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate) {
  amx_tiles::TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.set(t, 16, 64);  // A 0-1, B 2-3, C 4-7 as in the int8 tile GEMM
  PARETO_TILE_CONFIG(&cfg);
  const int64_t n16 = (n + 15) / 16 * 16, ldb = n16 * 4;  // bytes per k-pair row of the panel
  const int64_t lda_bytes = lda * 2;
  alignas(64) float out[16][16];
  auto emit = [&](int64_t r, int64_t j) {
    const int rows = int(std::min<int64_t>(16, m - r)), cols = int(std::min<int64_t>(16, n - j));
    for (int i = 0; i < rows; ++i) {
      float* dst = c + (r + i) * ldc + j;
      for (int q = 0; q < cols; ++q) dst[q] = accumulate ? dst[q] + out[i][q] : out[i][q];
    }
  };
  const auto* ab = reinterpret_cast<const uint8_t*>(a);
  const auto* bb = reinterpret_cast<const uint8_t*>(b);
  for (int64_t r = 0; r < m; r += 32) {
    const bool two_r = r + 16 < m;
    for (int64_t j = 0; j < n; j += 32) {
      const bool two_j = j + 16 < n;
      PARETO_TILE_ZERO(4);
      PARETO_TILE_ZERO(5);
      PARETO_TILE_ZERO(6);
      PARETO_TILE_ZERO(7);
      for (int64_t p = 0; p < k2; p += 16) {  // 16 k-pairs: 64 bytes of each weight row
        const uint8_t* bk = bb + p * ldb + j * 4;
        PARETO_TILE_LOAD(0, ab + r * lda_bytes + p * 4, lda_bytes);
        PARETO_TILE_LOAD(2, bk, ldb);
        PARETO_TILE_DPBF16PS(4, 0, 2);
        if (two_j) {
          PARETO_TILE_LOAD(3, bk + 64, ldb);
          PARETO_TILE_DPBF16PS(5, 0, 3);
        }
        if (two_r) {
          PARETO_TILE_LOAD(1, ab + (r + 16) * lda_bytes + p * 4, lda_bytes);
          PARETO_TILE_DPBF16PS(6, 1, 2);
          if (two_j) PARETO_TILE_DPBF16PS(7, 1, 3);
        }
      }
      PARETO_TILE_STORE(4, out, 64);
      emit(r, j);
      if (two_j) {
        PARETO_TILE_STORE(5, out, 64);
        emit(r, j + 16);
      }
      if (two_r) {
        PARETO_TILE_STORE(6, out, 64);
        emit(r + 16, j);
        if (two_j) {
          PARETO_TILE_STORE(7, out, 64);
          emit(r + 16, j + 16);
        }
      }
    }
  }
  PARETO_TILE_RELEASE();
}

}  // namespace pareto::kernels::PARETO_AMX_NS
