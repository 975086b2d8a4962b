#include "kernels/conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/int8_conv.h"
#include "kernels/scratch.h"
#include "kernels/split.h"

namespace pareto::kernels {

namespace {

// One im2col row for whole output rows of a stride-1 conv whose output is as
// wide as its input (1xK / Kx1 / "same" convs): the source rows are adjacent,
// so the row is one shifted copy of a run of the plane plus the few columns
// the shift carries past the row ends, zeroed. (Row by row, openWakeWord's
// 32-wide maps cost a third of its whole run in short copies.)
void im2col_same_width_rows(const ConvParams& p, const float* plane, int64_t i, int64_t off, int64_t oh0, int64_t rows, float* d) {
  const int64_t w = p.w;
  // Output rows [a, b) read input rows inside the plane.
  const int64_t shift = i * p.dil_h - p.pad_top;
  const int64_t a = std::clamp<int64_t>(-shift, oh0, oh0 + rows), b = std::clamp<int64_t>(p.h - shift, a, oh0 + rows);
  std::fill(d, d + (a - oh0) * w, 0.f);
  std::fill(d + (b - oh0) * w, d + rows * w, 0.f);
  if (b <= a) return;
  float* out = d + (a - oh0) * w;
  const int64_t from = (a + shift) * w + off, n = (b - a) * w;
  // [c0, c1) of the run lies inside the plane; the rest (only ever pad
  // positions, which the zeroing below covers too) is zero. Clamped both
  // ways: pads wider than the row shift the run past the plane.
  const int64_t c0 = std::clamp<int64_t>(-from, 0, n), c1 = std::clamp<int64_t>(p.h * w - from, c0, n);
  std::fill(out, out + c0, 0.f);
  if (c1 > c0) std::memcpy(out + c0, plane + from + c0, sizeof(float) * size_t(c1 - c0));
  std::fill(out + c1, out + n, 0.f);
  // Columns whose source lies in the neighbouring row: zero.
  const int64_t lo = std::clamp<int64_t>(-off, 0, w), hi = std::clamp<int64_t>(w - off, lo, w);
  for (int64_t r = 0; r < b - a; ++r) {
    std::fill(out + r * w, out + r * w + lo, 0.f);
    std::fill(out + r * w + hi, out + (r + 1) * w, 0.f);
  }
}

}  // namespace

// Columns [first, first + count) of the im2col matrix:
// col[(c*kh + i)*kw + j, q - first] = x[c, oh*sh - pt + i*dh, ow*sw - pl + j*dw], q = oh*out_w + ow.
void f32_im2col_block(const ConvParams& p, const float* x, int64_t channels, int64_t first, int64_t count, float* col, int64_t ld) {
  if (ld < 0) ld = count;
  const bool whole_rows = p.stride_h == 1 && p.stride_w == 1 && p.out_w == p.w && first % p.out_w == 0 && count % p.out_w == 0;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < p.kh; ++i)
      for (int64_t j = 0; j < p.kw; ++j) {
        float* dst = col + ((c * p.kh + i) * p.kw + j) * ld;
        const float* src = x + c * p.h * p.w;
        int64_t off = j * p.dil_w - p.pad_left;
        if (whole_rows) {
          im2col_same_width_rows(p, src, i, off, first / p.out_w, count / p.out_w, dst);
          continue;
        }
        for (int64_t q = first; q < first + count;) {
          int64_t oh = q / p.out_w, ow0 = q % p.out_w;
          int64_t ow1 = std::min(p.out_w, ow0 + (first + count - q));
          // d[ow - ow0] for ow in [ow0, ow1): the pointer stays inside the
          // block (a block may start mid-row, so dst - ow0 would not).
          float* d = dst + (q - first);
          int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
          if (ih < 0 || ih >= p.h) {
            std::fill(d, d + (ow1 - ow0), 0.f);
          } else {
            const float* s = src + ih * p.w;
            if (p.stride_w == 1) {
              int64_t lo = std::clamp<int64_t>(-off, ow0, ow1), hi = std::clamp<int64_t>(p.w - off, lo, ow1);
              std::fill(d, d + (lo - ow0), 0.f);
              if (hi > lo) std::memcpy(d + (lo - ow0), s + lo + off, sizeof(float) * size_t(hi - lo));
              std::fill(d + (hi - ow0), d + (ow1 - ow0), 0.f);
            } else {
              // ow in [lo, hi) reads inside the row (iw = ow * stride + off)
              const int64_t sw = p.stride_w;
              const int64_t lo = std::clamp<int64_t>(off >= 0 ? 0 : (-off + sw - 1) / sw, ow0, ow1);
              const int64_t hi = std::clamp<int64_t>(p.w - off <= 0 ? 0 : (p.w - off - 1) / sw + 1, lo, ow1);
              std::fill(d, d + (lo - ow0), 0.f);
              const float* sp = s + off;
              bool copied = false;
              if constexpr (kBuildX86)
                if (sw == 2 && hi > lo && kernel_table().level == IsaLevel::avx512) {
                  avx512::copy_even(sp + 2 * lo, hi - lo, p.w - (off + 2 * lo), d + (lo - ow0));
                  copied = true;
                }
              if constexpr (kBuildArm64)
                if (sw == 2 && hi > lo && kernel_table().level == IsaLevel::neon) {
                  neon::copy_even(sp + 2 * lo, hi - lo, p.w - (off + 2 * lo), d + (lo - ow0));
                  copied = true;
                }
              if (!copied)
                for (int64_t ow = lo; ow < hi; ++ow) d[ow - ow0] = sp[ow * sw];
              std::fill(d + (hi - ow0), d + (ow1 - ow0), 0.f);
            }
          }
          q += ow1 - ow0;
        }
      }
}

namespace {
// The threads' share of a plane's columns, from a cache-sized `block`:
// enough tiles (of `planes` planes) for every thread to get several; a
// multiple of the consuming kernel's `panel` of columns; and, where tiles
// are few, cut so that the threads' shares come out near equal, as the
// int8 conv's (balanced_block, up to twice that block then): a 40 x 40
// map's 1600 columns went 896 / 704 to two threads in tiles of 224, now
// 832 / 768 in tiles of 416 (32-column panels). The GEMM convs' tiles and
// the pointwise kernel's chunks.
int64_t spread_columns(int64_t plane, int64_t block, int64_t planes, int64_t panel) {
  const int64_t threads = num_threads(), want_tiles = 4 * threads;
  if (threads > 1 && planes * ((plane + block - 1) / block) < want_tiles)
    block = (plane * planes + want_tiles - 1) / want_tiles;
  block = std::min(std::max(panel, (block + panel - 1) / panel * panel), plane);
  return std::min(balanced_block(plane, block, panel, planes, int(threads)), plane);
}
}  // namespace

// Columns per tile: the tile's inputs (kdim rows of it, lowered or read in
// place) and its outputs (cout_g rows) stay in L2 (512 KiB) from the bias
// fill through the GEMM to the epilogue, spread over the threads.
int64_t conv_column_block(int64_t kdim, int64_t cout_g, int64_t plane, int64_t planes, int64_t panel) {
  return spread_columns(plane, (int64_t(128) << 10) / std::max<int64_t>(kdim + cout_g, 1), planes, panel);
}

void for_each_gemm_conv_tile(const ConvParams& p, const float* x, float* y, ConvTileFn tile) {
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  const int64_t plane = p.out_h * p.out_w, kdim = cin_g * p.kh * p.kw;
  const bool lowered = !(p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
                         p.out_h == p.h && p.out_w == p.w);
  const int64_t block = conv_column_block(kdim, cout_g, plane, p.n * p.group, 32);  // the bf16 / f16 tiles: 32-column panels
  const int64_t blocks = (plane + block - 1) / block;
  parallel_for_balanced(p.n * p.group * blocks, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      ConvTile t;
      t.n = i / blocks / p.group;
      t.g = i / blocks % p.group;
      t.first = i % blocks * block;
      t.count = std::min(block, plane - t.first);
      const float* xg = x + (t.n * p.c_in + t.g * cin_g) * p.h * p.w;
      t.yg = y + (t.n * p.c_out + t.g * cout_g) * plane + t.first;
      t.src = xg + t.first;  // 1x1 stride 1: the input rows are the columns
      t.ld = plane;
      if (lowered) {
        float* col = thread_scratch<float, 2>(size_t(kdim * t.count));
        f32_im2col_block(p, xg, cin_g, t.first, t.count, col);
        t.src = col;
        t.ld = t.count;
      }
      tile(t);
    }
  });
}

void conv_tile_fill_bias(const ConvParams& p, const ConvTile& t, const float* bias) {
  const int64_t cout_g = p.c_out / p.group, plane = p.out_h * p.out_w;
  for (int64_t oc = 0; oc < cout_g; ++oc) std::fill_n(t.yg + oc * plane, t.count, bias[t.g * cout_g + oc]);
}

void conv_tile_epilogue(const ConvParams& p, const ConvTile& t, float* y) {
  if (!p.epilogue.active()) return;
  const int64_t cout_g = p.c_out / p.group, plane = p.out_h * p.out_w;
  for (int64_t oc = 0; oc < cout_g; ++oc) {
    float* out = t.yg + oc * plane;
    apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + (out - y) : nullptr, t.count);
  }
}

namespace {
// One tile of a grouped conv: output channels of group g, output positions
// [first, first + count) of image n, lowered, multiplied and finished while
// the tile is in cache. Runs on one thread (the GEMM inside runs inline).
void conv_tile(const ConvParams& p, const float* x, const float* w, const float* bias, float* y, int64_t n, int64_t g,
               int64_t first, int64_t count, bool lowered) {
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  const int64_t plane = p.out_h * p.out_w, kdim = cin_g * p.kh * p.kw;
  const float* xg = x + (n * p.c_in + g * cin_g) * p.h * p.w;
  float* yg = y + (n * p.c_out + g * cout_g) * plane;
  float* col = nullptr;
  if (lowered && small_k_gemm_applicable(kdim)) {
    // Few rows: the unpacked small-k kernel over the lowered block, whose
    // rows are padded apart (a multiple of 4 KiB would alias in L1).
    const int64_t ld = (count + 15) / 16 * 16 + 16;
    col = thread_scratch<float, 0>(size_t(kdim * ld));
    f32_im2col_block(p, xg, cin_g, first, count, col, ld);
    small_k_gemm(col, ld, kdim, w + g * cout_g * kdim, bias ? bias + g * cout_g : nullptr, cout_g, yg + first, plane, count);
    if (p.epilogue.active())
      for (int64_t oc = 0; oc < cout_g; ++oc) {
        float* out = yg + oc * plane + first;
        apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + (out - y) : nullptr, count);
      }
    return;
  }
  // Lowered rows padded to whole vectors (pads zeroed): the GEMM reads a
  // ragged last panel in place. Packed per k block, a 12-column panel
  // (PP-OCRv4 rec's 1x3 neck convs on a short line's 1 x 12 map) was
  // zero-filled to 48 columns: 2880 x 48 floats written for 12 used.
  const int64_t ld = lowered ? (count + 15) / 16 * 16 : plane;
  if (lowered) {
    col = thread_scratch<float, 0>(size_t(kdim * ld));
    f32_im2col_block(p, xg, cin_g, first, count, col, ld);
    if (ld > count)
      for (int64_t r = 0; r < kdim; ++r) std::fill(col + r * ld + count, col + (r + 1) * ld, 0.f);
  }
  if (bias)
    for (int64_t oc = 0; oc < cout_g; ++oc) std::fill_n(yg + oc * plane + first, count, bias[g * cout_g + oc]);
  GemmArgs a;
  a.m = cout_g;
  a.n = count;
  a.k = kdim;
  a.a = w + g * cout_g * kdim;
  a.lda = kdim;
  a.b = lowered ? col : xg + first;
  a.ldb = ld;
  a.b_rows_padded = lowered;
  a.beta = bias ? 1.f : 0.f;
  a.c = yg + first;
  a.ldc = plane;
  if (p.packed_weights && p.group == 1) f32_gemm_packed(a, p.packed_weights);
  else f32_gemm(a);
  if (p.epilogue.active())
    for (int64_t oc = 0; oc < cout_g; ++oc) {
      float* out = yg + oc * plane + first;
      apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + (out - y) : nullptr, count);
    }
}

}  // namespace

namespace {
// PARETO_POINTWISE=0 sends small-k convs to the packed GEMM (for comparison).
bool pointwise_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("PARETO_POINTWISE");
    return !(env && !std::strcmp(env, "0"));
  }();
  return enabled;
}
}  // namespace

// The small-k kernel of this build's vector level (AVX-512 or NEON).
bool small_k_kernel_level() {
  const IsaLevel level = kernel_table().level;
  return (kBuildX86 && level == IsaLevel::avx512) || (kBuildArm64 && level == IsaLevel::neon);
}

bool small_k_gemm_applicable(int64_t k) { return small_k_kernel_level() && k >= 1 && k <= 128 && pointwise_enabled(); }

void small_k_gemm(const float* x, int64_t ldx, int64_t k, const float* w, const float* bias, int64_t m, float* y, int64_t ldy, int64_t width) {
  if constexpr (kBuildX86) avx512::small_k_gemm(x, ldx, k, w, bias, m, y, ldy, width);
  else if constexpr (kBuildArm64) neon::small_k_gemm(x, ldx, k, w, bias, m, y, ldy, width);
  else fail_unsupported("the small-k GEMM has no kernel on this architecture");
}

// Chunks of pixels: each chunk's input rows are copied next to each other
// (in place they sit a plane apart, and planes of 160 x 160 or 320 x 320
// floats are multiples of 4 KiB, so every row would fall in the same L1
// sets); the chunk stays in cache while every output channel block passes
// over it, and the epilogue runs on it right after.
void pointwise_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int64_t plane = p.h * p.w, k = p.c_in;
  // Pixels per chunk: the chunk's inputs (k rows) stay in L2 with room to spare.
  const int64_t chunk = spread_columns(plane, std::max<int64_t>(64, (int64_t(48) << 10) / k / 32 * 32), p.n, 32);  // its 32-pixel tiles
  const int64_t chunks = (plane + chunk - 1) / chunk;
  parallel_for_balanced(p.n * chunks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / chunks, q0 = t % chunks * chunk, q1 = std::min(plane, q0 + chunk);
      const int64_t width = q1 - q0, ld = (width + 15) / 16 * 16 + 16;
      float* xs = thread_scratch<float, 3>(size_t(k * ld));
      for (int64_t c = 0; c < k; ++c) std::copy_n(x + (n * p.c_in + c) * plane + q0, width, xs + c * ld);
      float* yn = y + n * p.c_out * plane + q0;
      small_k_gemm(xs, ld, k, w, bias, p.c_out, yn, plane, width);
      if (p.epilogue.active())  // the chunk's outputs are still in cache
        for (int64_t oc = 0; oc < p.c_out; ++oc) {
          float* out = yn + oc * plane;
          kernels::apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + (out - y) : nullptr, width);
        }
    }
  });
}

bool f32_conv_uses_packed_weights(const ConvParams& p) {
  if (p.group != 1 || f32_conv_is_single_pixel(p)) return false;
  if (winograd_applicable(p)) return true;
  // Pointwise and small lowered convs read the plain weights.
  return !pointwise_applicable(p) && !small_k_gemm_applicable(p.c_in * p.kh * p.kw);
}

bool pointwise_applicable(const ConvParams& p) {
  return pointwise_enabled() && small_k_kernel_level() && p.group == 1 && p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 &&
         p.pad_top == 0 && p.pad_left == 0 && p.out_h == p.h && p.out_w == p.w && p.c_in >= 1 && p.c_in <= 128;
}

bool f32_dot_rows_fast(int64_t k, int64_t m) {
  return kBuildX86 && kernel_table().level == IsaLevel::avx512 && k >= 0 && m >= 0 && k <= kMaxDotRowsProducts && m <= kMaxDotRowsProducts &&
         k * m <= kMaxDotRowsProducts;
}

bool f32_conv_is_single_pixel(const ConvParams& p) {
  return p.group == 1 && p.kh == 1 && p.kw == 1 && p.h == 1 && p.w == 1 && p.pad_top == 0 && p.pad_left == 0 && p.out_h == 1 && p.out_w == 1 &&
         p.c_in >= 1 && f32_dot_rows_fast(p.c_in, p.c_out);
}

void f32_dot_rows_ref(const float* w, int64_t k, const float* x, const float* bias, int64_t m, float* y) {
  for (int64_t r = 0; r < m; ++r) {  // one sum per row, in c order
    float sum = 0.f;
    for (int64_t c = 0; c < k; ++c) sum += w[r * k + c] * x[c];
    y[r] = sum + (bias ? bias[r] : 0.f);
  }
}

void f32_dot_rows(const float* w, int64_t k, const float* x, const float* bias, int64_t m, float* y) {
  if constexpr (kBuildX86)
    if (k > 0 && kernel_table().level == IsaLevel::avx512) return avx512::f32_dot_rows(w, k, x, bias, m, y);
  f32_dot_rows_ref(w, k, x, bias, m, y);
}

// One matrix-vector product per image, on the calling thread: at most
// kMaxDotRowsProducts multiplies (f32_conv_is_single_pixel), less than
// handing them to another core costs.
static void single_pixel_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  for (int64_t n = 0; n < p.n; ++n) {
    float* out = y + n * p.c_out;
    f32_dot_rows(w, p.c_in, x + n * p.c_in, bias, p.c_out, out);
    if (p.epilogue.active()) apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + n * p.c_out : nullptr, p.c_out);
  }
}

bool small_cin_direct_applicable(const ConvParams& p) {
  return kBuildX86 && kernel_table().level == IsaLevel::avx512 && p.group == 1 && p.c_in >= 1 && p.c_in <= 4 && p.kh * p.kw > 1 &&
         (p.stride_w == 1 || p.stride_w == 2) && p.stride_h >= 1 && p.dil_w == 1 && p.dil_h == 1 && p.out_w >= 1 && p.out_h >= 1 &&
         !p.quant_in.active() && !p.quant_out.data && small_k_gemm_applicable(p.c_in * p.kh * p.kw) &&
         p.n * p.c_out * p.out_h * p.out_w <= kMaxSmallCinOutputs;
}

bool f32_conv_is_depthwise(const ConvParams& p) { return p.group == p.c_in && p.c_out % p.c_in == 0 && p.group > 1; }

void f32_conv2d(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  if (f32_conv_is_depthwise(p)) {
    f32_depthwise_conv(p, x, w, bias, y);
    return;
  }
  if (f32_conv_is_single_pixel(p)) return single_pixel_conv(p, x, w, bias, y);
  if (pointwise_applicable(p)) {
    pointwise_conv(p, x, w, bias, y);
    return;
  }
  if (winograd_applicable(p)) {  // only ever true on the two architectures below
    const float* u = p.winograd_weights;
    if (!u) {  // weights that are not a constant: transformed on each call
      float* buf = thread_scratch<float, 0>(winograd_weights_floats(p));
      winograd_transform_weights(p, w, buf);
      u = buf;
    }
    if constexpr (kBuildX86) avx512::winograd_conv3x3(p, x, u, bias, y);
    else if constexpr (kBuildArm64) neon::winograd_conv3x3(p, x, u, bias, y);
    return;
  }
  if constexpr (kBuildX86)
    if (small_cin_direct_applicable(p)) return avx512::small_cin_conv(p, x, w, bias, y);
  const int64_t plane = p.out_h * p.out_w, kdim = p.c_in / p.group * p.kh * p.kw;
  const bool lowered = !(p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                         p.pad_left == 0 && p.out_h == p.h && p.out_w == p.w);
  // Parallel over output tiles (image, group, column block), each lowered
  // and multiplied by one thread: lowering inside the tile keeps the columns
  // in that core's cache and lets the lowering scale with threads as well.
  // Tiles in the panels of the kernel conv_tile runs: the small-k one's 32 pixels, or the GEMM's.
  const int64_t panel = lowered && small_k_gemm_applicable(kdim) ? 32 : f32_gemm_panel_columns();
  const int64_t block = conv_column_block(kdim, p.c_out / p.group, plane, p.n * p.group, panel);
  const int64_t blocks = (plane + block - 1) / block;
  parallel_for_balanced(p.n * p.group * blocks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t ng = t / blocks, first = t % blocks * block;
      conv_tile(p, x, w, bias, y, ng / p.group, ng % p.group, first, std::min(block, plane - first), lowered);
    }
  });
}

namespace {

// A transposed conv's fused activation (FusedConvTranspose; no residual)
// over n outputs it has just written, while they are in cache.
void transpose_epilogue(const ConvParams& p, float* y, int64_t n) {
  if (p.epilogue.active()) apply_activation(p.epilogue.act, y, nullptr, n);
}

// col2im for one output channel: yo = bias + the kh*kw shifted planes of
// columns it receives. The valid input-column range per kernel column is
// computed once, so the inner loop has no branch.
void col2im_channel(const ConvParams& p, const float* col, float bias, float* yo) {
  std::fill(yo, yo + p.out_h * p.out_w, bias);
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      const float* c = col + (i * p.kw + j) * p.h * p.w;
      const int64_t off = j * p.dil_w - p.pad_left;  // ow = iw * stride_w + off
      const int64_t lo = off >= 0 ? 0 : (-off + p.stride_w - 1) / p.stride_w;
      const int64_t hi = std::min(p.w, p.out_w - off <= 0 ? 0 : (p.out_w - off - 1) / p.stride_w + 1);
      for (int64_t ih = 0; ih < p.h; ++ih) {
        const int64_t oh = ih * p.stride_h - p.pad_top + i * p.dil_h;
        if (oh < 0 || oh >= p.out_h) continue;
        float* row = yo + oh * p.out_w + off;
        const float* src = c + ih * p.w;
        if (p.stride_w == 1)
          for (int64_t iw = lo; iw < hi; ++iw) row[iw] += src[iw];
        else
          for (int64_t iw = lo; iw < hi; ++iw) row[iw * p.stride_w] += src[iw];
      }
    }
}

// The upsampling form (kernel == stride, no pads, no dilation): every output
// element receives exactly one column value, so blocks of input rows are
// independent: each is multiplied into a cache-sized column block and
// scattered straight away (no full column matrix through memory, no fill,
// no accumulation). col[(oc*kh + i)*kw + j][(ih - ih0)*w + iw] for input
// rows [ih0, ih1) of image n, group g.
void transpose_disjoint_block(const ConvParams& p, const float* x, const float* w, const float* bias, float* y, int64_t n,
                              int64_t g, int64_t ih0, int64_t ih1, float* col) {
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group, taps = p.kh * p.kw;
  const int64_t cols = (ih1 - ih0) * p.w;
  GemmArgs a;
  a.trans_a = true;
  a.m = cout_g * taps;
  a.n = cols;
  a.k = cin_g;
  a.a = w + g * cin_g * a.m;
  a.lda = a.m;
  a.b = x + (n * p.c_in + g * cin_g) * p.h * p.w + ih0 * p.w;
  a.ldb = p.h * p.w;
  a.c = col;
  a.ldc = cols;
  f32_gemm(a);
  for (int64_t oc = 0; oc < cout_g; ++oc) {
    const float b = bias ? bias[g * cout_g + oc] : 0.f;
    float* yo = y + (n * p.c_out + g * cout_g + oc) * p.out_h * p.out_w;
    for (int64_t ih = ih0; ih < ih1; ++ih)
      for (int64_t i = 0; i < p.kh; ++i) {
        float* row = yo + (ih * p.stride_h + i) * p.out_w;
        for (int64_t j = 0; j < p.kw; ++j) {
          const float* src = col + ((oc * p.kh + i) * p.kw + j) * cols + (ih - ih0) * p.w;
          for (int64_t iw = 0; iw < p.w; ++iw) row[iw * p.stride_w + j] = b + src[iw];
        }
      }
    transpose_epilogue(p, yo + ih0 * p.stride_h * p.out_w, (ih1 - ih0) * p.stride_h * p.out_w);
  }
}

// Every output pixel of a 2x2 stride-2 transposed conv receives one product
// sum, so the ISA kernels compute each input row's four taps in registers
// and write two output rows; no column matrix goes through memory. One
// input row of every channel is copied apart first, rows ld floats apart:
// channel planes a multiple of 4 KiB apart (160x160) would otherwise all
// fall in one L1 set and evict each other on every load.
void conv_transpose2x2(const ConvParams& p, const float* x, const float* w, const float* bias, float* y, ConvTranspose2x2Row row) {
  const int64_t in_plane = p.h * p.w, out_plane = p.out_h * p.out_w;
  const int64_t ld = transpose_row_ld(p.w);
  parallel_for_balanced(p.n * p.h, [&](int64_t begin, int64_t end) {
    float* rows = thread_scratch<float, 4>(size_t(p.c_in * ld));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / p.h, ih = t % p.h;
      copy_transpose_rows(x + n * p.c_in * in_plane + ih * p.w, in_plane, p.c_in, p.w, ld, rows);
      float* y_rows = y + n * p.c_out * out_plane + 2 * ih * p.out_w;  // output rows 2 ih and 2 ih + 1 of channel 0
      row(p, rows, ld, w, bias, y_rows);
      if (p.epilogue.active())  // (not a loop of empty calls when there is none)
        for (int64_t c = 0; c < p.c_out; ++c) transpose_epilogue(p, y_rows + c * out_plane, 2 * p.out_w);
    }
  });
}

bool disjoint_transpose(const ConvParams& p) {
  return p.kh == p.stride_h && p.kw == p.stride_w && p.pad_top == 0 && p.pad_left == 0 && p.dil_h == 1 && p.dil_w == 1 &&
         p.out_h == p.h * p.stride_h && p.out_w == p.w * p.stride_w;
}

}  // namespace

int64_t transpose_row_ld(int64_t w) {
  const int64_t ld = (w + 15) / 16 * 16;
  return ld % 1024 == 0 ? ld + 16 : ld;
}

void copy_transpose_rows(const float* src, int64_t plane, int64_t channels, int64_t w, int64_t ld, float* rows) {
  for (int64_t c = 0; c < channels; ++c) {  // zeros past the row: what the NEON kernel's last vector reads
    std::memcpy(rows + c * ld, src + c * plane, size_t(w) * sizeof(float));
    std::fill(rows + c * ld + w, rows + (c + 1) * ld, 0.f);
  }
}

bool conv_transpose_is_2x2(const ConvParams& p) { return disjoint_transpose(p) && p.kh == 2 && p.kw == 2 && p.group == 1; }

ConvTranspose2x2Row conv_transpose2x2_row_kernel(const ConvParams& p) {
  if (!conv_transpose_is_2x2(p)) return nullptr;
  if constexpr (kBuildX86) return kernel_table().level == IsaLevel::avx512 ? &avx512::conv_transpose2x2_row : nullptr;
  if constexpr (kBuildArm64) return kernel_table().level == IsaLevel::neon ? &neon::conv_transpose2x2_row : nullptr;
  return nullptr;
}

void f32_conv_transpose2d(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  // The epilogue takes an activation only: no path adds a residual.
  if (p.epilogue.residual) fail_unsupported("a residual fused into a transposed convolution");
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  const int64_t in_plane = p.h * p.w, out_plane = p.out_h * p.out_w;
  const int64_t rows = cout_g * p.kh * p.kw;
  if (const ConvTranspose2x2Row row = conv_transpose2x2_row_kernel(p)) return conv_transpose2x2(p, x, w, bias, y, row);
  if (disjoint_transpose(p)) {
    // Blocks of input rows whose columns fit in L2 (512 KiB), at least a
    // few per thread.
    const int64_t per_row = std::max<int64_t>(1, rows * p.w);
    int64_t rb = std::max<int64_t>(1, (int64_t(128) << 10) / per_row);
    rb = std::min(rb, std::max<int64_t>(1, p.n * p.group * p.h / (4 * num_threads())));
    const int64_t blocks = (p.h + rb - 1) / rb;
    parallel_for_balanced(p.n * p.group * blocks, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t ng = t / blocks, ih0 = t % blocks * rb;
        const int64_t ih1 = std::min(p.h, ih0 + rb);
        float* col = thread_scratch<float, 0>(size_t(rows * (ih1 - ih0) * p.w));
        transpose_disjoint_block(p, x, w, bias, y, ng / p.group, ng % p.group, ih0, ih1, col);
      }
    });
    return;
  }
  // The columns are shared by all threads: the GEMM fills them in parallel,
  // then each thread scatters whole output channels (no two threads add
  // into the same output element).
  thread_local std::vector<float> col_buf;
  col_buf.resize(size_t(rows * in_plane));
  float* col = col_buf.data();
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t g = 0; g < p.group; ++g) {
      // col[oc*kh*kw + i*kw + j, ih*w + iw] = sum_ic w[ic, oc, i, j] * x[ic, ih, iw]
      GemmArgs a;
      a.trans_a = true;
      a.m = rows;
      a.n = in_plane;
      a.k = cin_g;
      a.a = w + g * cin_g * rows;
      a.lda = rows;
      a.b = x + (n * p.c_in + g * cin_g) * in_plane;
      a.ldb = in_plane;
      a.c = col;
      a.ldc = in_plane;
      f32_gemm(a);
      float* yg = y + (n * p.c_out + g * cout_g) * out_plane;
      parallel_for(cout_g, [&](int64_t begin, int64_t end) {
        for (int64_t oc = begin; oc < end; ++oc) {
          col2im_channel(p, col + oc * p.kh * p.kw * in_plane, bias ? bias[g * cout_g + oc] : 0.f, yg + oc * out_plane);
          transpose_epilogue(p, yg + oc * out_plane, out_plane);
        }
      });
    }
}

}  // namespace pareto::kernels
