// The quantized NHWC depthwise conv's walk over output pixels and taps,
// shared by the vector kernels (x86/qdepthwise_avx512.cpp,
// arm/qdepthwise_neon.cpp): per output pixel, acc[c] starts at the bias,
// add_tap(in, f, acc, c_n) adds one tap's products for every channel
// (in: the input pixel's channels, f: the tap's int32 filter with offsets),
// then TFLite's rescaling per channel. The int32 sums wrap like the
// reference's, so the bytes equal qdepthwise_nhwc_ref's.
#pragma once
#include <algorithm>
#include <vector>

#include "kernels/qnhwc.h"

namespace pareto::kernels {

template <class T, class AddTap>
void qdepthwise_rows(const QConvParams& p, const T* input, const int32_t* filter, const int32_t* bias, T* output, AddTap add_tap) {
  const int64_t c_n = p.out_c, rows_end = p.rows_end < 0 ? p.batch * p.out_h : p.rows_end;
  thread_local std::vector<int32_t> acc_buf;
  acc_buf.resize(size_t(c_n));
  int32_t* acc = acc_buf.data();
  for (int64_t row = p.rows_begin; row < rows_end; ++row) {
    const int64_t b = row / p.out_h, oy = row % p.out_h;
    for (int64_t ox = 0; ox < p.out_w; ++ox) {
      const int64_t iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
      for (int64_t c = 0; c < c_n; ++c) acc[c] = bias ? bias[c] : 0;
      for (int64_t ky = 0; ky < p.k_h; ++ky) {
        const int64_t iy = iy0 + ky * p.dilation_h;
        if (iy < 0 || iy >= p.in_h) continue;
        for (int64_t kx = 0; kx < p.k_w; ++kx) {
          const int64_t ix = ix0 + kx * p.dilation_w;
          if (ix < 0 || ix >= p.in_w) continue;
          add_tap(input + ((b * p.in_h + iy) * p.in_w + ix) * p.in_c, filter + (ky * p.k_w + kx) * c_n, acc, c_n);
        }
      }
      T* out = output + ((b * p.out_h + oy) * p.out_w + ox) * c_n;
      for (int64_t c = 0; c < c_n; ++c) {
        const int32_t v = fxp::wrapping_add(fxp::multiply_by_multiplier(acc[c], p.multipliers[c]), p.output_offset);
        out[c] = T(std::min(std::max(v, p.act_min), p.act_max));
      }
    }
  }
}

}  // namespace pareto::kernels
