// The bf16 convolution's GEMM on AMX-BF16 tiles: C (16 weight rows x 16
// pixels, f32) += A (16 rows x 32 bf16 weights) . B (16 k-pairs x 16 pixels
// x 2 bf16), one TDPBF16PS per step. B is the bf16 conv's panel
// [k/2][pixel][2] as it is. The caller pads k to a multiple of 32 (16
// pairs) with zeros in both operands and leaves 16 readable rows past the
// last weight row (x86/amx_conv_tiles.h has the pass).
//
// Built twice: with the AMX intrinsics (namespace amx) and, for the tests,
// over the emulated tiles (namespace amx_emulated, PARETO_AMX_EMULATE).
#include <cstring>

#include "kernels/bf16_conv.h"
#include "kernels/x86/amx_conv_tiles.h"

namespace pareto::kernels::PARETO_AMX_NS {

void bf16_gemm_tiles(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate) {
  const int64_t ldb = (n + 15) / 16 * 16 * 4;  // bytes per k-pair row of the panel
  conv_tile_passes<true>(reinterpret_cast<const uint8_t*>(a), lda * 2, m, k2 / 16, reinterpret_cast<const uint8_t*>(b), ldb, n,
                              [&](const uint8_t (&tile)[16][64], int64_t r, int64_t j, int rows, int cols) {
                                for (int i = 0; i < rows; ++i) {
                                  float row[16];
                                  std::memcpy(row, tile[i], sizeof row);
                                  float* dst = c + (r + i) * ldc + j;
                                  for (int q = 0; q < cols; ++q) dst[q] = accumulate ? dst[q] + row[q] : row[q];
                                }
                              });
}

}  // namespace pareto::kernels::PARETO_AMX_NS
