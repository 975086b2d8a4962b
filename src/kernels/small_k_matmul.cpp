#include "kernels/small_k_matmul.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/conv.h"

namespace pareto::kernels {

size_t small_k_panels_floats(int64_t k, int64_t n) { return size_t((n + kSmallKPanel - 1) / kSmallKPanel) * size_t(k) * size_t(kSmallKPanel); }

void pack_small_k_panels(const float* b, int64_t k, int64_t n, float* panels) {
  for (int64_t j0 = 0; j0 < n; j0 += kSmallKPanel) {
    const int64_t width = std::min(kSmallKPanel, n - j0);
    for (int64_t c = 0; c < k; ++c, panels += kSmallKPanel) {
      std::copy_n(b + c * n + j0, width, panels);
      std::fill(panels + width, panels + kSmallKPanel, 0.f);
    }
  }
}

void small_k_matmul_panels(const float* a, int64_t rows, int64_t k, const float* panels, int64_t n, float* y) {
  const int64_t count = (n + kSmallKPanel - 1) / kSmallKPanel;
  // Several panels per task: a task's fixed cost is small next to 8 panels' products.
  const int64_t per_task = 8, tasks = (count + per_task - 1) / per_task;
  parallel_for_balanced(tasks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin * per_task; t < std::min(count, end * per_task); ++t) {
      const int64_t j0 = t * kSmallKPanel;
      small_k_gemm(panels + t * k * kSmallKPanel, kSmallKPanel, k, a, nullptr, rows, y + j0, n, std::min(kSmallKPanel, n - j0));
    }
  });
}

}  // namespace pareto::kernels
