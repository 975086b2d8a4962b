// How kernels cut their work into tasks for the thread pool's static split.
#pragma once
#include <algorithm>
#include <cstdint>

namespace pareto::kernels {

// The most units one thread gets when outer x ceil(units / b) tasks (the
// last of each outer step short) go to `threads` by parallel_for's static
// split: thread i takes tasks [T * i / parts, T * (i + 1) / parts).
inline int64_t largest_share(int64_t units, int64_t b, int64_t outer, int threads) {
  const int64_t per = (units + b - 1) / b, tasks = outer * per;
  const int64_t parts = std::min<int64_t>(threads, tasks);
  int64_t most = 0;
  for (int64_t i = 0; i < parts; ++i) {
    int64_t sum = 0;
    for (int64_t t = tasks * i / parts; t < tasks * (i + 1) / parts; ++t) sum += std::min(b, units - (t % per) * b);
    most = std::max(most, sum);
  }
  return most;
}

// Units (pixel columns, output rows) per task for a static split of
// outer x ceil(units / block) tasks over `threads`, where the tasks are few
// (under 8 per thread): the block, a multiple of `align` at most twice the
// caller's (which sized it for the cache), whose largest thread share is
// smallest, if it beats the caller's by 5% or more; fewer tasks first
// (each task re-reads the weights). A 20x20 map's 400 pixels in blocks of
// 128 went 256 / 144 to two threads; in two of 208, 208 / 192.
inline int64_t balanced_block(int64_t units, int64_t block, int64_t align, int64_t outer, int threads) {
  if (threads <= 1 || units <= 0 || block <= 0 || outer <= 0 || align <= 0) return block;
  const int64_t tasks = outer * ((units + block - 1) / block);
  if (tasks >= 8 * int64_t(threads)) return block;
  int64_t best = block, best_share = largest_share(units, block, outer, threads);
  const int64_t caller_share = best_share;
  auto consider = [&](int64_t wanted_tasks) {
    const int64_t per_outer = (wanted_tasks + outer - 1) / outer;  // blocks per outer step
    int64_t b = (units + per_outer - 1) / per_outer;
    b = std::max(align, (b + align - 1) / align * align);
    if (b > 2 * block) return;
    const int64_t share = largest_share(units, b, outer, threads);
    if (share < best_share && share * 20 <= caller_share * 19) best = b, best_share = share;
  };
  for (int64_t m = 1; m <= 4; ++m) consider(m * threads);
  consider((tasks + threads - 1) / threads * threads);
  return best;
}

}  // namespace pareto::kernels
