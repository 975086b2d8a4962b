// Repacked-weight matrix kernel on plain NEON (every AArch64 CPU): SDOT's
// lanes built from widening multiplies and pairwise adds.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels::neon {

namespace {
// Lane i = products of bytes 4i..4i+3, each pair summed in 32 bits (two
// products of -128 * -128 would overflow an int16 pair sum).
inline int32x4_t lane_dot16_widening(int32x4_t acc, int8x16_t a, int8x16_t b) {
  const int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  const int32x4_t hi = vpaddlq_s16(vmull_high_s8(a, b));
  return vaddq_s32(acc, vpaddq_s32(lo, hi));
}
}  // namespace
#define LANE_DOT16 lane_dot16_widening
#include "kernels/arm/packed_gemm_arm.inc"
#undef LANE_DOT16

}  // namespace pareto::kernels::neon
