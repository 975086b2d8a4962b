// Convolution in f16 compute (Armv8.2 FEAT_FP16: FMLA .8h does 8
// multiply-adds where an f32 FMLA does 4, over operands half the size).
//
// f16 has 11 significant bits and a range of 65504, so the kernel keeps
// both in check rather than hope a model fits them:
//  - Range: each weight row is scaled by a power of two so that each
//    aligned run of kF16Chunk weights has an absolute sum below 256, and
//    the input by one so that |x| < 1; every partial sum then stays below
//    ~256: no overflow. Only input values more than 2^14 below the conv's
//    largest (or all of them, when that is below 2^-34) land in f16's
//    subnormals, where their absolute error stays below 2^-25 of the
//    largest. Powers of two scale exactly and are taken back out in f32.
//  - Accumulation: products are summed in f16 over kF16Chunk k-steps only,
//    then each chunk's sum is widened and added in f32, so rounding error
//    grows with the chunk (32 terms), not with k.
// An input with |x| >= 2^20, an infinity or a NaN, or weights that cannot
// be scaled, make the conv run in f32 instead (f16_conv2d returns false).
//
// Layout: weights [rows][k8] f16 (k8 = k rounded up to 8, zero padded),
// the lowered block of output pixels a panel [k8][n16] f16 (n16 = pixels
// rounded up to 16, padding zero): NCHW in, NCHW out.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/conv.h"

namespace pareto::kernels {

inline constexpr int64_t kF16Chunk = 32;  // k-steps summed in f16 before the f32 sum takes over

struct F16Weights {
  int64_t rows = 0, k8 = 0;
  std::vector<uint16_t> data;  // [rows][k8] f16 bits, row r scaled by 2^exponent[r]
  std::vector<int> exponent;   // per row
  bool usable = false;         // false: a weight is not finite or too far from 1 to scale; the conv runs in f32
};

// w: [rows][k] f32 (a conv's OIHW weights: rows = c_out, k = c_in/group*kh*kw).
F16Weights pack_f16_weights(const float* w, int64_t rows, int64_t k);

// bf16_conv_preferred's convs: not depthwise, not tiny, not the 3x3 convs
// Winograd serves.
bool f16_conv_preferred(const ConvParams& p);

// y[n, c_out, out_h, out_w] f32 from x[n, c_in, h, w] f32; p.epilogue
// applies. False (y untouched) where the input or weights fall outside
// what the scaling covers: the caller runs the f32 conv.
bool f16_conv2d(const ConvParams& p, const float* x, const F16Weights& w, const float* bias, float* y);

// c[r][j] = (accumulate ? c[r][j] : 0) + scale[r] * Σ_chunks f32(s_chunk),
// s_chunk = the f16 fused multiply-add chain over its kF16Chunk k-steps
// (in k order, from +0) of a[r][k] * b[k][j]; a rows of k8 f16 (lda apart,
// k8 a multiple of 8), b a panel [k8][n16] (n16 = n rounded up to 16).
// The reference rounds each fused step exactly as the hardware does (NaN
// aside: it gives a quiet NaN, not the operand's payload; the conv never
// feeds one).
void f16_gemm_ref(const uint16_t* a, int64_t lda, int64_t m, int64_t k8, const uint16_t* b, int64_t n, const float* scale, float* c,
                  int64_t ldc, bool accumulate);
// Rows [0, k) of src (ld apart, `count` floats each) times 2^exponent into
// the panel [k8][n16] as f16; columns past count and rows past k are zero.
void f16_pack_panel_ref(const float* src, int64_t ld, int64_t k, int64_t count, int exponent, int64_t k8, int64_t n16, uint16_t* out);
// The largest |v| of n floats; NaN if one is NaN.
float abs_max_ref(const float* v, int64_t n);
// One exactly rounded f16 fused multiply-add, acc + a * b (f16 bits).
uint16_t f16_fma_ref(uint16_t a, uint16_t b, uint16_t acc);

namespace armfp16 {  // AArch64 FEAT_FP16 (arm/f16_gemm_fp16.cpp): FMLA .8h by lane
void f16_gemm(const uint16_t* a, int64_t lda, int64_t m, int64_t k8, const uint16_t* b, int64_t n, const float* scale, float* c,
              int64_t ldc, bool accumulate);
void f16_pack_panel(const float* src, int64_t ld, int64_t k, int64_t count, int exponent, int64_t k8, int64_t n16, uint16_t* out);
float abs_max(const float* v, int64_t n);
}  // namespace armfp16

// Whether this CPU runs the FEAT_FP16 kernels (AArch64 with FP16 arithmetic,
// PARETO_ISA not capping below it). Elsewhere convs marked f16 stay f32:
// the scalar twins are slower than f32 and no more exact.
bool f16_conv_available();

}  // namespace pareto::kernels
