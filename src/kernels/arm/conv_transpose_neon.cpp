// The 2x2 stride-2 transposed convolution's row kernel (kernels/conv.h) on
// NEON: for 8 pixels of an input row and two output channels, the four
// taps' sums (16 accumulators) over all input channels, FMLA by lane
// against the channel pair's 8 weights ([c_in][c_out][2][2] keeps them side
// by side), then written as two output rows with the j = 0 and j = 1 sums
// interleaved by one ST2 per 4 pixels.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"

namespace pareto::kernels::neon {

namespace {

constexpr int64_t kPixels = 8;

// Output channels [oc, oc + OB) from input columns [iw, iw + 8); rows past
// the input's width read zeros (the driver pads them) and are not stored.
template <int OB>
void stretch(const ConvParams& p, const float* rows, int64_t ld, const float* w, const float* bias, int64_t oc, int64_t iw, float* yrow0,
             int64_t out_plane) {
  float32x4_t acc[OB][4][2];
  for (int ob = 0; ob < OB; ++ob)
    for (int t = 0; t < 4; ++t) acc[ob][t][0] = acc[ob][t][1] = vdupq_n_f32(0.f);
  for (int64_t ic = 0; ic < p.c_in; ++ic) {
    const float* xc = rows + ic * ld + iw;
    const float32x4_t x0 = vld1q_f32(xc), x1 = vld1q_f32(xc + 4);
    const float* wc = w + (ic * p.c_out + oc) * 4;
    for (int ob = 0; ob < OB; ++ob) {
      const float32x4_t wv = vld1q_f32(wc + 4 * ob);
      acc[ob][0][0] = vfmaq_laneq_f32(acc[ob][0][0], x0, wv, 0);
      acc[ob][0][1] = vfmaq_laneq_f32(acc[ob][0][1], x1, wv, 0);
      acc[ob][1][0] = vfmaq_laneq_f32(acc[ob][1][0], x0, wv, 1);
      acc[ob][1][1] = vfmaq_laneq_f32(acc[ob][1][1], x1, wv, 1);
      acc[ob][2][0] = vfmaq_laneq_f32(acc[ob][2][0], x0, wv, 2);
      acc[ob][2][1] = vfmaq_laneq_f32(acc[ob][2][1], x1, wv, 2);
      acc[ob][3][0] = vfmaq_laneq_f32(acc[ob][3][0], x0, wv, 3);
      acc[ob][3][1] = vfmaq_laneq_f32(acc[ob][3][1], x1, wv, 3);
    }
  }
  const int64_t outs = 2 * std::min(kPixels, p.w - iw);  // output columns this stretch owns
  for (int ob = 0; ob < OB; ++ob) {
    const float32x4_t b = vdupq_n_f32(bias ? bias[oc + ob] : 0.f);
    for (int i = 0; i < 2; ++i) {
      float* row = yrow0 + (oc + ob) * out_plane + i * p.out_w + 2 * iw;
      float out[2 * kPixels];
      for (int v = 0; v < 2; ++v)  // pixel q's j = 0 and j = 1 sums to columns 2q, 2q + 1
        vst2q_f32(out + 8 * v, float32x4x2_t{{vaddq_f32(acc[ob][2 * i][v], b), vaddq_f32(acc[ob][2 * i + 1][v], b)}});
      std::memcpy(row, out, size_t(outs) * sizeof(float));
    }
  }
}

}  // namespace

void conv_transpose2x2_row(const ConvParams& p, const float* rows, int64_t ld, const float* w, const float* bias, float* yrow0) {
  const int64_t out_plane = p.out_h * p.out_w;
  for (int64_t oc = 0; oc < p.c_out; oc += 2)
    for (int64_t iw = 0; iw < p.w; iw += kPixels) {
      if (oc + 2 <= p.c_out) stretch<2>(p, rows, ld, w, bias, oc, iw, yrow0, out_plane);
      else stretch<1>(p, rows, ld, w, bias, oc, iw, yrow0, out_plane);
    }
}

}  // namespace pareto::kernels::neon
