// AVX2+FMA build of the blocked GEMM: 6x16 register tile (12 ymm accumulators).
#define PARETO_VEC_BYTES 32
#define PARETO_GEMM_MR 6
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace pareto::kernels::avx2 {
#include "kernels/gemm_blocked.inc"
}
