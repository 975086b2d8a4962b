// The integer convolution's GEMM on AMX-INT8 tiles: C (16 weight rows x 16
// pixels, int32) += A (16 rows x 64 signed weight bytes) . B (16 k-quads x
// 16 pixels x 4 unsigned activation bytes), one TDPBSUD per step; 2 x 2 C
// tiles per pass, so each A and B tile loaded serves two products. B is the
// conv's VNNI panel [k/4][pixel][4] read as it is: its rows are k-quads of
// 16 pixels (64 bytes). The caller pads k to a multiple of 64 with zeros in
// both operands and leaves 16 readable rows past the last weight row, so
// every tile has one shape and LDTILECFG runs once per call.
//
// Built twice: with the AMX intrinsics (namespace amx) and, for the tests,
// over the emulated tiles (namespace amx_emulated, PARETO_AMX_EMULATE).
#include <algorithm>
#include <cstring>

#include "kernels/int8_conv.h"
#include "kernels/x86/amx_tiles.h"

namespace pareto::kernels::PARETO_AMX_NS {

namespace {

// A 16 x 16 int32 tile into C, only the rows < rows and columns < cols.
void copy_tile(const int32_t (&t)[16][16], int rows, int cols, int32_t* c, int64_t ldc) {
  for (int r = 0; r < rows; ++r) std::memcpy(c + r * ldc, t[r], sizeof(int32_t) * size_t(cols));
}

}  // namespace

void int8_gemm_tiles(const int8_t* a, int64_t lda, int64_t m, int64_t k64, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  amx_tiles::TileConfig cfg;
  for (int t : {0, 1}) cfg.set(t, 16, 64);     // A: weight rows r and r + 16
  for (int t : {2, 3}) cfg.set(t, 16, 64);     // B: pixels j and j + 16
  for (int t : {4, 5, 6, 7}) cfg.set(t, 16, 64);  // C: (r, j), (r, j + 16), (r + 16, j), (r + 16, j + 16)
  PARETO_TILE_CONFIG(&cfg);
  const int64_t n16 = (n + 15) / 16 * 16, ldb = n16 * 4;
  alignas(64) int32_t out[16][16];
  auto emit = [&](int64_t r, int64_t j) {
    copy_tile(out, int(std::min<int64_t>(16, m - r)), int(std::min<int64_t>(16, n - j)), c + r * ldc + j, ldc);
  };
  for (int64_t r = 0; r < m; r += 32) {
    const bool two_r = r + 16 < m;
    for (int64_t j = 0; j < n; j += 32) {
      const bool two_j = j + 16 < n;
      PARETO_TILE_ZERO(4);
      PARETO_TILE_ZERO(5);
      PARETO_TILE_ZERO(6);
      PARETO_TILE_ZERO(7);
      for (int64_t kk = 0; kk < k64; kk += 64) {
        const uint8_t* bk = b + (kk / 4) * ldb + j * 4;
        PARETO_TILE_LOAD(0, a + r * lda + kk, lda);
        PARETO_TILE_LOAD(2, bk, ldb);
        PARETO_TILE_DPBSUD(4, 0, 2);
        if (two_j) {
          PARETO_TILE_LOAD(3, bk + 64, ldb);
          PARETO_TILE_DPBSUD(5, 0, 3);
        }
        if (two_r) {
          PARETO_TILE_LOAD(1, a + (r + 16) * lda + kk, lda);
          PARETO_TILE_DPBSUD(6, 1, 2);
          if (two_j) PARETO_TILE_DPBSUD(7, 1, 3);
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
