// Repacked-weight matrix kernel with the Armv8.2 dot product (SDOT: one
// instruction per 16 int8 products, lane i = bytes 4i..4i+3).
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels::dotprod {

#define LANE_DOT16 vdotq_s32
#include "kernels/arm/packed_gemm_arm.inc"
#undef LANE_DOT16

}  // namespace pareto::kernels::dotprod
