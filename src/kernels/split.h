// How kernels cut their work into tasks for the thread pool's static split.
#pragma once
#include <algorithm>
#include <cstdint>

namespace pareto::kernels {

// Units (pixel columns, output rows) per task for a static split of
// outer x ceil(units / block) tasks over `threads`: where the tasks are few
// and their count leaves a remainder (5 over 2 threads: one thread does 3/5
// of the work), a block that makes the count a multiple of the threads if
// that lowers the largest thread's share. A multiple of `align`.
inline int64_t balanced_block(int64_t units, int64_t block, int64_t align, int64_t outer, int threads) {
  if (threads <= 1 || units <= 0 || block <= 0 || outer <= 0) return block;
  const auto share = [&](int64_t b) {  // the most units one thread gets: whole tasks, the largest first
    const int64_t tasks = outer * ((units + b - 1) / b);
    return (tasks + threads - 1) / threads * b;
  };
  const int64_t tasks = outer * ((units + block - 1) / block);
  if (tasks % threads == 0 || tasks >= 8 * int64_t(threads)) return block;
  const int64_t target = (tasks + threads - 1) / threads * threads;             // tasks wanted
  const int64_t per_outer = (target + outer - 1) / outer;                        // blocks per plane (image)
  int64_t b = (units + per_outer - 1) / per_outer;
  b = std::max(align, (b + align - 1) / align * align);
  return share(b) < share(block) ? b : block;
}

}  // namespace pareto::kernels
