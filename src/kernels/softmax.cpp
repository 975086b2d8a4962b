#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"

namespace pareto::kernels {

void f32_softmax_rows_ref(const float* x, float* y, int64_t rows, int64_t len) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = x + r * len;
    float* d = y + r * len;
    const float mx = *std::max_element(s, s + len);
    float sum = 0;
    for (int64_t i = 0; i < len; ++i) sum += d[i] = std::exp(s[i] - mx);
    const float inv = 1.f / sum;
    for (int64_t i = 0; i < len; ++i) d[i] *= inv;
  }
}

void f32_softmax_rows(const float* x, float* y, int64_t rows, int64_t len) {
  if (rows <= 0 || len <= 0) return;
  const bool vector = kernel_table().level == IsaLevel::avx512 || kernel_table().level == IsaLevel::neon;
  // Rows of a few thousand classes are worth a thread each; short rows are
  // taken in groups so a parallel region is not opened per tiny row.
  const int64_t per_task = std::max<int64_t>(1, 4096 / len);
  parallel_for((rows + per_task - 1) / per_task, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin * per_task; r < std::min(rows, end * per_task); ++r) {
      if (vector) {  // only ever true on the two architectures below
        if constexpr (kBuildX86) avx512::f32_softmax_row(x + r * len, y + r * len, len);
        else if constexpr (kBuildArm64) neon::f32_softmax_row(x + r * len, y + r * len, len);
        continue;
      }
      f32_softmax_rows_ref(x + r * len, y + r * len, 1, len);
    }
  });
}

}  // namespace pareto::kernels
