// Armv8.2 dot product (SDOT) for pareto's group formats: the codes dot with
// one instruction per 16 products (the unpacker and quantizer are NEON's).
#include <arm_neon.h>

#include "kernels/quant_dot.h"

namespace pareto::kernels::dotprod {

#define DOT16 vdotq_s32
#include "kernels/arm/pareto_formats_arm.inc"
#undef DOT16

}  // namespace pareto::kernels::dotprod
