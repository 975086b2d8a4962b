#include "kernels/membw.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/file.h"
#include "core/thread_pool.h"

namespace pareto::kernels {

double measure_read_bandwidth(size_t bytes, int repeats) {
  size_t n = bytes / sizeof(uint64_t) / 64 * 64;
  // Huge pages and a prefetch far ahead, like the decode kernels: the probe
  // should find the best streaming read rate, so roofline ratios are honest.
  std::shared_ptr<void> mem = allocate_large(n * sizeof(uint64_t));
  uint64_t* buf = static_cast<uint64_t*>(mem.get());
  // Touch every page (in parallel, like the reads) so first-touch faults are not timed.
  parallel_for(int64_t(n / 64), [&](int64_t b, int64_t e) {
    for (int64_t i = b * 64; i < e * 64; ++i) buf[size_t(i)] = uint64_t(i);
  });
  double best = 0;
  std::atomic<uint64_t> sink{0};
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    parallel_for(int64_t(n / 64), [&](int64_t b, int64_t e) {
      // Eight independent sums keep several loads in flight.
      uint64_t s[8] = {};
      for (int64_t i = b * 64; i < e * 64; i += 8) {
        __builtin_prefetch(buf + i + 1024, 0, 1);
        for (int k = 0; k < 8; ++k) s[k] += buf[size_t(i + k)];
      }
      uint64_t t = 0;
      for (uint64_t v : s) t += v;
      sink.fetch_add(t, std::memory_order_relaxed);
    });
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The best repeat, as STREAM reports: noise only ever slows a pass down,
    // and a higher roofline makes every ratio against it more conservative.
    best = std::max(best, double(n * sizeof(uint64_t)) / sec / 1e9);
  }
  return best;
}

}  // namespace pareto::kernels
