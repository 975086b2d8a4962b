// AVX-512 build of the blocked GEMM: 8x48 register tile (24 zmm accumulators).
#define PARETO_VEC_BYTES 64
#define PARETO_GEMM_MR 8
#define PARETO_GEMM_NV 3
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace pareto::kernels::avx512 {
#include "kernels/gemm_blocked.inc"
}
