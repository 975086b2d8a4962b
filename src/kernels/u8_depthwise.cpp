// The integer depthwise conv's portable twin and where its VNNI kernel runs
// (kernels/u8_depthwise.h; the kernel is x86/u8_depthwise_avx512vnni.cpp).
#include "kernels/u8_depthwise.h"
// The epilogue's product and sum rounded separately, as in the VNNI kernel.
#pragma GCC optimize("fp-contract=off")

#include "core/cpu.h"
#include "kernels/dispatch.h"
#include "kernels/int8_conv.h"

namespace pareto::kernels {

void u8_depthwise_rows_ref(const ConvParams& p, const U8DepthwisePlane& s, float* dst, int64_t oh_begin, int64_t oh_end) {
  for (int64_t oh = oh_begin; oh < oh_end; ++oh)
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      int64_t sum = 0;  // int32 holds it for kh * kw <= kMaxU8DepthwiseTaps; wider, no overflow at any size
      for (int64_t i = 0; i < p.kh; ++i) {
        const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
        if (ih < 0 || ih >= p.h) continue;
        for (int64_t j = 0; j < p.kw; ++j) {
          const int64_t iw = ow * p.stride_w - p.pad_left + j * p.dil_w;
          if (iw < 0 || iw >= p.w) continue;
          sum += int64_t(int32_t(s.x[ih * p.w + iw]) - s.zero) * s.k[i * p.kw + j];
        }
      }
      const float prod = float(sum) * s.scale;
      dst[oh * p.out_w + ow] = prod + s.bias;
    }
}

void u8_depthwise_weight_quads(const int8_t* k, int64_t kh, int64_t kw, int32_t* quads) {
  const int64_t groups = u8_depthwise_tap_groups(kw);
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t t = 0; t < groups; ++t) {
      uint32_t v = 0;
      for (int64_t b = 0; b < 4 && 4 * t + b < kw; ++b) v |= uint32_t(uint8_t(k[i * kw + 4 * t + b])) << (8 * b);
      quads[i * groups + t] = int32_t(v);
    }
}

bool u8_depthwise_fast(const ConvParams& p) {
  if constexpr (!kBuildX86) return false;
  return int8_detail::use_vnni() && (p.stride_w == 1 || p.stride_w == 2) && p.dil_w == 1 && p.kw >= 1 && p.kw <= 32 && p.kh >= 1 &&
         p.kh <= kMaxU8DepthwiseRows && p.out_w >= 1;
}

size_t u8_depthwise_scratch_bytes(const ConvParams& p) {
  if constexpr (kBuildX86) return size_t(p.h) * size_t(avx512vnni::u8_depthwise_row_bytes(p));
  return 0;
}

}  // namespace pareto::kernels
