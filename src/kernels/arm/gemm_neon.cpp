// NEON build of the blocked f32 GEMM (kernels/gemm_blocked.inc): an 8x8
// register tile, 16 of the 32 q registers as accumulators, two for B and one
// for the broadcast A value.
#define PARETO_VEC_BYTES 16
#define PARETO_GEMM_MR 8
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace pareto::kernels::neon {
#include "kernels/gemm_blocked.inc"
}
