// Integer convolution: uint8 (or int8) activations times int8 (or uint8)
// weights summed in int32, as ONNX's ConvInteger and QLinearConv define it
// and as pareto's int8 models run. Both operands are shifted to the form the
// x86 dot-product instructions take (unsigned activations, signed weights):
// the shift moves value and zero point together, so every sum
// Σ (x - x_zero)(w - w_zero) is unchanged and exact.
//
// The work is an im2col GEMM: weights are the rows (packed once), a block of
// output pixels the columns, laid out for VNNI as [k/4][pixel][4] bytes, so
// one 64-byte vector holds 4 k-steps of 16 pixels and each output vector is
// 16 pixels of one output channel: NCHW in, NCHW out.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/split.h"

namespace pareto::kernels {

struct Int8Weights {
  int64_t rows = 0, k = 0, k4 = 0;  // k4: k rounded up to a multiple of 4 (zero-filled)
  std::vector<int8_t> data;         // [rows][k4], signed
  // For the AMX tile GEMM (empty when it is not in use): [rows + 16][k64],
  // k64 = k rounded up to 64, zero-filled (16 spare rows: a tile of a
  // group's last rows may reach past them).
  int64_t k64 = 0;
  std::vector<int8_t> tiles;
  std::vector<int32_t> row_sums;    // Σ_k data
  std::vector<int32_t> zero;        // per-row zero point, in the signed form
  bool any_zero = false;            // some row's zero point is not 0
  // For the shifted conv (below; empty when it is not in use): the rows
  // again with k ordered (channel quad, tap i, tap j, channel % 4), the
  // channels padded to a multiple of 4 with zero weights: [rows][shifted_k4].
  int64_t shifted_k4 = 0;
  std::vector<int8_t> shifted;
};

// w: [rows][k] int8 (w_signed) or uint8; zero points: one, or one per row
// (zero_count 1 or rows), or none (null).
Int8Weights pack_int8_weights(const void* w, bool w_signed, int64_t rows, int64_t k, const int32_t* zero, int64_t zero_count);

enum class Int8Output { i32, q8, f32 };

// What each corrected int32 sum s (Σ (x - x_zero)(w - w_zero)) becomes:
//   i32: s;
//   q8:  saturate(round_half_even(scale[oc] * (s + bias_i32[oc])) + y_zero);
//   f32: act(scale[oc] * s + bias_f32[oc] (+ residual)).
struct Int8Epilogue {
  Int8Output kind = Int8Output::i32;
  const float* scale = nullptr;       // per output channel (q8, f32)
  const int32_t* bias_i32 = nullptr;  // q8, may be null
  int32_t y_zero = 0;
  bool y_signed = false;
  const float* bias_f32 = nullptr;  // f32, may be null
  Epilogue act;                     // f32: activation and residual (NCHW like y)
  // f32 only: when data is set, each finished value (after the activation)
  // is rounded to uint8 as QuantizeLinear(scale, zero) and written there
  // instead of y (y unused): the int8 or int8-input depthwise conv reading
  // it takes the bytes as they are (passes/fuse_quantize.cpp).
  QuantizedOutput quant;
};

struct Int8ConvParams {
  ConvParams geo;  // shapes, strides, pads, dilations, groups (geo.epilogue unused)
  bool x_signed = false;
  int32_t x_zero = 0;  // as given (int8 or uint8 range)
  Int8Epilogue out;
};

// Products per output (k = c_in/group*kh*kw) the int32 sums hold without
// overflow: |x - x_zero| * |w - w_zero| <= 255 * 128 after the shift to
// signed weights, and 65536 * 32640 < 2^31. Larger convs are refused.
constexpr int64_t kMaxInt8ConvK = 65536;

// x: [n, c_in, h, w] uint8/int8; w packed with rows = c_out, k = c_in/group*kh*kw;
// y: [n, c_out, out_h, out_w] of int32, uint8/int8 (y_signed) or float.
void int8_conv2d(const Int8ConvParams& p, const void* x, const Int8Weights& w, void* y);
// The shifted form of a stride-1 conv with a kernel larger than 1x1 and one
// group, taken by int8_conv2d when the weights were prepared for it. The
// input is padded and interleaved once per call as [c_in/4][hp][wp][4]
// bytes (hp, wp: the padded height and width), so the im2col entry of
// output pixel q (counted along the padded width) under tap (i, j) of
// channel quad cq is the 4 bytes at cq*hp*wp*4 + (q + i*dil_h*wp + j*dil_w)*4:
// the GEMM reads its operand in place through one offset per k-quad instead
// of lowering it (the lowering cost as much as the products when c_out is
// small). The wp - out_w columns past each output row are computed and dropped.
bool int8_conv_shifted_applicable(const ConvParams& p);
// Whether int8_conv2d runs this conv in the shifted form on this machine
// (applicable, AVX-512 VNNI, no tile GEMM in use): what the runtime asks
// before preferring int8 to float Winograd for a 3x3 conv.
bool int8_conv_takes_shifted(const ConvParams& p);
// Fills w.shifted where the shifted form may serve the conv at some input
// size (one group, stride 1, a kernel larger than 1x1, VNNI, no tile GEMM)
// and no row has a weight zero point (the padded channels must add
// nothing); else leaves w as it is. int8_conv2d checks the rest per call.
void prepare_shifted_weights(Int8Weights& w, const ConvParams& p);
// C[r][j] = Σ_q Σ_b a[r][4q + b] * b[off[q] + 4j + b] for r < m, j < n,
// q < quads; b must be readable 64 bytes past every row's last quad.
void int8_gemm_offsets_ref(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                           int32_t* c, int64_t ldc);
void int8_gemm_offsets(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                       int32_t* c, int64_t ldc);  // dispatched

// Shared by the im2col and shifted drivers: the epilogue of output
// channels [oc0, oc0 + rows), count pixels each (acc rows ld apart), to y at
// element out0 + (oc - oc0) * plane + q; col_sums when some weight zero
// point is not 0.
namespace int8_detail {

// Four rows of n bytes (null: a padded channel, read as `pad`) into [n][4],
// the int8 form flipped to unsigned (flip 0x80) on the way.
void interleave_rows(const uint8_t* const r[4], int64_t n, uint8_t flip, uint8_t pad, uint8_t* out);
void store_tile(const Int8ConvParams& p, const Int8Weights& w, int64_t oc0, int64_t rows, const int32_t* acc, int64_t ld,
                const int32_t* col_sums, int64_t count, int64_t out0, int64_t plane, void* y);
void conv2d_shifted(const Int8ConvParams& p, const void* x, const Int8Weights& w, void* y);
bool use_vnni();
// Whether int8_gemm runs a vector kernel here (VNNI, or SDOT on AArch64).
bool fast_gemm();
}  // namespace int8_detail

// Direct loops over the unpacked operands: the twin the tests compare with.
void int8_conv2d_ref(const Int8ConvParams& p, const void* x, const void* w, bool w_signed, const int32_t* w_zero,
                     int64_t w_zero_count, void* y);

// C[r][j] = Σ_k a[r][k] * B(k, j) for r < m, j < n: a rows of k4 signed
// bytes (lda apart); B a panel [k4/4][n16][4] of unsigned bytes, n16 = n
// rounded up to 16 (padding columns zero); C int32 with ldc.
void int8_gemm_ref(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
// Weights that stand for int8 codes times one scale (fold_qdq keeps an
// int8 conv's float weights so): codes[i] = nearbyint(w[i] / scale), where
// float(code) * scale gives every weight back bit for bit. False (codes
// partly written) where one does not, or the scale is 0 or not finite.
// The artifact writer stores such weights as codes; fold_conv_affine keeps
// them so when it folds a per-channel factor in.
bool exact_int8_codes(const float* w, int64_t n, float scale, int8_t* codes);
// out[i] = quantize_value(x[i] / scale, zero, 0, 255): QuantizeLinear to uint8.
void quantize_u8_ref(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out);
void quantize_u8(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out);  // dispatched
// out[i] = QuantizeLinear(x[i] * factor) to uint8, the product a float
// multiply: quantize_u8 of the products in one pass (the squeeze-excite's
// gated output), the same bytes.
void quantize_u8_scaled(const float* x, int64_t n, float factor, float scale, int32_t zero, uint8_t* out);  // dispatched
// out[i] = float(q[i] - zero) * scale: DequantizeLinear from uint8 (exact
// integers, one rounding in the multiply).
void dequantize_u8_ref(const uint8_t* q, int64_t n, float scale, int32_t zero, float* out);
void dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zero, float* out);  // dispatched
// Rows of the int8 conv's float epilogue finished in registers: row r's
// value v = scale[r] * float(acc + base[r] - w_zero[r] * col_sums) + bias[r]
// (a multiply, then an add), plus the residual, then the activation
// (kernels/activation.h's order), then stored to f32, or rounded to uint8
// as QuantizeLinear(u8_scale, u8_zero) into u8 when that is set: the same
// bits as int8_f32_row, apply_activation and quantize_u8 one pass after
// another. Row r of residual, f32 and u8 starts r * stride elements on.
struct Int8RowsEpilogue {
  const int32_t* base = nullptr;
  const int32_t* w_zero = nullptr;
  const int32_t* col_sums = nullptr;  // read for the rows whose w_zero is not 0
  const float* scale = nullptr;
  const float* bias = nullptr;        // null: 0
  const Activation* act = nullptr;    // null: none
  const float* residual = nullptr;
  float* f32 = nullptr;
  uint8_t* u8 = nullptr;
  int64_t stride = 0;
  float u8_scale = 1;
  int32_t u8_zero = 0;
};
namespace avx512vnni {
// Rows [0, rows) of acc (ld apart), count values each. Returns false,
// writing nothing, for an activation without a vector form
// (has_vector_form, kernels/activation.h). The integers in 32 bits (the caller checks).
bool int8_epilogue_rows(const int32_t* acc, int64_t ld, int64_t rows, int64_t count, const Int8RowsEpilogue& e);
void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
void int8_gemm_offsets(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                       int32_t* c, int64_t ldc);
void quantize_u8(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out);
void quantize_u8_scaled(const float* x, int64_t n, float factor, float scale, int32_t zero, uint8_t* out);
void dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zero, float* out);
// One output row of the float epilogue: row[q] = scale * float(acc[q] + base
// - w_zero * col_sums[q]) + bias, the integers in 32 bits (the caller checks
// they fit), a multiply then an add as the scalar loop does (same bits).
void int8_f32_row(const int32_t* acc, int64_t n, int32_t base, int32_t w_zero, const int32_t* col_sums, float scale, float bias, float* row);
// The im2col panel's columns [first, first + count) (output pixels of one
// image and group; x its first input channel of cin, h x w planes), built
// from copies of the input rows the tile reads: column q of quad kq at out
// + kq * quad_bytes + 4 (q - first), the bytes the generic lowering writes
// (x flipped by `flip`, padding `pad`, taps past k 0). Where
// panel_from_windows_fits (stride_w 1 to 4, the copies of the
// panel_window_rows rows within 1 MiB). x86/int8_panel_avx512vnni.cpp.
int64_t panel_window_rows(const ConvParams& p, int64_t first, int64_t count);
bool panel_from_windows_fits(const ConvParams& p, int64_t cin, int64_t w, int64_t rows);
void panel_from_windows(const ConvParams& p, const uint8_t* x, int64_t cin, int64_t h, int64_t w, uint8_t flip, uint8_t pad, int64_t k,
                        int64_t k4, int64_t first, int64_t count, uint8_t* out, int64_t quad_bytes);
}
// AArch64 dot product (arm/int8_gemm_dotprod.cpp): the same operands and results.
namespace dotprod {
void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
void quantize_u8(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out);
void int8_gemm_offsets(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                       int32_t* c, int64_t ldc);
void int8_f32_row(const int32_t* acc, int64_t n, int32_t base, int32_t w_zero, const int32_t* col_sums, float scale, float bias, float* row);
}
namespace i8mm {  // AArch64 i8mm (arm/int8_gemm_i8mm.cpp): USMMLA, the same operands and results
void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
}
// The dispatched one (VNNI, i8mm or SDOT where the CPU has it).
void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);

// The AMX-INT8 form (x86/int8_gemm_amx.cpp): as int8_gemm, with k64 a
// multiple of 64 (zero-padded in a's rows and in the panel's k-quads) and
// 16 readable rows past row m - 1 of a.
using Int8TileGemm = void (*)(const int8_t* a, int64_t lda, int64_t m, int64_t k64, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
namespace amx {
void int8_gemm_tiles(const int8_t* a, int64_t lda, int64_t m, int64_t k64, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
}
// The tile GEMM int8_conv2d uses (and pack_int8_weights prepares for): AMX
// where the CPU has AMX-INT8 and the OS grants the tile state, else none.
// Tests set the emulated build (tests/amx) to check the layouts anywhere,
// or nullptr for none (the VNNI path on AMX machines); reset restores the
// automatic choice.
Int8TileGemm int8_tile_gemm();
void set_int8_tile_gemm(Int8TileGemm gemm);
void reset_int8_tile_gemm();
// Which kernels the int8 and bf16 convs run here, for pareto info --cpu.
std::string conv_kernel_summary();

// Round half to even and saturate to [lo, hi]: ONNX's QuantizeLinear rule.
inline int32_t quantize_value(float v, int32_t zero, int32_t lo, int32_t hi) {
  const float r = std::nearbyint(v);  // the default rounding mode: half to even
  // Compared as floats first: a huge or infinite v must not overflow the int cast.
  if (!(r + float(zero) >= float(lo))) return lo;  // also NaN
  if (r + float(zero) > float(hi)) return hi;
  return int32_t(r) + zero;
}

}  // namespace pareto::kernels
