// Plain NEON kernels for pareto's own formats: the group-row unpacker (one
// table lookup gathers the two bytes each code spans, a per-lane shift and
// a mask cut it out), the codes dot over widening multiplies, and the W8A8
// per-token activation quantizer.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/pareto_formats.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels::neon {

namespace {
inline int32x4_t dot16_widening(int32x4_t acc, int8x16_t a, int8x16_t b) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
}

inline float f16_value(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, 2);
  return float(v);
}

// For each 8 codes k of a 32-code sub-block: the table indices that put
// bytes (i * bits) / 8 and the one after into 16-bit lane i, and the right
// shift (as USHL's negative count) that brings code i to bit 0. A code of
// up to 8 bits starting at bit b % 8 <= 7 ends within those two bytes.
struct SpreadPlan {
  uint8x16_t index[4];
  int16x8_t shift[4];
  uint8x16_t mask;
};

SpreadPlan spread_plan(int bits) {
  SpreadPlan p;
  for (int k = 0; k < 4; ++k) {
    uint8_t idx[16];
    int16_t sh[8];
    for (int i = 0; i < 8; ++i) {
      const int bit = (8 * k + i) * bits;
      idx[2 * i] = uint8_t(bit / 8);
      idx[2 * i + 1] = uint8_t(bit / 8 + 1);  // 32 at most: past the 32-byte table reads as 0
      sh[i] = int16_t(-(bit % 8));
    }
    p.index[k] = vld1q_u8(idx);
    p.shift[k] = vld1q_s16(sh);
  }
  p.mask = vdupq_n_u8(uint8_t((1u << bits) - 1));
  return p;
}

inline uint16x8_t eight_codes(const uint8x16x2_t& table, const SpreadPlan& p, int k) {
  return vshlq_u16(vreinterpretq_u16_u8(vqtbl2q_u8(table, p.index[k])), p.shift[k]);
}
}  // namespace

#define DOT16 dot16_widening
#include "kernels/arm/pareto_formats_arm.inc"
#undef DOT16

void group_unpack(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm) {
  const SpreadPlan plan = spread_plan(f.bits);
  const size_t bytes = size_t(4 * f.bits);  // one sub-block's codes: the row may end right after them
  unpack_group_row(f, row, n, codes, dm, [&](const uint8_t* qs, uint8_t* out) {
    uint8_t buf[32] = {};
    std::memcpy(buf, qs, bytes);
    const uint8x16x2_t table = vld1q_u8_x2(buf);
    // After the shift each 16-bit lane holds its code in the low byte (high bits above the mask).
    const uint8x16_t lo = vuzp1q_u8(vreinterpretq_u8_u16(eight_codes(table, plan, 0)), vreinterpretq_u8_u16(eight_codes(table, plan, 1)));
    const uint8x16_t hi = vuzp1q_u8(vreinterpretq_u8_u16(eight_codes(table, plan, 2)), vreinterpretq_u8_u16(eight_codes(table, plan, 3)));
    vst1q_u8(out, vandq_u8(lo, plan.mask));
    vst1q_u8(out + 16, vandq_u8(hi, plan.mask));
  }, f16_value);
}

// The reference's per-token quantizer in vectors: the same amax (maxnm skips
// a quiet NaN as std::max does), scale and rounding (FCVTNS: to nearest,
// ties to even, as lrintf in the default mode), so the same bytes.
void f32_q8tok_quantize(const float* x, int64_t n, uint8_t* q, float* scale) {
  float32x4_t vmax = vdupq_n_f32(0.f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vmax = vmaxnmq_f32(vmax, vabsq_f32(vld1q_f32(x + i)));
  float amax = vmaxnmvq_f32(vmax);
  for (int64_t k = i; k < n; ++k) amax = std::max(amax, std::fabs(x[k]));
  const float d = amax / 127.f, id = d ? 1.f / d : 0.f;
  const float32x4_t vid = vdupq_n_f32(id);
  const int32x4_t lo = vdupq_n_s32(-127), hi = vdupq_n_s32(127), off = vdupq_n_s32(128);
  for (i = 0; i + 8 <= n; i += 8) {
    int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i), vid));
    int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 4), vid));
    a = vaddq_s32(vminq_s32(vmaxq_s32(a, lo), hi), off);
    b = vaddq_s32(vminq_s32(vmaxq_s32(b, lo), hi), off);
    vst1_u8(q + i, vmovn_u16(vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(a)), vmovn_u32(vreinterpretq_u32_s32(b)))));
  }
  for (; i < n; ++i) q[i] = uint8_t(std::clamp(int(std::lrintf(x[i] * id)), -127, 127) + 128);
  *scale = d;
}

}  // namespace pareto::kernels::neon
