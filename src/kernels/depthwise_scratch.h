// The scratch plane of the depthwise plane kernels (x86/depthwise_avx512.cpp,
// arm/depthwise_neon.cpp): the input plane copied once with a zero border,
// so every tap of a block of `lanes` outputs is one plain vector load. Each
// padded input row is stride_w phase segments of phase_w floats; segment ph
// holds padded columns ph, ph + s, ph + 2s ... (stride 2's taps contiguous too).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv.h"

namespace pareto::kernels {

inline int64_t depthwise_phase_width(const ConvParams& p, int64_t lanes) {
  return (p.out_w + lanes - 1) / lanes * lanes + (p.kw - 1) / p.stride_w;
}
inline int64_t depthwise_scratch_rows(const ConvParams& p) { return (p.out_h - 1) * p.stride_h + (p.kh - 1) * p.dil_h + 1; }

// Segment ph of scratch row r, column c = in_row(r - pad_top)[c*stride + ph - pad_left], zero outside the plane,
// for scratch rows [r_begin, r_end) (row_of(ih): input row ih, w floats).
// Rows outside the plane are zeroed only with border_rows (only the row-group path reads them).
// copy_even(src, n, avail, dst): dst[c] = src[2c] for c < n, reading src[0, avail) only.
template <class RowOf, class CopyEven>
void fill_depthwise_scratch_rows(const ConvParams& p, RowOf row_of, float* scratch, int64_t pw, bool border_rows, CopyEven copy_even,
                                 int64_t r_begin, int64_t r_end) {
  const int64_t stride = p.stride_w;
  for (int64_t r = r_begin; r < r_end; ++r) {
    float* row = scratch + r * stride * pw;
    const int64_t ih = r - p.pad_top;
    if (ih < 0 || ih >= p.h) {
      if (border_rows) std::fill(row, row + stride * pw, 0.f);
      continue;
    }
    const float* in = row_of(ih);
    for (int64_t ph = 0; ph < stride; ++ph) {
      const int64_t first = ph - p.pad_left;  // input column of c = 0
      const int64_t lo = std::clamp<int64_t>(first >= 0 ? 0 : (-first + stride - 1) / stride, 0, pw);
      const int64_t hi = std::clamp<int64_t>(p.w - first <= 0 ? 0 : (p.w - first - 1) / stride + 1, lo, pw);
      float* seg = row + ph * pw;
      std::fill(seg, seg + lo, 0.f);
      if (stride == 1) std::memcpy(seg + lo, in + lo + first, sizeof(float) * size_t(hi - lo));
      else if (stride == 2 && hi > lo) copy_even(in + 2 * lo + first, hi - lo, p.w - (2 * lo + first), seg + lo);
      else
        for (int64_t c = lo; c < hi; ++c) seg[c] = in[c * stride + first];
      std::fill(seg + hi, seg + pw, 0.f);
    }
  }
}

namespace depthwise_detail {
template <int N, class Chunk>
void rest_chunk(int64_t left, int64_t first, Chunk& chunk) {
  if constexpr (N > 0) {
    if (left == N) return chunk.template operator()<N>(first);
    rest_chunk<N - 1>(left, first, chunk);
  }
}
}  // namespace depthwise_detail

// A row of `blocks` vector blocks in chunks, as the plane kernels sum them:
// chunk.template operator()<Wide>(first block) while Wide blocks are left,
// then the rest (1 to Wide - 1 blocks) as one chunk. A lone trailing block
// would be one chain of adds, each waiting on the previous one every tap.
// A chunk's last block may reach past the row's end: the scratch rows are
// padded to whole blocks (depthwise_phase_width), and the kernels store
// only the lanes inside the row.
template <int Wide, class Chunk>
void for_each_block_chunk(int64_t blocks, Chunk&& chunk) {
  int64_t first = 0;
  for (; first + Wide <= blocks; first += Wide) chunk.template operator()<Wide>(first);
  depthwise_detail::rest_chunk<Wide - 1>(blocks - first, first, chunk);
}

// Every scratch row, from a float plane.
template <class CopyEven>
void fill_depthwise_scratch(const ConvParams& p, const float* src, float* scratch, int64_t pw, bool border_rows, CopyEven copy_even) {
  fill_depthwise_scratch_rows(p, [&](int64_t ih) { return src + ih * p.w; }, scratch, pw, border_rows, copy_even, 0, depthwise_scratch_rows(p));
}

}  // namespace pareto::kernels
