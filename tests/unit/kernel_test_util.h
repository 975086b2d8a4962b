// Helpers shared by the kernel tests: which SIMD variants this CPU can run,
// and seeded random inputs.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/conv.h"

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

inline std::vector<float> uniform(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A conv's shape in one line: image, geometry, pads (top, left, bottom, right).
struct ConvCase {
  int64_t n, cin, h, w, cout, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr;
};

inline kernels::ConvParams params_of(const ConvCase& c) {
  kernels::ConvParams p;
  p.n = c.n;
  p.c_in = c.cin;
  p.h = c.h;
  p.w = c.w;
  p.c_out = c.cout;
  p.kh = c.kh;
  p.kw = c.kw;
  p.group = c.group;
  p.stride_h = c.sh;
  p.stride_w = c.sw;
  p.dil_h = c.dh;
  p.dil_w = c.dw;
  p.pad_top = c.pt;
  p.pad_left = c.pl;
  p.out_h = (c.h + c.pt + c.pb - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  p.out_w = (c.w + c.pl + c.pr - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  return p;
}

}  // namespace pareto::testing
