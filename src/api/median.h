// The median of timings (the upper one of an even count), shared by the
// API's measuring functions (profile, tune).
#pragma once
#include <algorithm>
#include <vector>

namespace pareto::api {

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The textbook median: the mean of the middle two of an even count (tune:
// the upper one of two rounds would be the slower).
inline double median_mean(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace pareto::api
