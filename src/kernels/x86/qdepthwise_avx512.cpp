// The quantized NHWC depthwise conv (kernels/qnhwc.h) with the channels
// innermost: each output pixel's channels accumulate tap by tap in int32
// vectors (the filter already offset and widened to int32 once per model;
// the walk over pixels and taps is kernels/qdepthwise_rows.h), then
// TFLite's rescaling per channel. The int32 sums are exact, so the
// bytes equal qdepthwise_nhwc_ref's (QNhwc.* tests, and check_tflite.sh
// against TFLite itself).
#include <immintrin.h>

#include "kernels/qdepthwise_rows.h"

namespace pareto::kernels::avx512 {

namespace {

inline __m512i widen(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512i widen(const int8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512i widen_masked(const uint8_t* p, __mmask16 m) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)); }
inline __m512i widen_masked(const int8_t* p, __mmask16 m) { return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)); }

}  // namespace

template <class T>
void qdepthwise_nhwc(const QConvParams& p, const T* input, const int32_t* filter, const int32_t* bias, T* output) {
  const __m512i offset = _mm512_set1_epi32(p.input_offset);
  qdepthwise_rows(p, input, filter, bias, output, [&](const T* in, const int32_t* f, int32_t* acc, int64_t c_n) {
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
  });
}

template void qdepthwise_nhwc<uint8_t>(const QConvParams&, const uint8_t*, const int32_t*, const int32_t*, uint8_t*);
template void qdepthwise_nhwc<int8_t>(const QConvParams&, const int8_t*, const int32_t*, const int32_t*, int8_t*);

}  // namespace pareto::kernels::avx512
