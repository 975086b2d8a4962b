// The quantized NHWC depthwise conv (kernels/qnhwc.h) with the channels
// innermost: each output pixel's channels accumulate tap by tap in int32
// vectors (the filter already offset and widened to int32 once per model),
// then TFLite's rescaling per channel. The int32 sums are exact, so the
// bytes equal qdepthwise_nhwc_ref's (QNhwc.* tests, and check_tflite.sh
// against TFLite itself).
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/qnhwc.h"

namespace pareto::kernels::avx512 {

namespace {

inline __m512i widen(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512i widen(const int8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512i widen_masked(const uint8_t* p, __mmask16 m) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)); }
inline __m512i widen_masked(const int8_t* p, __mmask16 m) { return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)); }

}  // namespace

template <class T>
void qdepthwise_nhwc(const QConvParams& p, const T* input, const int32_t* filter, const int32_t* bias, T* output) {
  const int64_t c_n = p.out_c, rows_end = p.rows_end < 0 ? p.batch * p.out_h : p.rows_end;
  thread_local std::vector<int32_t> acc_buf;
  acc_buf.resize(size_t(c_n));
  int32_t* acc = acc_buf.data();
  const __m512i offset = _mm512_set1_epi32(p.input_offset);
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
          const T* in = input + ((b * p.in_h + iy) * p.in_w + ix) * p.in_c;
          const int32_t* f = filter + (ky * p.k_w + kx) * c_n;
          int64_t c = 0;
          for (; c + 16 <= c_n; c += 16) {
            const __m512i x = _mm512_add_epi32(widen(in + c), offset);
            const __m512i s = _mm512_add_epi32(_mm512_loadu_si512(acc + c), _mm512_mullo_epi32(x, _mm512_loadu_si512(f + c)));
            _mm512_storeu_si512(acc + c, s);
          }
          if (c < c_n) {
            const __mmask16 m = __mmask16((1u << (c_n - c)) - 1);
            const __m512i x = _mm512_add_epi32(widen_masked(in + c, m), offset);
            const __m512i s = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, acc + c), _mm512_mullo_epi32(x, _mm512_maskz_loadu_epi32(m, f + c)));
            _mm512_mask_storeu_epi32(acc + c, m, s);
          }
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

template void qdepthwise_nhwc<uint8_t>(const QConvParams&, const uint8_t*, const int32_t*, const int32_t*, uint8_t*);
template void qdepthwise_nhwc<int8_t>(const QConvParams&, const int8_t*, const int32_t*, const int32_t*, int8_t*);

}  // namespace pareto::kernels::avx512
