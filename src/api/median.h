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

}  // namespace pareto::api
