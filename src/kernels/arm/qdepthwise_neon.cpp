// The quantized NHWC depthwise conv (kernels/qnhwc.h) on NEON, the AVX-512
// kernel's plan at 4 lanes: each output pixel's channels accumulate tap by
// tap in int32 vectors (8 channels per step: the input bytes widened twice,
// the filter already offset and widened to int32 once per model; the walk
// over pixels and taps is kernels/qdepthwise_rows.h), then TFLite's
// rescaling per channel. The int32 sums are exact, so the bytes
// equal qdepthwise_nhwc_ref's.
#include <arm_neon.h>

#include "kernels/qdepthwise_rows.h"

namespace pareto::kernels::neon {

namespace {

inline int16x8_t widen8(const uint8_t* p) { return vreinterpretq_s16_u16(vmovl_u8(vld1_u8(p))); }
inline int16x8_t widen8(const int8_t* p) { return vmovl_s8(vld1_s8(p)); }

}  // namespace

template <class T>
void qdepthwise_nhwc(const QConvParams& p, const T* input, const int32_t* filter, const int32_t* bias, T* output) {
  const int32x4_t offset = vdupq_n_s32(p.input_offset);
  qdepthwise_rows(p, input, filter, bias, output, [&](const T* in, const int32_t* f, int32_t* acc, int64_t c_n) {
    int64_t c = 0;
    for (; c + 8 <= c_n; c += 8) {
      const int16x8_t x = widen8(in + c);
      const int32x4_t lo = vaddq_s32(vmovl_s16(vget_low_s16(x)), offset), hi = vaddq_s32(vmovl_high_s16(x), offset);
      vst1q_s32(acc + c, vmlaq_s32(vld1q_s32(acc + c), lo, vld1q_s32(f + c)));
      vst1q_s32(acc + c + 4, vmlaq_s32(vld1q_s32(acc + c + 4), hi, vld1q_s32(f + c + 4)));
    }
    // Wrapping (mod 2^32) as the vector lanes and the reference's wrapping_add: offsets come from the file.
    for (; c < c_n; ++c) acc[c] = int32_t(uint32_t(acc[c]) + uint32_t(int32_t(in[c]) + p.input_offset) * uint32_t(f[c]));
  });
}

template void qdepthwise_nhwc<uint8_t>(const QConvParams&, const uint8_t*, const int32_t*, const int32_t*, uint8_t*);
template void qdepthwise_nhwc<int8_t>(const QConvParams&, const int8_t*, const int32_t*, const int32_t*, int8_t*);

}  // namespace pareto::kernels::neon
