// The int8 conv GEMM on Armv8.6 i8mm (USMMLA): unsigned panel bytes times
// signed weights, as the x86 dot-product instructions take them, so no flip
// and no correction. USMMLA multiplies a 2x8 by an 8x2 block (32 products):
// two k-quads of the panel ([k4/4][n16][4]) zipped give pixels j, j + 1 x 8
// k-steps, two weight rows' 8 bytes the other operand; the 2x2 results
// (pixel, row) are unzipped into rows at the end. A tile is 4 rows x 8
// pixels (8 accumulators); an odd last quad pairs with zeros.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/int8_conv.h"

namespace pareto::kernels::i8mm {

namespace {

// Rows r, r + 1 (r + 1 past m: zeros), k-steps [8p, 8p + 8) (or the last 4).
inline int8x16_t row_pair(const int8_t* a, int64_t lda, int64_t r, int64_t m, int64_t p, bool half) {
  if (!half && r + 1 < m) return vcombine_s8(vld1_s8(a + r * lda + 8 * p), vld1_s8(a + (r + 1) * lda + 8 * p));
  int8_t buf[16] = {};
  const size_t bytes = half ? 4 : 8;
  std::memcpy(buf, a + r * lda + 8 * p, bytes);
  if (r + 1 < m) std::memcpy(buf + 8, a + (r + 1) * lda + 8 * p, bytes);
  return vld1q_s8(buf);
}

template <int RP>  // row pairs (1 or 2); out of line, as in the SDOT file
[[gnu::noinline]] void tile(const int8_t* a, int64_t lda, int64_t r, int64_t m, int64_t quads, const uint8_t* b, int64_t n16, int64_t j, int32_t* c,
          int64_t ldc, int64_t count) {
  int32x4_t acc[RP][4];
  for (int i = 0; i < RP; ++i)
    for (int q = 0; q < 4; ++q) acc[i][q] = vdupq_n_s32(0);
  const int64_t step = n16 * 4;
  const uint8_t* bp = b + j * 4;
  const uint8x16_t zero = vdupq_n_u8(0);
  for (int64_t p = 0; 2 * p < quads; ++p, bp += 2 * step) {
    const bool half = 2 * p + 1 == quads;  // the odd last quad: its partner is zeros
    int8x16_t w[RP];
    for (int i = 0; i < RP; ++i) w[i] = row_pair(a, lda, r + 2 * i, m, p, half);
    for (int h = 0; h < 2; ++h) {  // pixels j + 4h .. j + 4h + 3
      const uint8x16_t q0 = vld1q_u8(bp + 16 * h), q1 = half ? zero : vld1q_u8(bp + step + 16 * h);
      const uint32x4_t lo = vzip1q_u32(vreinterpretq_u32_u8(q0), vreinterpretq_u32_u8(q1));  // pixels 4h, 4h + 1
      const uint32x4_t hi = vzip2q_u32(vreinterpretq_u32_u8(q0), vreinterpretq_u32_u8(q1));  // pixels 4h + 2, 4h + 3
      for (int i = 0; i < RP; ++i) {
        acc[i][2 * h] = vusmmlaq_s32(acc[i][2 * h], vreinterpretq_u8_u32(lo), w[i]);
        acc[i][2 * h + 1] = vusmmlaq_s32(acc[i][2 * h + 1], vreinterpretq_u8_u32(hi), w[i]);
      }
    }
  }
  // acc[i][pp] = (pixel 2pp, row 2i), (2pp, 2i + 1), (2pp + 1, 2i), (2pp + 1, 2i + 1).
  for (int i = 0; i < RP; ++i)
    for (int e = 0; e < 2 && r + 2 * i + e < m; ++e) {
      int32_t out[8];
      for (int h = 0; h < 2; ++h)
        vst1q_s32(out + 4 * h, e ? vuzp2q_s32(acc[i][2 * h], acc[i][2 * h + 1]) : vuzp1q_s32(acc[i][2 * h], acc[i][2 * h + 1]));
      std::memcpy(c + (r + 2 * i + e) * ldc + j, out, size_t(count) * 4);
    }
}

}  // namespace

void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  const int64_t n16 = (n + 15) / 16 * 16, quads = k4 / 4;
  for (int64_t r = 0; r < m; r += 4)
    for (int64_t j = 0; j < n; j += 8) {
      const int64_t count = std::min<int64_t>(8, n - j);
      if (m - r > 2) tile<2>(a, lda, r, m, quads, b, n16, j, c, ldc, count);
      else tile<1>(a, lda, r, m, quads, b, n16, j, c, ldc, count);
    }
}

}  // namespace pareto::kernels::i8mm
