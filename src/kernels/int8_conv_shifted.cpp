// The shifted int8 convolution (int8_conv.h): stride 1, one group, a kernel
// larger than 1x1. The input is padded and its channels interleaved in
// quads, each thread the band of rows its output rows read (the kernel's
// halo rows in both neighbours' bands); each k-quad (channel quad, tap) of
// the GEMM is then the same padded input seen at another offset, so no
// im2col panel is built.
#include <algorithm>
#include <cstring>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/int8_conv.h"

namespace pareto::kernels {

bool int8_conv_shifted_applicable(const ConvParams& p) {
  if (p.group != 1 || p.stride_h != 1 || p.stride_w != 1 || p.kh * p.kw <= 1 || p.c_in * p.kh * p.kw > kMaxInt8ConvK) return false;
  // Narrow outputs would spend most of each row on the dropped columns.
  if (p.dil_w * (p.kw - 1) * 4 > p.out_w) return false;
  // The padded copy must stay near the size of the tensors themselves
  // (huge pads from a file would make it far larger).
  const int64_t hp = p.out_h + p.dil_h * (p.kh - 1), wp = p.out_w + p.dil_w * (p.kw - 1);
  const int64_t padded = (p.c_in + 3) / 4 * 4 * hp * wp, tensors = p.c_in * p.h * p.w + 4 * p.c_out * p.out_h * p.out_w;
  return padded <= 2 * tensors + (int64_t(1) << 20);
}

// Wherever the int8 GEMM is vectorized (VNNI, or SDOT on Arm; AMX's tiles
// take the im2col form).
bool int8_conv_takes_shifted(const ConvParams& p) { return int8_detail::fast_gemm() && !int8_tile_gemm() && int8_conv_shifted_applicable(p); }

void prepare_shifted_weights(Int8Weights& w, const ConvParams& p) {
  const bool may_serve = p.group == 1 && p.stride_h == 1 && p.stride_w == 1 && p.kh * p.kw > 1 && int8_detail::fast_gemm() && w.tiles.empty();
  if (w.any_zero || !may_serve || w.k != p.c_in * p.kh * p.kw || w.k > kMaxInt8ConvK) return;
  const int64_t c4 = (p.c_in + 3) / 4, taps = p.kh * p.kw;
  w.shifted_k4 = c4 * taps * 4;
  w.shifted.assign(size_t(w.rows * w.shifted_k4), 0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < p.c_in; ++c)
      for (int64_t t = 0; t < taps; ++t)
        w.shifted[size_t(r * w.shifted_k4 + ((c / 4) * taps + t) * 4 + c % 4)] = w.data[size_t(r * w.k4 + c * taps + t)];
}

void int8_gemm_offsets_ref(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                           int32_t* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (int64_t q = 0; q < quads; ++q)
        for (int64_t i = 0; i < 4; ++i) acc += int32_t(a[r * lda + q * 4 + i]) * int32_t(b[off[q] + j * 4 + i]);
      c[r * ldc + j] = acc;
    }
}

void int8_gemm_offsets(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                       int32_t* c, int64_t ldc) {
  if constexpr (kBuildX86)
    if (int8_detail::use_vnni()) return avx512vnni::int8_gemm_offsets(a, lda, m, quads, b, off, n, c, ldc);
  if constexpr (kBuildArm64)
    if (int8_detail::fast_gemm()) return dotprod::int8_gemm_offsets(a, lda, m, quads, b, off, n, c, ldc);
  int8_gemm_offsets_ref(a, lda, m, quads, b, off, n, c, ldc);
}

namespace {

struct Padded {
  int64_t hp, wp, c4;
  int64_t plane_bytes() const { return hp * wp * 4; }
  int64_t image_bytes() const { return c4 * plane_bytes(); }
};

// Padded rows [pr0, pr1) of channel quad cq of one image, into `rows`
// (row pr0 first); the border (and the padded channels) hold the zero
// point, which the correction makes 0.
void fill_rows(const ConvParams& p, const Padded& d, const uint8_t* image, int64_t cq, uint8_t flip, uint8_t pad, int64_t pr0, int64_t pr1,
               uint8_t* rows) {
  const int64_t row_bytes = d.wp * 4;
  const int64_t left = std::min(p.pad_left, d.wp), cols_in = std::clamp<int64_t>(d.wp - p.pad_left, 0, p.w);
  const uint8_t* r[4];
  for (int64_t pr = pr0; pr < pr1; ++pr) {
    uint8_t* row = rows + (pr - pr0) * row_bytes;
    const int64_t ih = pr - p.pad_top;
    if (ih < 0 || ih >= p.h || cols_in <= 0) {
      std::memset(row, pad, size_t(row_bytes));
      continue;
    }
    std::memset(row, pad, size_t(left * 4));
    for (int b = 0; b < 4; ++b) {
      const int64_t c = cq * 4 + b;
      r[b] = c < p.c_in ? image + (c * p.h + ih) * p.w : nullptr;
    }
    int8_detail::interleave_rows(r, cols_in, flip, pad, row + left * 4);
    std::memset(row + (left + cols_in) * 4, pad, size_t((d.wp - left - cols_in) * 4));
  }
}

}  // namespace

void int8_detail::conv2d_shifted(const Int8ConvParams& p, const void* x, const Int8Weights& w, void* y) {
  const ConvParams& g = p.geo;
  const Padded d{g.out_h + g.dil_h * (g.kh - 1), g.out_w + g.dil_w * (g.kw - 1), (g.c_in + 3) / 4};
  const uint8_t flip = p.x_signed ? 0x80 : 0;
  const uint8_t pad = uint8_t(p.x_signed ? p.x_zero + 128 : p.x_zero);
  // The last pixel tile of a block reads up to 15 pixels past the block,
  // and garbage columns read past their plane: slack at the end.
  const int64_t slack = 64 * 4 + 64;
  const int64_t taps = g.kh * g.kw, quads = d.c4 * taps;
  // Blocks of whole output rows: about 512 pixels, the int32 tile within
  // 128 KiB, and enough blocks for every thread.
  int64_t rows = std::clamp<int64_t>(512 / d.wp, 1, g.out_h);
  rows = std::max<int64_t>(1, std::min(rows, (int64_t(32) << 10) / std::max<int64_t>(1, g.c_out * d.wp)));
  if (num_threads() > 1) rows = std::max<int64_t>(1, std::min(rows, g.n * g.out_h / (2 * num_threads())));
  rows = balanced_block(g.out_h, rows, 1, g.n, num_threads());
  const int64_t blocks = (g.out_h + rows - 1) / rows, plane = g.out_h * g.out_w;
  const uint8_t* xs = static_cast<const uint8_t*>(x);
  // Each thread pads only the input rows its own blocks read (a band of
  // output rows and the kernel's halo) into its own buffer: no thread reads
  // rows another one wrote, which on this kind of machine moved the whole
  // padded image between the cores' caches and kept 2 threads near 1.2x.
  parallel_for_balanced(g.n * blocks, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> band;
    thread_local std::vector<int32_t> acc;
    thread_local std::vector<int64_t> off;
    acc.resize(size_t(g.c_out * rows * d.wp));
    off.resize(size_t(quads));
    for (int64_t t0 = begin; t0 < end;) {
      const int64_t n = t0 / blocks, t1 = std::min(end, (n + 1) * blocks);
      const int64_t oh_a = t0 % blocks * rows, oh_b = std::min(g.out_h, ((t1 - 1) % blocks + 1) * rows);
      const Padded b{oh_b - oh_a + g.dil_h * (g.kh - 1), d.wp, d.c4};  // padded rows [oh_a, oh_a + b.hp)
      band.resize(size_t(b.image_bytes() + slack));
      std::memset(band.data() + b.image_bytes(), pad, size_t(slack));
      for (int64_t cq = 0; cq < d.c4; ++cq)
        fill_rows(g, d, xs + n * g.c_in * g.h * g.w, cq, flip, pad, oh_a, oh_a + b.hp, band.data() + cq * b.plane_bytes());
      for (int64_t cq = 0; cq < d.c4; ++cq)
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) off[size_t(cq * taps + i * g.kw + j)] = cq * b.plane_bytes() + (i * g.dil_h * d.wp + j * g.dil_w) * 4;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t oh0 = t % blocks * rows, count = std::min(rows, g.out_h - oh0);
        const int64_t pixels = (count - 1) * d.wp + g.out_w, ld = rows * d.wp;
        int8_gemm_offsets(w.shifted.data(), w.shifted_k4, g.c_out, quads, band.data() + (oh0 - oh_a) * d.wp * 4, off.data(), pixels,
                          acc.data(), ld);
        for (int64_t r = 0; r < count; ++r)
          store_tile(p, w, 0, g.c_out, acc.data() + r * d.wp, ld, nullptr, g.out_w, (n * g.c_out * g.out_h + oh0 + r) * g.out_w, plane, y);
      }
      t0 = t1;
    }
  });
}

}  // namespace pareto::kernels
