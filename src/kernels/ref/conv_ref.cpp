// Direct-loop convolutions and pooling: the oracles for the GEMM-lowered
// versions, and the production pooling (memory-bound, simple is fine).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/conv.h"

namespace pareto::kernels {

void f32_conv2d_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t oc = 0; oc < p.c_out; ++oc) {
      int64_t g = oc / cout_g;
      for (int64_t oh = 0; oh < p.out_h; ++oh)
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          double acc = bias ? bias[oc] : 0.0;
          for (int64_t ic = 0; ic < cin_g; ++ic)
            for (int64_t i = 0; i < p.kh; ++i)
              for (int64_t j = 0; j < p.kw; ++j) {
                int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
                int64_t iw = ow * p.stride_w - p.pad_left + j * p.dil_w;
                if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
                acc += double(x[((n * p.c_in + g * cin_g + ic) * p.h + ih) * p.w + iw]) *
                       w[((oc * cin_g + ic) * p.kh + i) * p.kw + j];
              }
          y[((n * p.c_out + oc) * p.out_h + oh) * p.out_w + ow] = float(acc);
        }
    }
}

void f32_conv_transpose2d_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t oc = 0; oc < p.c_out; ++oc)
      for (int64_t k = 0; k < p.out_h * p.out_w; ++k) y[(n * p.c_out + oc) * p.out_h * p.out_w + k] = bias ? bias[oc] : 0.f;
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t ic = 0; ic < p.c_in; ++ic) {
      int64_t g = ic / cin_g;
      for (int64_t ih = 0; ih < p.h; ++ih)
        for (int64_t iw = 0; iw < p.w; ++iw) {
          float xv = x[((n * p.c_in + ic) * p.h + ih) * p.w + iw];
          for (int64_t ocg = 0; ocg < cout_g; ++ocg)
            for (int64_t i = 0; i < p.kh; ++i)
              for (int64_t j = 0; j < p.kw; ++j) {
                int64_t oh = ih * p.stride_h - p.pad_top + i * p.dil_h;
                int64_t ow = iw * p.stride_w - p.pad_left + j * p.dil_w;
                if (oh < 0 || oh >= p.out_h || ow < 0 || ow >= p.out_w) continue;
                int64_t oc = g * cout_g + ocg;
                y[((n * p.c_out + oc) * p.out_h + oh) * p.out_w + ow] += xv * w[((ic * cout_g + ocg) * p.kh + i) * p.kw + j];
              }
        }
    }
  // The activation only, as f32_conv_transpose2d (which refuses a residual).
  if (p.epilogue.active()) apply_activation_generic(p.epilogue.act, y, nullptr, p.n * p.c_out * p.out_h * p.out_w);
}

void f32_maxpool2d_ref(const PoolParams& p, const float* x, float* y, int64_t* indices) {
  for (int64_t nc = 0; nc < p.n * p.c; ++nc) {
    const float* src = x + nc * p.h * p.w;
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        int64_t best_i = -1;
        for (int64_t i = 0; i < p.kh; ++i) {
          int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
          if (ih < 0 || ih >= p.h) continue;
          for (int64_t j = 0; j < p.kw; ++j) {
            int64_t iw = ow * p.stride_w - p.pad_left + j * p.dil_w;
            if (iw < 0 || iw >= p.w) continue;
            float v = src[ih * p.w + iw];
            if (v > best || best_i < 0) {
              best = v;
              best_i = ih * p.w + iw;
            }
          }
        }
        int64_t o = (nc * p.out_h + oh) * p.out_w + ow;
        y[o] = best;
        if (indices) indices[o] = best_i < 0 ? 0 : nc * p.h * p.w + best_i;
      }
  }
}

void f32_avgpool2d(const PoolParams& p, const float* x, float* y) {
  for (int64_t nc = 0; nc < p.n * p.c; ++nc) {
    const float* src = x + nc * p.h * p.w;
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        int64_t h0 = oh * p.stride_h - p.pad_top, w0 = ow * p.stride_w - p.pad_left;
        int64_t h1 = std::min(h0 + p.kh, p.h + p.pad_bottom), w1 = std::min(w0 + p.kw, p.w + p.pad_right);
        int64_t pool_size = (h1 - h0) * (w1 - w0);
        int64_t hs = std::max<int64_t>(h0, 0), ws = std::max<int64_t>(w0, 0);
        int64_t he = std::min(h1, p.h), we = std::min(w1, p.w);
        float sum = 0.f;
        for (int64_t ih = hs; ih < he; ++ih)
          for (int64_t iw = ws; iw < we; ++iw) sum += src[ih * p.w + iw];
        int64_t count = p.count_include_pad ? pool_size : (he - hs) * (we - ws);
        y[(nc * p.out_h + oh) * p.out_w + ow] = count > 0 ? sum / float(count) : 0.f;
      }
  }
}

}  // namespace pareto::kernels
