// 2-D convolution and transposed convolution on NCHW f32 (1-D uses H = 1).
// The generic versions lower to the shared GEMM (im2col / col2im) with a
// direct path for depthwise; the _ref versions are direct loops for tests.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/function_ref.h"
#include "kernels/activation.h"

namespace pareto::kernels {

// A depthwise conv's output rounded to uint8 as QuantizeLinear(scale, zero)
// would round it, written instead of the float output: the int8 conv that
// reads it skips its own quantizing pass, and the tensor between them is a
// quarter of the bytes (passes/fuse_quantize.cpp).
struct QuantizedOutput {
  uint8_t* data = nullptr;
  float scale = 1;
  int32_t zero = 0;
};

// A depthwise conv's input stored as uint8 (QuantizeLinear(scale, zero) of
// the float input: its producer wrote it so), or, with data null, the float
// input to be rounded to that grid first (a QDQ model's Q -> DQ pair in
// front of the conv). Each input plane becomes the floats (q - zero) * scale
// that DequantizeLinear gives, so the conv computes what the QDQ graph
// says, while the tensor between producer and conv is a quarter of the bytes.
struct QuantizedInput {
  const uint8_t* data = nullptr;
  float scale = 0;  // > 0 when in use
  int32_t zero = 0;
  bool active() const { return scale > 0; }
};

// A depthwise conv's int8 weights (fold_qdq's w_scales on it): per output
// channel its kh x kw codes four at a time (u8_depthwise_weight_quads), kh
// row sums and float scale (x_scale * w_scale). With quant_in active and
// where u8_depthwise_fast, its planes are summed in integers
// (kernels/u8_depthwise.h) instead of in float on the dequantized values;
// both compute the QDQ graph's function.
struct DepthwiseInt8 {
  const int32_t* quads = nullptr;
  const int32_t* row_sums = nullptr;
  const float* scale = nullptr;
};

struct ConvParams {
  int64_t n = 1, c_in = 0, h = 0, w = 0;
  int64_t c_out = 0, kh = 1, kw = 1, group = 1;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t out_h = 0, out_w = 0;
  Epilogue epilogue;  // residual add + activation on each output block while it is in cache
  // The weights as f32_gemm_pack_a packed them ([c_out, c_in*kh*kw], group
  // 1 only) at the current kernel_table() level, or null: packed per call.
  const float* packed_weights = nullptr;
  // Winograd-transformed weights (winograd_transform_weights) when
  // winograd_applicable(p), or null: transformed per call.
  const float* winograd_weights = nullptr;
  // Depthwise convs only (f32_conv_is_depthwise): when data is set, y is
  // not written and may be null.
  QuantizedOutput quant_out;
  // Depthwise convs only: when active, x is read through it (x may be null
  // when quant_in.data is set).
  QuantizedInput quant_in;
  // Depthwise convs with quant_in only: the int8 weights, or quads null.
  DepthwiseInt8 int8_weights;
};

// Whether f32_conv2d runs p as a depthwise conv (one input channel per group).
bool f32_conv_is_depthwise(const ConvParams& p);
// That conv (kernels/depthwise.cpp), which f32_conv2d calls for it.
void f32_depthwise_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

// y[n, c_out, out_h, out_w]; w[c_out, c_in/group, kh, kw]; bias may be null.
void f32_conv2d(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);
void f32_conv2d_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

// Transposed: x[n, c_in, h, w], w[c_in, c_out/group, kh, kw], y[n, c_out, out_h, out_w].
// pad_top/left are the begin pads; out_h/out_w include output_padding.
// p.epilogue.act (no residual) runs on the output as it is written
// (FusedConvTranspose); the _ref twin applies it after the whole output.
void f32_conv_transpose2d(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);
void f32_conv_transpose2d_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);
// Kernel 2x2, stride 2, no pads or dilation, one group (out = 2 x in): the
// ISA kernels' form. One input row of every channel (`rows`, ld floats
// apart, readable up to ld) into output rows 2 ih and 2 ih + 1 of every
// channel (yrow0: row 2 ih of channel 0); weights [c_in][c_out][2][2].
using ConvTranspose2x2Row = void (*)(const ConvParams& p, const float* rows, int64_t ld, const float* w, const float* bias, float* yrow0);
namespace avx512 {
void conv_transpose2x2_row(const ConvParams& p, const float* rows, int64_t ld, const float* w, const float* bias, float* yrow0);
}
namespace neon {
void conv_transpose2x2_row(const ConvParams& p, const float* rows, int64_t ld, const float* w, const float* bias, float* yrow0);
}
// The 2x2 form: kernel 2x2, stride 2, no pads or dilation, one group, out = 2 x in.
bool conv_transpose_is_2x2(const ConvParams& p);
// This CPU's row kernel for p, or null (not the 2x2 form, or no ISA kernel).
ConvTranspose2x2Row conv_transpose2x2_row_kernel(const ConvParams& p);
// The row kernel's input: `channels` rows of w floats (plane apart in src)
// copied ld = transpose_row_ld(w) apart, zeros up to ld.
int64_t transpose_row_ld(int64_t w);
void copy_transpose_rows(const float* src, int64_t plane, int64_t channels, int64_t w, int64_t ld, float* rows);

// Two 2x2 stride-2 transposed convs in a row, a's output b's input
// (FusedConvTransposePair: PP-OCR det's head upsamples 24 channels to 2x
// and then to one channel at 4x). Each input row of a goes through a, its
// activation and b while a's two output rows are in cache, instead of
// writing a's whole output (24 x 320 x 320 floats for a 640 x 640 image)
// and reading it back. The same row kernels, epilogues and operations as
// the two convs one after the other: the same bits. Where there is no row
// kernel for both, the two f32_conv_transpose2d calls over a whole
// intermediate tensor.
bool conv_transpose2x2_pair_fits(const ConvParams& a, const ConvParams& b);  // shapes chain, both the 2x2 form
// The 2x2 stride-2 upsampling of x [n, c, h, w] by weights [c, c_out, 2, 2].
ConvParams upsampling_2x2(int64_t n, int64_t c, int64_t h, int64_t w, int64_t c_out);
void f32_conv_transpose2x2_pair(const ConvParams& a, const float* x, const float* wa, const float* ba, const ConvParams& b, const float* wb,
                                const float* bb, float* y);

// Shared with the bf16 conv: columns [first, first + count) of the im2col
// matrix of one group's channels (col[(c*kh + i)*kw + j][q - first]), and
// the column block that keeps a tile's lowered inputs and outputs in L2
// (up to twice that where a few tiles are re-cut to even out the threads).
// Rows of the block `ld` floats apart (< 0: count).
void f32_im2col_block(const ConvParams& p, const float* x, int64_t channels, int64_t first, int64_t count, float* col, int64_t ld = -1);
int64_t conv_column_block(int64_t kdim, int64_t cout_g, int64_t plane, int64_t planes, int64_t panel);  // panel: the kernel's tile columns

// The tiles of the GEMM convs that pack their own operands (bf16, f16):
// output channels of group g, output pixels [first, first + count) of
// image n. src: the tile's k rows of count columns, ld apart (a 1x1
// stride-1 conv's input rows themselves, else lowered into thread scratch
// slot 2); yg: y at (n, the group's first channel, pixel first).
struct ConvTile {
  int64_t n = 0, g = 0, first = 0, count = 0;
  const float* src = nullptr;
  int64_t ld = 0;
  float* yg = nullptr;
};
// The tile callback: borrowed (std::function would allocate for the
// drivers' captures on every conv).
using ConvTileFn = FunctionRef<void(const ConvTile&)>;
// tile(t) for every tile, over the threads, its columns ready.
void for_each_gemm_conv_tile(const ConvParams& p, const float* x, float* y, ConvTileFn tile);
// The tile's output rows set to the bias (before a GEMM that accumulates),
// and the epilogue applied to them afterwards.
void conv_tile_fill_bias(const ConvParams& p, const ConvTile& t, const float* bias);
void conv_tile_epilogue(const ConvParams& p, const ConvTile& t, float* y);

// The generic depthwise loop (one output plane; stride_w 1 or not): the
// reference twin of the ISA plane kernels below.
void f32_depthwise_plane_generic(const ConvParams& p, const float* src, const float* k, float bias, float* dst);
// AVX-512 plane kernel for stride_w 1 or 2, dil_w 1 (scratch: depthwise_scratch_floats(p)).
namespace avx512 {
void depthwise_plane(const ConvParams& p, const float* src, const float* k, float bias, float* dst, float* scratch);
int64_t depthwise_scratch_floats(const ConvParams& p);
// dst[c] = src[2c] for c < n, reading src[0, avail) only.
void copy_even(const float* src, int64_t n, int64_t avail, float* dst);
// The same for bytes (the int8 conv's im2col rows at stride 2).
void copy_even_bytes(const uint8_t* src, int64_t n, int64_t avail, uint8_t* dst);
// out[c] = max of r0[2c], r0[2c+1], r1[2c], r1[2c+1] for c < out_w (a 2x2
// stride-2 max pool's row; reads 2 out_w floats of each row): the same
// comparisons in the same order as the scalar loop of kernels/pool.cpp.
void maxpool_2x2_row(const float* r0, const float* r1, int64_t out_w, float* out);
}  // namespace avx512
// Where the AVX-512 plane kernel reads input row ih: a float plane, or a
// uint8 plane turned into the floats (q - zero) * scale row by row (into
// `row`, w floats) while the scratch is filled.
struct DepthwiseSource {
  const float* f = nullptr;
  const uint8_t* q = nullptr;
  float scale = 1;
  int32_t zero = 0;
  float* row = nullptr;
};
namespace avx512 {
// Output rows [oh_begin, oh_end) of one plane; only the scratch rows they
// read are filled, so a caller walking a plane in strips keeps the strip's
// input, scratch and output in cache. The same sums as depthwise_plane.
void depthwise_plane_rows(const ConvParams& p, const DepthwiseSource& src, const float* k, float bias, float* dst, float* scratch,
                          int64_t oh_begin, int64_t oh_end);
}
namespace neon {  // the same plane kernel at 4 lanes (arm/depthwise_neon.cpp)
void depthwise_plane(const ConvParams& p, const float* src, const float* k, float bias, float* dst, float* scratch);
int64_t depthwise_scratch_floats(const ConvParams& p);
void copy_even(const float* src, int64_t n, int64_t avail, float* dst);
}  // namespace neon

// 1x1 stride-1 unpadded convs with 1-128 input channels (group 1), without
// packing the weights (AVX-512 or NEON small_k_gemm); p.epilogue applies.
bool pointwise_applicable(const ConvParams& p);
// Convs with 1-4 input channels and a kernel wider than 1x1 (image stems),
// stride_w 1 or 2, no dilation, group 1, at most 128 products per output:
// summed directly from the input rows (avx512::small_cin_conv) instead of
// lowered to columns. The plain weights, like the small-k GEMM's.
// Only outputs of up to 2^18 floats (1 MiB, an L2): PP-OCR cls's stem
// (8 x 24 x 96) went 15.3 -> 10.9 us, but det's (16 x 320 x 320, 6.5 MB
// streamed to memory) ran 5-8% slower at 2 threads than as a GEMM
// (pareto_conv_bench conv_f32/3/16/640/640, 3 alternating rounds).
constexpr int64_t kMaxSmallCinOutputs = int64_t(1) << 18;
bool small_cin_direct_applicable(const ConvParams& p);
namespace avx512 {
void small_cin_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);
}  // namespace avx512
// Whether sums over k products take the unpacked small-k kernel (AVX-512 or NEON, 1 <= k <= 128).
bool small_k_gemm_applicable(int64_t k);
// Whether f32_conv2d reads p.packed_weights (or p.winograd_weights where
// Winograd applies): what the runtime and the prepacking pass pack for.
bool f32_conv_uses_packed_weights(const ConvParams& p);
// The 1x1 conv where pointwise_applicable: pixel chunks of the input rows
// copied next to each other, small_k_gemm over them, the epilogue on the
// chunk while it is in cache.
void pointwise_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);
// y[r][q] = bias[r] + Σ_c w[r][c] x[c][q] for r < m, q < width: x rows ldx
// floats apart (readable to a multiple of 16 past width), y rows ldy.
// Dispatched to this build's kernel (where small_k_gemm_applicable).
void small_k_gemm(const float* x, int64_t ldx, int64_t k, const float* w, const float* bias, int64_t m, float* y, int64_t ldy, int64_t width);
namespace avx512 {
void small_k_gemm(const float* x, int64_t ldx, int64_t k, const float* w, const float* bias, int64_t m, float* y, int64_t ldy, int64_t width);
}  // namespace avx512
namespace neon {  // 8 output channels x 8 pixels per tile (arm/pointwise_neon.cpp)
void small_k_gemm(const float* x, int64_t ldx, int64_t k, const float* w, const float* bias, int64_t m, float* y, int64_t ldy, int64_t width);
}  // namespace neon

// A conv whose input and output are one pixel each (1x1 kernel, group 1,
// no padding: squeeze-excite convs after a global pool) is a matrix-vector
// product: y[r] = bias[r] + sum_c w[r][c] x[c]. The GEMM and small-k tiles
// spend whole vectors of pixels on it (PP-OCR cls's 200 -> 50 ran 7 us).
// f32_conv2d takes this path where f32_dot_rows_fast(c_in, c_out): small
// enough for one thread, on the AVX-512 kernel (the portable twin is one
// serial chain of adds per row; larger heads keep the threaded GEMM).
bool f32_conv_is_single_pixel(const ConvParams& p);
constexpr int64_t kMaxDotRowsProducts = int64_t(1) << 18;
bool f32_dot_rows_fast(int64_t k, int64_t m);
// y[r] = bias[r] + sum_c w[r * k + c] x[c] for r < m (k >= 0), at this
// build's level; f32_dot_rows_ref is its portable twin, one sum per row in
// c order (the AVX-512 kernel keeps 16 partial sums: the same products,
// other rounding).
void f32_dot_rows(const float* w, int64_t k, const float* x, const float* bias, int64_t m, float* y);
void f32_dot_rows_ref(const float* w, int64_t k, const float* x, const float* bias, int64_t m, float* y);
namespace avx512 {
void f32_dot_rows(const float* w, int64_t k, const float* x, const float* bias, int64_t m, float* y);
}  // namespace avx512

// Winograd F(4x4, 3x3): where f32_conv2d uses it (3x3, stride 1, group 1,
// enough channels and width, AVX-512 or NEON), and its weights transformed and
// packed for the GEMM at the current kernel_table() level.
bool winograd_applicable(const ConvParams& p);
size_t winograd_weights_floats(const ConvParams& p);
void winograd_transform_weights(const ConvParams& p, const float* w, float* packed);
// The 36 products of a chunk of tiles, shared by the ISA kernels:
// M[oc][xi][lane] = Σ_ic U[xi][oc][ic] V[ic][xi][lane] for xi < 36, lane <
// lanes (V and M rows 36 * lanes floats apart, U as transformed above).
void winograd_multiply(const ConvParams& p, const float* u, const float* v, float* m, int64_t lanes);
namespace avx512 {
void winograd_conv3x3(const ConvParams& p, const float* x, const float* u, const float* bias, float* y);
}  // namespace avx512
namespace neon {  // groups of 4 tiles (arm/winograd_neon.cpp)
void winograd_conv3x3(const ConvParams& p, const float* x, const float* u, const float* bias, float* y);
}  // namespace neon

struct PoolParams {
  int64_t n = 1, c = 0, h = 0, w = 0;
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t out_h = 0, out_w = 0;
  bool count_include_pad = false;
};

// indices (may be null): flat NCHW index of each max, as ONNX MaxPool reports it.
// f32_maxpool2d runs the windows' interiors as branch-free row maxima over
// the channels in parallel (kernels/pool.cpp); the reference twin takes
// each window tap by tap, and serves the indices output.
void f32_maxpool2d(const PoolParams& p, const float* x, float* y, int64_t* indices);
void f32_maxpool2d_ref(const PoolParams& p, const float* x, float* y, int64_t* indices);
// One output row of a 2x2 stride-2 max pool, scalar: the twin of
// avx512::maxpool_2x2_row (the four taps in order, each kept when greater).
void maxpool_2x2_row_ref(const float* r0, const float* r1, int64_t out_w, float* out);
// The sum of n values as GlobalAveragePool (any float type) and
// squeeze-excite's pool take it: sixteen running sums side by side (acc[k] += s[j + k]), then those
// added in order k = 0..15 to 0, then the tail. plane_sums: count planes of
// n floats, `stride` apart, into out; AVX-512 sums sixteen planes at once
// (one register per plane, their sums added after a transpose), the same bits.
template <class T>
T plane_sum_ref(const T* s, int64_t n) {
  T acc[16] = {};  // the compiler keeps them in vector registers; one accumulator would serialize on the add
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) acc[k] += s[j + k];
  T total = 0;
  for (int k = 0; k < 16; ++k) total += acc[k];
  for (; j < n; ++j) total += s[j];
  return total;
}
void plane_sums(const float* s, int64_t n, int64_t stride, int64_t count, float* out);
namespace avx512 {
void plane_sums(const float* s, int64_t n, int64_t stride, int64_t count, float* out);
}  // namespace avx512
// The mean of each of `count` planes of n floats (n apart), as a float
// GlobalAveragePool and squeeze-excite's pool take it: planes of 1024
// values or more in an even number of chunks of 512-4112 values (multiples
// of 16; plane_sum_chunk), each summed as plane_sum_ref, the chunk sums added
// in order; smaller planes whole. The chunks are fixed by n alone, so the
// bits do not depend on the thread count. Threads take the chunks
// chunk-major, so each reads the rows of every plane that the convs
// around it gave that thread: split by planes, a thread read half of each
// of its planes from the other core's cache, and the next op then wrote
// over lines both cores held (PP-OCR det's largest FusedAdd, after its
// gate's pool, took 1.0 ms at 2 threads; 0.65 ms now).
int64_t plane_sum_chunk(int64_t n);
void plane_means(const float* s, int64_t n, int64_t count, float* out);
float plane_mean_ref(const float* s, int64_t n);
void f32_avgpool2d(const PoolParams& p, const float* x, float* y);

}  // namespace pareto::kernels
