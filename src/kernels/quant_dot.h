// Integer dot products for quantized decode: activations are quantized once
// per matmul to Q8A blocks (32 int8 with a float scale and the block's
// integer sum), then each weight row is dotted block by block with integer
// multiply-adds. Names follow <activation>-<weight>-<op>: f32_q8a_quantize,
// q8a_q4_0_dot, q8a_q8_0_dot; a portable reference and ISA variants.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/pareto_formats.h"

namespace pareto::kernels {

struct Q8aBlock {
  float d;      // x ~= d * qs
  int32_t sum;  // sum of qs: lets unsigned-by-signed instructions take offset weights
  int8_t qs[32];
};
static_assert(sizeof(Q8aBlock) == 40, "Q8aBlock layout");

using QuantizeActFn = void (*)(const float* x, int64_t n, Q8aBlock* out);
// Dot of one weight row (n elements, a multiple of 32) with quantized activations.
using QuantDotFn = float (*)(const void* row, const Q8aBlock* x, int64_t n);

void f32_q8a_quantize_ref(const float* x, int64_t n, Q8aBlock* out);
float q8a_q4_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q8_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q4_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q6_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q5_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q4_1_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q5_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q3_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n);
// F16 / BF16 weights with float activations (converted in registers).
using F16DotFn = float (*)(const void* row, const float* x, int64_t n);
// Several consecutive rows against one token (decode): y[r] = row r . x.
using FloatRowsDotFn = void (*)(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y);
float f32_f16_dot_ref(const void* row, const float* x, int64_t n);
float f32_bf16_dot_ref(const void* row, const float* x, int64_t n);
// F16 / BF16 rows [r0, r1) of w [rows, cols] times activations x [tokens,
// cols]: y[t * ldy + r] (prefill; rows split across threads by the caller).
// x is f32 for F16 weights and BF16 for BF16 weights: matmul_weights rounds
// activations to BF16 for BF16 matrices on every path (as llama.cpp does),
// so AVX512-BF16 dot instructions can take both operands.
using HalfGemmFn = void (*)(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y,
                            int64_t ldy);
void half_gemm_ref(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy);
// f32 -> BF16, rounded to nearest even (NaN stays NaN), and back (exact).
void bf16_round_row_ref(const float* x, uint16_t* y, int64_t n);
void bf16_widen_row_ref(const uint16_t* x, float* y, int64_t n);
// pareto's group-wise formats (n a multiple of 32; the last group may be
// short): a row is unpacked once to one byte per code plus (d, m) per
// 32-code sub-block (value = d * code + m), then dotted with each token.
using GroupUnpackFn = void (*)(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm);
using CodesDotFn = float (*)(const uint8_t* codes, const float* dm, const Q8aBlock* x, int64_t n);
void group_unpack_ref(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm);
float q8a_codes_dot_ref(const uint8_t* codes, const float* dm, const Q8aBlock* x, int64_t n);

namespace avx512vnni {
void f32_q8a_quantize(const float* x, int64_t n, Q8aBlock* out);
float q8a_q4_0_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q8_0_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q4_k_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q6_k_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q5_0_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q4_1_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q5_k_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q3_k_dot(const void* row, const Q8aBlock* x, int64_t n);
float f32_f16_dot(const void* row, const float* x, int64_t n);
float f32_bf16_dot(const void* row, const float* x, int64_t n);
// y[r] = row r . x for `rows` rows of F16 / BF16 / F32 weights, row_bytes apart (decode).
void f16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y);
void bf16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y);
void f32_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y);
void half_gemm(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy);
void group_unpack_pdep(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm);  // BMI2
void group_unpack_vbmi(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm);  // AVX512-VBMI
float q8a_codes_dot(const uint8_t* codes, const float* dm, const Q8aBlock* x, int64_t n);
void f32_q8tok_quantize(const float* x, int64_t n, uint8_t* q, float* scale);
void q8_row_gemm(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens,
                 float* y, int64_t ldy);
void f32_to_f16(const float* x, uint16_t* y, int64_t n);
void f16_to_f32(const uint16_t* x, float* y, int64_t n);
void f16kv_attention_head(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out);
void q8kv_attention_head(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                         float* scratch, float* out);
}  // namespace avx512vnni

namespace avx512bf16 {
void half_gemm(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy);
}
// BF16 activations [tokens][cols] (cols % 32 == 0) rearranged for the
// AMX-BF16 kernel, once per matmul: per group of 16 tokens (groups rounded
// up to pairs, padding tokens zero) and 32-column step, a B tile of 16 rows
// (column pairs) x 16 tokens x 2 values.
int64_t bf16_tile_groups(int64_t tokens);
void bf16_tile_panel(const uint16_t* x, int64_t tokens, int64_t cols, std::vector<uint16_t>& panel);
// y[t * ldy + r] = w[r, :] . x[t, :] for BF16 weights [rows][cols] and a panel as above.
using Bf16TilesFn = void (*)(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1, const uint16_t* panel, int64_t tokens, float* y,
                             int64_t ldy);
namespace amx {  // AMX-BF16 tiles (x86/half_gemm_amx.cpp)
void bf16_gemm(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1, const uint16_t* panel, int64_t tokens, float* y, int64_t ldy);
}

namespace avx2 {
float q8a_q4_0_dot(const void* row, const Q8aBlock* x, int64_t n);
float q8a_q8_0_dot(const void* row, const Q8aBlock* x, int64_t n);
float f32_f16_dot(const void* row, const float* x, int64_t n);
}  // namespace avx2

// AArch64 (kernels/arm/): the same dots over plain NEON and over SDOT, equal
// to the reference bit for bit; W8A8 rows over SDOT and over USMMLA (i8mm).
#define PARETO_ARM_QUANT_DOTS                                        \
  float q8a_q4_0_dot(const void* row, const Q8aBlock* x, int64_t n); \
  float q8a_q8_0_dot(const void* row, const Q8aBlock* x, int64_t n); \
  float q8a_q4_k_dot(const void* row, const Q8aBlock* x, int64_t n); \
  float q8a_q6_k_dot(const void* row, const Q8aBlock* x, int64_t n); \
  float q8a_q5_0_dot(const void* row, const Q8aBlock* x, int64_t n); \
  float q8a_q4_1_dot(const void* row, const Q8aBlock* x, int64_t n); \
  float q8a_q5_k_dot(const void* row, const Q8aBlock* x, int64_t n); \
  float q8a_q3_k_dot(const void* row, const Q8aBlock* x, int64_t n);
namespace neon {
PARETO_ARM_QUANT_DOTS
void f32_q8a_quantize(const float* x, int64_t n, Q8aBlock* out);
float f32_f16_dot(const void* row, const float* x, int64_t n);
float f32_bf16_dot(const void* row, const float* x, int64_t n);
void f16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y);
void bf16_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y);
void f32_rows_dot(const void* w, int64_t row_bytes, int64_t rows, const float* x, int64_t n, float* y);
void f32_to_f16(const float* x, uint16_t* y, int64_t n);  // arm/attention_neon.cpp
void f16_to_f32(const uint16_t* x, float* y, int64_t n);
void f16kv_attention_head(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out);
void q8kv_attention_head(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                         float* scratch, float* out);
// pareto's group formats and W8A8 activations (arm/pareto_formats_neon.cpp),
// F16 / BF16 batches (arm/half_gemm_neon.cpp).
void group_unpack(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm);
float q8a_codes_dot(const uint8_t* codes, const float* dm, const Q8aBlock* x, int64_t n);
void f32_q8tok_quantize(const float* x, int64_t n, uint8_t* q, float* scale);
void half_gemm(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy);
}  // namespace neon
namespace dotprod {
PARETO_ARM_QUANT_DOTS
float q8a_codes_dot(const uint8_t* codes, const float* dm, const Q8aBlock* x, int64_t n);
void q8_row_gemm(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens,
                 float* y, int64_t ldy);
}  // namespace dotprod
namespace i8mm {
void q8_row_gemm(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens,
                 float* y, int64_t ldy);
}  // namespace i8mm
#undef PARETO_ARM_QUANT_DOTS

struct QuantDotTable {
  const char* isa = "ref";
  QuantizeActFn quantize = f32_q8a_quantize_ref;
  QuantDotFn q4_0 = q8a_q4_0_dot_ref;
  QuantDotFn q8_0 = q8a_q8_0_dot_ref;
  QuantDotFn q4_k = q8a_q4_k_dot_ref;
  QuantDotFn q6_k = q8a_q6_k_dot_ref;
  QuantDotFn q5_0 = q8a_q5_0_dot_ref;
  QuantDotFn q4_1 = q8a_q4_1_dot_ref;
  QuantDotFn q5_k = q8a_q5_k_dot_ref;
  QuantDotFn q3_k = q8a_q3_k_dot_ref;
  F16DotFn f16 = f32_f16_dot_ref;
  F16DotFn bf16 = f32_bf16_dot_ref;
  FloatRowsDotFn f16_rows = nullptr, bf16_rows = nullptr, f32_rows = nullptr;  // one-token decode, several rows per pass
  HalfGemmFn half_gemm = nullptr;  // null: no tiled kernel, batches widen rows for the f32 GEMM
  Bf16TilesFn bf16_tiles = nullptr;  // AMX-BF16: BF16 batches of >= 16 tokens, cols % 32 == 0
  GroupUnpackFn group_unpack = group_unpack_ref;
  CodesDotFn codes_dot = q8a_codes_dot_ref;
  QuantizeTokenFn quantize_token = f32_q8tok_quantize_ref;  // W8A8: per-token activations
  Q8RowGemmFn q8_row = q8_row_gemm_ref;
  const char* q8_row_isa = "ref";
  void (*to_f16)(const float*, uint16_t*, int64_t) = nullptr;    // null: scalar reference
  void (*from_f16)(const uint16_t*, float*, int64_t) = nullptr;
  void (*attention_f16)(const float*, const uint16_t*, const uint16_t*, int64_t, int64_t, int64_t, float*, float*) = nullptr;
  void (*attention_q8)(const float*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t, float*, float*) = nullptr;
};

// Scale and min of sub-block j of a Q4_K/Q5_K super-block (6-bit packed).
inline void k_quant_scale_min(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// The 16 signed 6-bit sub-block scales of a Q3_K super-block (12 packed
// bytes at offset 96), offset by -32 into -32..31.
inline void q3_k_scales(const uint8_t* block, int8_t out[16]) {
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t aux[4];
  std::memcpy(aux, block + 96, 12);
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  std::memcpy(out, aux, 16);
  for (int i = 0; i < 16; ++i) out[i] = int8_t(out[i] - 32);
}

// Chosen once from cpu features (PARETO_ISA=ref forces the reference).
const QuantDotTable& quant_dot_table();

}  // namespace pareto::kernels
