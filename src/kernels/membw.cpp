#include "kernels/membw.h"

#include <algorithm>
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
  std::vector<double> gbs;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<uint64_t> partial(size_t(num_threads()) * 8, 0);
    parallel_for(int64_t(n / 64), [&](int64_t b, int64_t e) {
      // Eight independent sums keep several loads in flight.
      uint64_t s[8] = {};
      for (int64_t i = b * 64; i < e * 64; i += 8) {
        __builtin_prefetch(buf + i + 1024, 0, 1);
        for (int k = 0; k < 8; ++k) s[k] += buf[size_t(i + k)];
      }
      uint64_t t = 0;
      for (uint64_t v : s) t += v;
      partial[size_t(b % int64_t(partial.size()))] += t;
    });
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (uint64_t v : partial) sink = sink + v;
    gbs.push_back(double(n * sizeof(uint64_t)) / sec / 1e9);
  }
  std::sort(gbs.begin(), gbs.end());
  return gbs[gbs.size() / 2];
}

}  // namespace pareto::kernels
