// The int8 conv GEMM on Armv8.2 dot product (SDOT): signed weight rows times
// the conv driver's unsigned panel [k4/4][n16][4]. SDOT is signed by signed,
// so panel bytes enter flipped (b - 128) and each row's weight sum puts the
// 128 back: Σ a*b = Σ a*(b - 128) + 128 * Σ a, exact in int32 for the
// k <= 65536 the conv allows. One SDOT-by-lane takes 4 k-steps of 4 pixels
// against one weight quad; a tile is 4 rows x 16 pixels (16 accumulators).
// Also the QuantizeLinear-to-uint8 row the int8 conv's inputs go through.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/arm/tile_walk.h"
#include "kernels/int8_conv.h"

namespace pareto::kernels::dotprod {

namespace {

inline int8x16_t flipped(const uint8_t* p) { return vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), vdupq_n_u8(0x80))); }

// One quad of k for 16 pixels, quad `lane` of the weights in a[i].
template <int R, int L>
inline void quad_step(int32x4_t (&acc)[R][4], const uint8_t* b, const int8x16_t (&a)[R]) {
  const int8x16_t b0 = flipped(b), b1 = flipped(b + 16), b2 = flipped(b + 32), b3 = flipped(b + 48);
  for (int i = 0; i < R; ++i) {
    acc[i][0] = vdotq_laneq_s32(acc[i][0], b0, a[i], L);
    acc[i][1] = vdotq_laneq_s32(acc[i][1], b1, a[i], L);
    acc[i][2] = vdotq_laneq_s32(acc[i][2], b2, a[i], L);
    acc[i][3] = vdotq_laneq_s32(acc[i][3], b3, a[i], L);
  }
}

// R rows (r..r+R) x pixels [j, j + 16) of C; `count` of them stored. Kept
// out of line: one call per tile costs nothing, and bench/arm_mca.py finds
// the tile's loop by its name.
// Panel: quad q's row of [pixel][4] bytes starts at panel(q) (the im2col
// panel's rows n16 * 4 bytes apart, or the shifted conv's offsets into the
// padded input).
template <int R, class Panel>
[[gnu::noinline]] void tile(const int8_t* a, int64_t lda, int64_t r, int64_t quads, Panel panel, int64_t j, const int32_t* row_sums,
          int32_t* c, int64_t ldc, int64_t count) {
  int32x4_t acc[R][4];
  for (int i = 0; i < R; ++i)
    for (int p = 0; p < 4; ++p) acc[i][p] = vdupq_n_s32(0);
  int64_t q = 0;
  for (; q + 4 <= quads; q += 4) {
    int8x16_t av[R];
    for (int i = 0; i < R; ++i) av[i] = vld1q_s8(a + (r + i) * lda + q * 4);
    quad_step<R, 0>(acc, panel(q) + j * 4, av);
    quad_step<R, 1>(acc, panel(q + 1) + j * 4, av);
    quad_step<R, 2>(acc, panel(q + 2) + j * 4, av);
    quad_step<R, 3>(acc, panel(q + 3) + j * 4, av);
  }
  for (; q < quads; ++q) {  // the last 1-3 quads: a 4-byte load per row (the rows end there)
    const uint8_t* bp = panel(q) + j * 4;
    int8x16_t av[R];
    for (int i = 0; i < R; ++i) {
      int32_t v;
      std::memcpy(&v, a + (r + i) * lda + q * 4, 4);
      av[i] = vreinterpretq_s8_s32(vdupq_n_s32(v));
    }
    quad_step<R, 0>(acc, bp, av);
  }
  for (int i = 0; i < R; ++i) {
    const int32x4_t back = vdupq_n_s32(128 * row_sums[i]);
    int32_t out[16];
    for (int p = 0; p < 4; ++p) vst1q_s32(out + 4 * p, vaddq_s32(acc[i][p], back));
    std::memcpy(c + (r + i) * ldc + j, out, size_t(count) * 4);
  }
}

// Each weight row's sum (the flipped panel's correction), then the tiles.
template <class Panel>
void gemm(const int8_t* a, int64_t lda, int64_t m, int64_t quads, Panel panel, int64_t n, int32_t* c, int64_t ldc) {
  const int64_t k4 = quads * 4;
  thread_local std::vector<int32_t> sums;  // grow-only: one call per column block
  sums.assign(size_t(m), 0);
  for (int64_t r = 0; r < m; ++r) {
    int32x4_t s = vdupq_n_s32(0);
    int64_t k = 0;
    for (; k + 16 <= k4; k += 16) s = vdotq_s32(s, vld1q_s8(a + r * lda + k), vdupq_n_s8(1));
    int32_t total = vaddvq_s32(s);
    for (; k < k4; ++k) total += a[r * lda + k];
    sums[size_t(r)] = total;
  }
  for_each_4x16_tile(m, n, [&](auto rows, int64_t r, int64_t j, int64_t count) {
    tile<decltype(rows)::value>(a, lda, r, quads, panel, j, sums.data() + r, c, ldc, count);
  });
}

// The im2col panel's quad rows, n16 * 4 bytes apart.
struct PanelRows {
  const uint8_t* b;
  int64_t step;
  const uint8_t* operator()(int64_t q) const { return b + q * step; }
};

// The shifted conv's quad rows: offsets into the padded input.
struct OffsetRows {
  const uint8_t* b;
  const int64_t* off;
  const uint8_t* operator()(int64_t q) const { return b + off[q]; }
};

}  // namespace

void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  gemm(a, lda, m, k4 / 4, PanelRows{b, (n + 15) / 16 * 16 * 4}, n, c, ldc);
}

void int8_gemm_offsets(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                       int32_t* c, int64_t ldc) {
  gemm(a, lda, m, quads, OffsetRows{b, off}, n, c, ldc);
}

// QuantizeLinear to uint8 as quantize_value does it: x / scale rounded half
// to even (FRINTN), the zero point added in float, NaN to 0 (FMAXNM), then
// clamped to [0, 255]; the same bytes as the reference.
void quantize_u8(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out) {
  const float32x4_t vs = vdupq_n_f32(scale), vz = vdupq_n_f32(float(zero)), lo = vdupq_n_f32(0.f), hi = vdupq_n_f32(255.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint32x4_t u[2];
    for (int h = 0; h < 2; ++h) {
      const float32x4_t r = vaddq_f32(vrndnq_f32(vdivq_f32(vld1q_f32(x + i + 4 * h), vs)), vz);
      u[h] = vcvtq_u32_f32(vminq_f32(vmaxnmq_f32(r, lo), hi));
    }
    vst1_u8(out + i, vmovn_u16(vcombine_u16(vmovn_u32(u[0]), vmovn_u32(u[1]))));
  }
  for (; i < n; ++i) out[i] = uint8_t(quantize_value(x[i] / scale, zero, 0, 255));
}

// The int8 conv's float epilogue row (int8_conv.h): integers in 32 bits as
// the caller checked, int32 -> f32 to nearest, a multiply then an add.
void int8_f32_row(const int32_t* acc, int64_t n, int32_t base, int32_t w_zero, const int32_t* col_sums, float scale, float bias, float* row) {
  const int32x4_t vb = vdupq_n_s32(base), vz = vdupq_n_s32(w_zero);
  const float32x4_t s = vdupq_n_f32(scale), b = vdupq_n_f32(bias);
  int64_t q = 0;
  for (; q + 4 <= n; q += 4) {
    int32x4_t v = vaddq_s32(vld1q_s32(acc + q), vb);
    if (col_sums) v = vsubq_s32(v, vmulq_s32(vz, vld1q_s32(col_sums + q)));
    vst1q_f32(row + q, vaddq_f32(vmulq_f32(s, vcvtq_f32_s32(v)), b));
  }
  for (; q < n; ++q) row[q] = scale * float(acc[q] + base - (col_sums ? w_zero * col_sums[q] : 0)) + bias;
}

}  // namespace pareto::kernels::dotprod
