// Helpers shared by the kernel tests: which SIMD variants this CPU can run,
// and seeded random inputs.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/conv.h"
#include "pareto/tensor.h"

namespace pareto::testing {

inline bool have_vnni() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.f16c && f.fma;
}

// ||b - a|| / ||a|| over two f32 tensors of the same size.
inline double relative_l2(const Tensor& a, const Tensor& b) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = double(b.data<float>()[i]) - double(a.data<float>()[i]);
    diff += d * d;
    norm += double(a.data<float>()[i]) * double(a.data<float>()[i]);
  }
  return std::sqrt(diff / norm);
}

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = uint8_t(rng());
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

// Geometry for the GEMM convs that lower and pack their own panels (bf16,
// f16): stride 2 with an odd k, a 1x1 read in place, groups, a 1xk kernel
// with an odd row count, dilation over 210 pixels, and one of everything.
inline std::vector<ConvCase> gemm_conv_cases() {
  // n, cin, h, w, cout, kh, kw, group, strides, dilations, pads (top, left, bottom, right)
  return {
      {1, 3, 9, 11, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},    // stem-like, stride 2, k = 27 (odd)
      {2, 16, 7, 5, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   // 1x1 in place, batch 2
      {1, 12, 8, 8, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // groups of 4 -> 3
      {1, 5, 4, 40, 33, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   // 1x3 kernel, 33 rows
      {1, 40, 3, 70, 17, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2},  // dilated, 210 pixels, k = 360
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     // one of everything
  };
}

}  // namespace pareto::testing
