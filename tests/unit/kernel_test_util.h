// Helpers shared by the kernel tests: which SIMD variants this CPU can run,
// and seeded random inputs.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "core/cpu.h"

namespace pareto::testing {

inline bool have_vnni() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.f16c && f.fma;
}

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace pareto::testing
