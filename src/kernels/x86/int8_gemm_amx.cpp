// The integer convolution's GEMM on AMX-INT8 tiles: C (16 weight rows x 16
// pixels, int32) += A (16 rows x 64 signed weight bytes) . B (16 k-quads x
// 16 pixels x 4 unsigned activation bytes), one TDPBSUD per step. B is the
// conv's VNNI panel [k/4][pixel][4] read as it is: its rows are k-quads of
// 16 pixels (64 bytes). The caller pads k to a multiple of 64 with zeros in
// both operands and leaves 16 readable rows past the last weight row
// (x86/amx_conv_tiles.h has the pass).
//
// Built twice: with the AMX intrinsics (namespace amx) and, for the tests,
// over the emulated tiles (namespace amx_emulated, PARETO_AMX_EMULATE).
#include <cstring>

#include "kernels/int8_conv.h"
#include "kernels/x86/amx_conv_tiles.h"

namespace pareto::kernels::PARETO_AMX_NS {

void int8_gemm_tiles(const int8_t* a, int64_t lda, int64_t m, int64_t k64, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  const int64_t ldb = (n + 15) / 16 * 16 * 4;
  conv_tile_passes<false>(reinterpret_cast<const uint8_t*>(a), lda, m, k64 / 64, b, ldb, n,
                                     [&](const uint8_t (&tile)[16][64], int64_t r, int64_t j, int rows, int cols) {
                                       for (int i = 0; i < rows; ++i) std::memcpy(c + (r + i) * ldc + j, tile[i], sizeof(int32_t) * size_t(cols));
                                     });
}

}  // namespace pareto::kernels::PARETO_AMX_NS
