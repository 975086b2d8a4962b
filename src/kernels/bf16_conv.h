// Convolution in bf16 compute: weights and lowered activations rounded to
// bf16 (round to nearest even), products summed in f32, output f32 with the
// usual bias / residual / activation epilogue. One AVX512-BF16 vdpbf16ps
// does 32 multiply-adds where an f32 FMA does 16, and the operands take
// half the cache, so the im2col GEMM runs up to twice as fast; the cost is
// bf16's 8-bit mantissa (relative error about 2^-9 per operand).
//
// The layout mirrors the int8 conv: weights are the rows ([c_out][k2*2]
// bf16, k padded to even with zeros), a block of output pixels the columns,
// packed as [k2][pixel][2] so one 64-byte vector holds 2 k-steps of 16
// pixels: NCHW in, NCHW out.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/conv.h"

namespace pareto::kernels {

struct Bf16Weights {
  int64_t rows = 0, k = 0, k2 = 0;  // k2: pairs, (k + 1) / 2
  std::vector<uint16_t> data;       // [rows][2 * k2]
  // For the AMX tile GEMM (empty when it is not in use): [rows + 16][2 * k32]
  // bf16, k32 = k2 rounded up to 16 pairs, zero-filled.
  int64_t k32 = 0;
  std::vector<uint16_t> tiles;
};

// w: [rows][k] f32 (a conv's OIHW weights: rows = c_out, k = c_in/group*kh*kw).
Bf16Weights pack_bf16_weights(const float* w, int64_t rows, int64_t k);

// Which convs marked bf16 run the bf16 kernel rather than the f32 path:
// not depthwise (a direct kernel moves data, not multiplies), not tiny
// GEMMs (k < 32, < 16 output channels or < 64 pixels: packing costs more
// than it saves), and not the 3x3 convs Winograd serves (4x fewer
// multiplies beat 2x faster ones).
bool bf16_conv_preferred(const ConvParams& p);

// y[n, c_out, out_h, out_w] f32 from x[n, c_in, h, w] f32; p.epilogue applies.
void bf16_conv2d(const ConvParams& p, const float* x, const Bf16Weights& w, const float* bias, float* y);
// Direct loops over bf16-rounded operands with f32 sums: the tests' twin.
void bf16_conv2d_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

// C[r][j] (+)= Σ_p a[r][2p..2p+1] · B[p][j][0..1] for r < m, j < n: a rows
// of 2*k2 bf16 (lda apart); B a panel [k2][n16][2] (n16 = n rounded up to
// 16, padding zero); C f32 with ldc; accumulate: add to C, else overwrite.
void bf16_gemm_ref(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate);
// Rows r0 and r1 (r1 null: zeros) of `count` floats into one [n16][2] pair
// block of the panel, rounded to bf16; columns past count are zero.
void bf16_pack_pair_ref(const float* r0, const float* r1, int64_t count, int64_t n16, uint16_t* out);
namespace avx512bf16 {
void bf16_gemm(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate);
void bf16_pack_pair(const float* r0, const float* r1, int64_t count, int64_t n16, uint16_t* out);
}  // namespace avx512bf16
namespace armbf16 {  // AArch64 FEAT_BF16 (arm/bf16_gemm_armbf16.cpp): BFDOT
void bf16_gemm(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate);
void bf16_pack_pair(const float* r0, const float* r1, int64_t count, int64_t n16, uint16_t* out);
}  // namespace armbf16
// Whether this CPU runs the AVX512-BF16 or Arm BF16 kernels (else the scalar twins run).
bool bf16_conv_native();
// Whether bf16 compute pays here (AVX512-BF16, AMX-BF16 or Arm BF16): elsewhere the
// runtime keeps convs and matmuls marked bf16 in f32 rather than run the
// scalar twins (slower than f32 and less exact).
bool bf16_conv_available();

// The AMX-BF16 form (x86/bf16_gemm_amx.cpp): as bf16_gemm, with k2 a
// multiple of 16 pairs (zero-padded in a's rows and in the panel) and 16
// readable rows past row m - 1 of a.
using Bf16TileGemm = void (*)(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc,
                              bool accumulate);
namespace amx {
void bf16_gemm_tiles(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate);
}
// AMX where the CPU has AMX-BF16 and the OS grants the tile state, else
// none; tests set the emulated build, or nullptr for none; reset restores
// the automatic choice.
Bf16TileGemm bf16_tile_gemm();
void set_bf16_tile_gemm(Bf16TileGemm gemm);
void reset_bf16_tile_gemm();

}  // namespace pareto::kernels
