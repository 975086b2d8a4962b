// The f16 conv GEMM on Armv8.2 FEAT_FP16: FMLA-by-lane multiplies 8 pixels
// of a panel row by one weight (8 multiply-adds per instruction, twice an
// f32 FMLA's); a tile is 4 rows x 16 pixels. The f16 sums run over
// kF16Chunk k-steps and are then widened into f32 accumulators held in
// registers (8 f16 + 16 f32 + 4 weight + 2 panel registers of 32), so the
// rounding error grows with the chunk, not with k (kernels/f16_conv.h).
// Also the panel packing (f32 -> f16 after an exact power-of-two scale) and
// the input's largest magnitude, which chooses that scale.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>

#include "kernels/arm/tile_walk.h"
#include "kernels/f16_conv.h"
#include "pareto/dtype.h"

namespace pareto::kernels::armfp16 {

namespace {

inline float16x8_t load8(const uint16_t* p) { return vreinterpretq_f16_u16(vld1q_u16(p)); }

// Panel row k+L (16 pixels) times weight lane L of each row.
template <int R, int L>
inline void lane_step(float16x8_t (&acc)[R][2], const uint16_t* b, const float16x8_t (&a)[R]) {
  const float16x8_t b0 = load8(b), b1 = load8(b + 8);
  for (int i = 0; i < R; ++i) {
    acc[i][0] = vfmaq_laneq_f16(acc[i][0], b0, a[i], L);
    acc[i][1] = vfmaq_laneq_f16(acc[i][1], b1, a[i], L);
  }
}

// Out of line (one call per tile costs nothing): bench/arm_mca.py finds
// the tile's loop by its name.
template <int R>
[[gnu::noinline]] void tile(const uint16_t* a, int64_t lda, int64_t r, int64_t k8, const uint16_t* b, int64_t n16, int64_t j, const float* scale, float* c,
          int64_t ldc, int64_t count, bool accumulate) {
  float32x4_t total[R][4];
  for (int i = 0; i < R; ++i)
    for (int q = 0; q < 4; ++q) total[i][q] = vdupq_n_f32(0.f);
  for (int64_t c0 = 0; c0 < k8; c0 += kF16Chunk) {
    float16x8_t acc[R][2];
    for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = vreinterpretq_f16_u16(vdupq_n_u16(0));
    const int64_t end = std::min(c0 + kF16Chunk, k8);
    for (int64_t k = c0; k < end; k += 8) {
      float16x8_t av[R];
      for (int i = 0; i < R; ++i) av[i] = load8(a + (r + i) * lda + k);
      const uint16_t* bp = b + k * n16 + j;
      lane_step<R, 0>(acc, bp, av);
      lane_step<R, 1>(acc, bp + n16, av);
      lane_step<R, 2>(acc, bp + 2 * n16, av);
      lane_step<R, 3>(acc, bp + 3 * n16, av);
      lane_step<R, 4>(acc, bp + 4 * n16, av);
      lane_step<R, 5>(acc, bp + 5 * n16, av);
      lane_step<R, 6>(acc, bp + 6 * n16, av);
      lane_step<R, 7>(acc, bp + 7 * n16, av);
    }
    for (int i = 0; i < R; ++i) {
      total[i][0] = vaddq_f32(total[i][0], vcvt_f32_f16(vget_low_f16(acc[i][0])));
      total[i][1] = vaddq_f32(total[i][1], vcvt_high_f32_f16(acc[i][0]));
      total[i][2] = vaddq_f32(total[i][2], vcvt_f32_f16(vget_low_f16(acc[i][1])));
      total[i][3] = vaddq_f32(total[i][3], vcvt_high_f32_f16(acc[i][1]));
    }
  }
  for (int i = 0; i < R; ++i) {
    float out[16];
    const float32x4_t s = vdupq_n_f32(scale[r + i]);
    for (int q = 0; q < 4; ++q) vst1q_f32(out + 4 * q, vmulq_f32(total[i][q], s));
    float* row = c + (r + i) * ldc + j;
    for (int64_t q = 0; q < count; ++q) row[q] = accumulate ? row[q] + out[q] : out[q];
  }
}

inline float16x4_t scaled_half(const float* p, float32x4_t s) { return vcvt_f16_f32(vmulq_f32(vld1q_f32(p), s)); }

}  // namespace

void f16_gemm(const uint16_t* a, int64_t lda, int64_t m, int64_t k8, const uint16_t* b, int64_t n, const float* scale, float* c,
              int64_t ldc, bool accumulate) {
  const int64_t n16 = (n + 15) / 16 * 16;
  for_each_4x16_tile(m, n, [&](auto rows, int64_t r, int64_t j, int64_t count) {
    tile<decltype(rows)::value>(a, lda, r, k8, b, n16, j, scale, c, ldc, count, accumulate);
  });
}

void f16_pack_panel(const float* src, int64_t ld, int64_t k, int64_t count, int exponent, int64_t k8, int64_t n16, uint16_t* out) {
  const float factor = std::ldexp(1.f, exponent);
  const float32x4_t s = vdupq_n_f32(factor);
  for (int64_t q = 0; q < k8; ++q) {
    uint16_t* o = out + q * n16;
    if (q >= k) {
      std::fill_n(o, n16, uint16_t(0));
      continue;
    }
    const float* row = src + q * ld;
    int64_t j = 0;
    for (; j + 8 <= count; j += 8) vst1q_u16(o + j, vreinterpretq_u16_f16(vcombine_f16(scaled_half(row + j, s), scaled_half(row + j + 4, s))));
    for (; j < n16; ++j) o[j] = j < count ? float_to_half(row[j] * factor) : 0;
  }
}

float abs_max(const float* v, int64_t n) {
  float32x4_t m0 = vdupq_n_f32(0.f), m1 = m0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {  // FMAX keeps a NaN
    m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(v + i)));
    m1 = vmaxq_f32(m1, vabsq_f32(vld1q_f32(v + i + 4)));
  }
  float m = vmaxvq_f32(vmaxq_f32(m0, m1));
  for (; i < n; ++i) {
    if (std::isnan(v[i])) return v[i];
    m = std::max(m, std::fabs(v[i]));
  }
  return m;
}

}  // namespace pareto::kernels::armfp16
