// The bf16 conv GEMM on Armv8.6 BF16 (FEAT_BF16): BFDOT-by-lane takes the
// panel's [k2][pixel][2] layout as it is, one instruction doing 2 k-steps
// of 4 pixels against one weight pair (8 multiply-adds); a tile is 4 rows x
// 16 pixels (16 accumulators), four pairs of each weight row per load.
// Also the panel packing: two f32 rows rounded to bf16 (nearest even, NaN
// kept quiet: float_to_bf16's bits) and interleaved as pairs.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "kernels/arm/tile_walk.h"
#include "kernels/bf16_conv.h"

namespace pareto::kernels::armbf16 {

namespace {

inline bfloat16x8_t load8(const uint16_t* p) { return vreinterpretq_bf16_u16(vld1q_u16(p)); }

template <int R, int L>
inline void pair_step(float32x4_t (&acc)[R][4], const uint16_t* b, const bfloat16x8_t (&a)[R]) {
  const bfloat16x8_t b0 = load8(b), b1 = load8(b + 8), b2 = load8(b + 16), b3 = load8(b + 24);
  for (int i = 0; i < R; ++i) {
    acc[i][0] = vbfdotq_laneq_f32(acc[i][0], b0, a[i], L);
    acc[i][1] = vbfdotq_laneq_f32(acc[i][1], b1, a[i], L);
    acc[i][2] = vbfdotq_laneq_f32(acc[i][2], b2, a[i], L);
    acc[i][3] = vbfdotq_laneq_f32(acc[i][3], b3, a[i], L);
  }
}

// Out of line (one call per tile costs nothing): bench/arm_mca.py finds
// the tile's loop by its name.
template <int R>
[[gnu::noinline]] void tile(const uint16_t* a, int64_t lda, int64_t r, int64_t k2, const uint16_t* b, int64_t n16, int64_t j, float* c, int64_t ldc,
          int64_t count, bool accumulate) {
  float32x4_t acc[R][4];
  for (int i = 0; i < R; ++i)
    for (int q = 0; q < 4; ++q) acc[i][q] = vdupq_n_f32(0.f);
  const int64_t step = n16 * 2;  // bf16 values between k-pairs in the panel
  const uint16_t* bp = b + j * 2;
  int64_t p = 0;
  for (; p + 4 <= k2; p += 4, bp += 4 * step) {
    bfloat16x8_t av[R];
    for (int i = 0; i < R; ++i) av[i] = load8(a + (r + i) * lda + 2 * p);
    pair_step<R, 0>(acc, bp, av);
    pair_step<R, 1>(acc, bp + step, av);
    pair_step<R, 2>(acc, bp + 2 * step, av);
    pair_step<R, 3>(acc, bp + 3 * step, av);
  }
  for (; p < k2; ++p, bp += step) {  // the last 1-3 pairs: one pair per row (the rows end there)
    bfloat16x8_t av[R];
    for (int i = 0; i < R; ++i) {
      uint32_t v;
      std::memcpy(&v, a + (r + i) * lda + 2 * p, 4);
      av[i] = vreinterpretq_bf16_u32(vdupq_n_u32(v));
    }
    pair_step<R, 0>(acc, bp, av);
  }
  for (int i = 0; i < R; ++i) {
    float out[16];
    for (int q = 0; q < 4; ++q) vst1q_f32(out + 4 * q, acc[i][q]);
    float* row = c + (r + i) * ldc + j;
    for (int64_t q = 0; q < count; ++q) row[q] = accumulate ? row[q] + out[q] : out[q];
  }
}

inline uint16x4_t round_bf16(float32x4_t v) {
  const uint32x4_t x = vreinterpretq_u32_f32(v);
  const uint32x4_t nan = vcgtq_u32(vandq_u32(x, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
  const uint32x4_t rounded = vaddq_u32(x, vaddq_u32(vdupq_n_u32(0x7fff), vandq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(1))));
  const uint32x4_t quiet = vorrq_u32(x, vdupq_n_u32(0x400000));  // (x >> 16) | 0x40 after the shift
  return vshrn_n_u32(vbslq_u32(nan, quiet, rounded), 16);
}

}  // namespace

void bf16_gemm(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate) {
  const int64_t n16 = (n + 15) / 16 * 16;
  for_each_4x16_tile(m, n, [&](auto rows, int64_t r, int64_t j, int64_t count) {
    tile<decltype(rows)::value>(a, lda, r, k2, b, n16, j, c, ldc, count, accumulate);
  });
}

void bf16_pack_pair(const float* r0, const float* r1, int64_t count, int64_t n16, uint16_t* out) {
  int64_t q = 0;
  for (; q + 4 <= count; q += 4) {
    const uint16x4_t lo = round_bf16(vld1q_f32(r0 + q));
    const uint16x4_t hi = r1 ? round_bf16(vld1q_f32(r1 + q)) : vdup_n_u16(0);
    vst2_u16(out + 2 * q, uint16x4x2_t{{lo, hi}});
  }
  for (; q < n16; ++q) {
    out[2 * q] = q < count ? float_to_bf16(r0[q]) : 0;
    out[2 * q + 1] = q < count && r1 ? float_to_bf16(r1[q]) : 0;
  }
}

}  // namespace pareto::kernels::armbf16
