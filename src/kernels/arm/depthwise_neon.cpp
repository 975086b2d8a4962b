// Depthwise convolution, one output plane, NEON: the AVX-512 plane kernel's
// plan at 4 lanes. The input plane is copied once into a zero-bordered
// scratch plane (column stride 2 split into even and odd phases with a
// de-interleaving load), so every tap is a plain 4-float load; each block of
// outputs keeps its sum in registers across all kh x kw taps; with row
// stride 1 four output rows are summed together so each input vector is
// loaded once for the kh rows it serves. Sums run like the generic twin's:
// bias first, then every tap in kernel order as a multiply and a separate
// add (this file is built without contraction), so the bits are the twin's.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"
#include "kernels/depthwise_scratch.h"

namespace pareto::kernels::neon {

namespace {
constexpr int64_t kLanes = 4;
constexpr int kGroupRows = 4;
int64_t phase_width(const ConvParams& p) { return depthwise_phase_width(p, kLanes); }

inline float32x4_t tap(float32x4_t acc, float k, const float* s) { return vaddq_f32(acc, vmulq_f32(vdupq_n_f32(k), vld1q_f32(s))); }

// NB adjacent 4-wide blocks of one output row from column ow; kernel rows on the border are skipped, as the twin skips them.
template <int KW, int S, int NB>
void sum_blocks(const ConvParams& p, const float* top, int64_t pw, const float* k, float bias, int64_t oh, int64_t ow, float32x4_t acc[NB]) {
  const int64_t kw = KW > 0 ? KW : p.kw;
  for (int b = 0; b < NB; ++b) acc[b] = vdupq_n_f32(bias);
  for (int64_t i = 0; i < p.kh; ++i) {
    const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
    if (ih < 0 || ih >= p.h) continue;
    const float* s = top + i * p.dil_h * S * pw + ow;
    for (int64_t j = 0; j < kw; ++j) {
      const float* sj = s + (j % S) * pw + j / S;  // tap j of output column c reads padded column c*S + j
      for (int b = 0; b < NB; ++b) acc[b] = tap(acc[b], k[i * kw + j], sj + b * kLanes);
    }
  }
}

// R output rows from oh0 x NB blocks (row stride and dilation 1): per
// output the taps still come in kernel order (input rows ascending).
template <int KW, int S, int R, int NB>
void sum_row_group(const ConvParams& p, const float* scratch, int64_t pw, const float* k, float bias, int64_t oh0, int64_t ow,
                   float32x4_t acc[R][NB]) {
  const int64_t kw = KW > 0 ? KW : p.kw;
  for (int o = 0; o < R; ++o)
    for (int b = 0; b < NB; ++b) acc[o][b] = vdupq_n_f32(bias);
  for (int64_t r = 0; r < R + p.kh - 1; ++r) {
    const float* s = scratch + (oh0 + r) * S * pw + ow;
    for (int64_t j = 0; j < kw; ++j) {
      const float* sj = s + (j % S) * pw + j / S;
      float32x4_t x[NB];
      for (int b = 0; b < NB; ++b) x[b] = vld1q_f32(sj + b * kLanes);
      for (int o = 0; o < R; ++o) {
        const int64_t i = r - o;  // the kernel row this input row is for output row oh0 + o
        if (i < 0 || i >= p.kh) continue;
        const float32x4_t kv = vdupq_n_f32(k[i * kw + j]);
        for (int b = 0; b < NB; ++b) acc[o][b] = vaddq_f32(acc[o][b], vmulq_f32(kv, x[b]));
      }
    }
  }
}

void store_block(float* d, float32x4_t v, int64_t count) {
  if (count == kLanes) return vst1q_f32(d, v);
  float tail[kLanes];
  vst1q_f32(tail, v);
  std::memcpy(d, tail, sizeof(float) * size_t(count));
}

// NB blocks of outputs from column ow, the last one possibly past out_w
// (its lanes read the scratch row's zero padding and are not stored).
template <int NB>
void store_blocks(float* d, int64_t ow, int64_t out_w, const float32x4_t v[NB]) {
  for (int b = 0; b < NB; ++b) store_block(d + ow + b * kLanes, v[b], std::min(kLanes, out_w - ow - b * kLanes));
}

// A row's blocks go NB (row groups) or kWide (one row) at a time and the
// rest together: the AVX-512 kernel's plan (for_each_block_chunk).
template <int KW, int S>
int64_t sum_row_groups(const ConvParams& p, const float* scratch, int64_t pw, const float* k, float bias, float* dst) {
  constexpr int R = kGroupRows, NB = 3;
  if (p.stride_h != 1 || p.dil_h != 1) return 0;
  const int64_t blocks = (p.out_w + kLanes - 1) / kLanes;
  int64_t oh0 = 0;
  for (; oh0 + R <= p.out_h; oh0 += R)
    for_each_block_chunk<NB>(blocks, [&]<int N>(int64_t blk) {
      float32x4_t acc[R][N];
      sum_row_group<KW, S, R, N>(p, scratch, pw, k, bias, oh0, blk * kLanes, acc);
      for (int o = 0; o < R; ++o) store_blocks<N>(dst + (oh0 + o) * p.out_w, blk * kLanes, p.out_w, acc[o]);
    });
  return oh0;
}

template <int KW, int S>
void sum_rows(const ConvParams& p, const float* scratch, int64_t pw, const float* k, float bias, float* dst) {
  constexpr int kWide = 4;
  const int64_t blocks = (p.out_w + kLanes - 1) / kLanes;
  for (int64_t oh = sum_row_groups<KW, S>(p, scratch, pw, k, bias, dst); oh < p.out_h; ++oh) {
    const float* top = scratch + oh * p.stride_h * S * pw;
    for_each_block_chunk<kWide>(blocks, [&]<int N>(int64_t blk) {
      float32x4_t v[N];
      sum_blocks<KW, S, N>(p, top, pw, k, bias, oh, blk * kLanes, v);
      store_blocks<N>(dst + oh * p.out_w, blk * kLanes, p.out_w, v);
    });
  }
}

}  // namespace

// dst[c] = src[2c] for c < n, reading src[0, avail) only (also the im2col
// lowering's stride-2 rows, kernels/conv.cpp).
void copy_even(const float* src, int64_t n, int64_t avail, float* dst) {
  int64_t c = 0;
  for (; c + kLanes <= n && 2 * c + 2 * kLanes <= avail; c += kLanes) vst1q_f32(dst + c, vld2q_f32(src + 2 * c).val[0]);
  for (; c < n; ++c) dst[c] = src[2 * c];
}

void depthwise_plane(const ConvParams& p, const float* src, const float* k, float bias, float* dst, float* scratch) {
  const int64_t pw = phase_width(p);
  // Only the row groups read the border rows (the one-row path skips them).
  fill_depthwise_scratch(p, src, scratch, pw, p.stride_h == 1 && p.dil_h == 1 && p.out_h >= kGroupRows, copy_even);
  if (p.stride_w == 2) {
    switch (p.kw) {
      case 3: sum_rows<3, 2>(p, scratch, pw, k, bias, dst); break;
      case 5: sum_rows<5, 2>(p, scratch, pw, k, bias, dst); break;
      default: sum_rows<0, 2>(p, scratch, pw, k, bias, dst); break;
    }
    return;
  }
  switch (p.kw) {
    case 3: sum_rows<3, 1>(p, scratch, pw, k, bias, dst); break;
    case 5: sum_rows<5, 1>(p, scratch, pw, k, bias, dst); break;
    default: sum_rows<0, 1>(p, scratch, pw, k, bias, dst); break;
  }
}

int64_t depthwise_scratch_floats(const ConvParams& p) { return depthwise_scratch_rows(p) * p.stride_w * phase_width(p); }

}  // namespace pareto::kernels::neon
