// Depthwise convolution, one output plane, AVX-512: the input plane is
// copied once into a zero-bordered scratch plane so every tap is a plain
// unaligned 16-float load, and each 16-wide block of outputs keeps its sum in
// a register across all kh x kw taps (the generic loop reads and writes the
// output row once per tap). Rows with stride_w 1 and dilation_w 1 only; the
// caller takes the generic path otherwise.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"

namespace pareto::kernels::avx512 {

namespace {
constexpr int64_t kLanes = 16;
int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
}  // namespace

void depthwise_plane(const ConvParams& p, const float* src, const float* k, float bias, float* dst, float* scratch) {
  const int64_t rows = (p.out_h - 1) * p.stride_h + (p.kh - 1) * p.dil_h + 1;
  const int64_t pw = round_up(p.out_w, kLanes) + p.kw - 1;
  // scratch[r][c] = src[r - pad_top][c - pad_left], zero outside the plane.
  for (int64_t r = 0; r < rows; ++r) {
    float* row = scratch + r * pw;
    const int64_t ih = r - p.pad_top;
    if (ih < 0 || ih >= p.h) {
      std::fill(row, row + pw, 0.f);
      continue;
    }
    const int64_t lo = std::clamp<int64_t>(p.pad_left, 0, pw), hi = std::clamp<int64_t>(p.pad_left + p.w, lo, pw);
    std::fill(row, row + lo, 0.f);
    std::memcpy(row + lo, src + ih * p.w + (lo - p.pad_left), sizeof(float) * size_t(hi - lo));
    std::fill(row + hi, row + pw, 0.f);
  }
  const __m512 vbias = _mm512_set1_ps(bias);
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const float* top = scratch + oh * p.stride_h * pw;
    float* d = dst + oh * p.out_w;
    for (int64_t ow = 0; ow < p.out_w; ow += kLanes) {
      __m512 acc = vbias;
      for (int64_t i = 0; i < p.kh; ++i) {
        const float* s = top + i * p.dil_h * pw + ow;
        const float* ki = k + i * p.kw;
        for (int64_t j = 0; j < p.kw; ++j) acc = _mm512_fmadd_ps(_mm512_set1_ps(ki[j]), _mm512_loadu_ps(s + j), acc);
      }
      if (ow + kLanes <= p.out_w) {
        _mm512_storeu_ps(d + ow, acc);
      } else {  // the row's tail: no write past it
        alignas(64) float tail[kLanes];
        _mm512_store_ps(tail, acc);
        std::memcpy(d + ow, tail, sizeof(float) * size_t(p.out_w - ow));
      }
    }
  }
}

int64_t depthwise_scratch_floats(const ConvParams& p) {
  return ((p.out_h - 1) * p.stride_h + (p.kh - 1) * p.dil_h + 1) * (round_up(p.out_w, kLanes) + p.kw - 1);
}

}  // namespace pareto::kernels::avx512
