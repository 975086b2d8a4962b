#include "kernels/f16_conv.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/cpu.h"
#include "kernels/bf16_conv.h"
#include "kernels/dispatch.h"
#include "kernels/scratch.h"
#include "pareto/dtype.h"

namespace pareto::kernels {

namespace {

// Weight rows are scaled so their largest kF16Chunk-run of |w| sums to
// [128, 256); the input so that |x| < 1. Past these exponents the values
// are too far from 1 for the two to meet in f16's range: f32 instead.
constexpr int kWeightSumBits = 8, kMaxWeightExponent = 60, kMaxInputExponent = 20;

int row_exponent(const float* w, int64_t k, bool& usable) {
  double worst = 0;
  for (int64_t c0 = 0; c0 < k; c0 += kF16Chunk) {
    double sum = 0;
    for (int64_t i = c0; i < std::min(c0 + kF16Chunk, k); ++i) sum += std::fabs(double(w[i]));
    if (!std::isfinite(sum)) usable = false;  // std::max would pass a NaN by
    worst = std::max(worst, sum);
  }
  if (!(worst > 0) || !usable) return 0;
  int e = 0;
  std::frexp(worst, &e);  // worst = m * 2^e, m in [0.5, 1)
  if (std::abs(kWeightSumBits - e) > kMaxWeightExponent) usable = false;
  return kWeightSumBits - e;
}

// The f16 value nearest s (to nearest, ties to even; beyond 65504 + 16:
// infinity).
uint16_t round_to_half(double s) {
  if (s == 0) return float_to_half(float(s));
  int ex = 0;
  std::frexp(std::fabs(s), &ex);  // 2^(ex-1) <= |s| < 2^ex
  const double quantum = std::ldexp(1.0, std::max(ex - 1 - 10, -24));
  const double r = std::nearbyint(s / quantum);  // s / quantum is exact: a power of two
  const double v = std::copysign(std::fabs(r) * quantum, s);
  if (std::fabs(v) > 65504.0) return s > 0 ? 0x7c00 : 0xfc00;
  return float_to_half(float(v));  // exact: v is an f16 value
}

// Whether this CPU has FP16 arithmetic and PARETO_ISA does not cap it
// (`neon` means plain Armv8.0 NEON: no FMLA .8h).
bool fp16_native() {
  static const bool native = [] {
    if (!kBuildArm64) return false;
    const char* isa = std::getenv("PARETO_ISA");
    return kernel_table().level == IsaLevel::neon && cpu_features().fp16 &&
           !(isa && (!std::strcmp(isa, "neon") || !std::strcmp(isa, "dotprod")));
  }();
  return native;
}

}  // namespace

F16Weights pack_f16_weights(const float* w, int64_t rows, int64_t k) {
  F16Weights p;
  p.rows = rows;
  p.k8 = (k + 7) / 8 * 8;
  p.usable = true;
  p.data.assign(size_t(rows * p.k8), 0);
  p.exponent.assign(size_t(rows), 0);
  for (int64_t r = 0; r < rows && p.usable; ++r) {
    const int e = row_exponent(w + r * k, k, p.usable);
    p.exponent[size_t(r)] = e;
    for (int64_t i = 0; i < k && p.usable; ++i) p.data[size_t(r * p.k8 + i)] = float_to_half(std::ldexp(w[r * k + i], e));
  }
  return p;
}

bool f16_conv_preferred(const ConvParams& p) { return bf16_conv_preferred(p); }

bool f16_conv_available() { return fp16_native(); }

uint16_t f16_fma_ref(uint16_t a, uint16_t b, uint16_t acc) {
  // The product of two f16 values is exact in double (22 significant bits).
  // Its sum with an f16 is exact too unless their exponents lie ~31 bits
  // apart; then the smaller is far below half an f16 step of the larger
  // (or the sum is beyond f16's range), and rounding the double gives the
  // f16 the exact sum rounds to.
  const double p = double(half_to_float(a)) * double(half_to_float(b));
  const double s = p + double(half_to_float(acc));
  if (!std::isfinite(s)) return float_to_half(float(s));
  return round_to_half(s);
}

void f16_gemm_ref(const uint16_t* a, int64_t lda, int64_t m, int64_t k8, const uint16_t* b, int64_t n, const float* scale, float* c,
                  int64_t ldc, bool accumulate) {
  const int64_t n16 = (n + 15) / 16 * 16;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float total = 0.f;
      for (int64_t c0 = 0; c0 < k8; c0 += kF16Chunk) {
        uint16_t s = 0;
        for (int64_t i = c0; i < std::min(c0 + kF16Chunk, k8); ++i) s = f16_fma_ref(a[r * lda + i], b[i * n16 + j], s);
        total += half_to_float(s);
      }
      const float scaled = total * scale[r];
      c[r * ldc + j] = accumulate ? c[r * ldc + j] + scaled : scaled;
    }
}

void f16_pack_panel_ref(const float* src, int64_t ld, int64_t k, int64_t count, int exponent, int64_t k8, int64_t n16, uint16_t* out) {
  for (int64_t q = 0; q < k8; ++q)
    for (int64_t j = 0; j < n16; ++j) out[q * n16 + j] = q < k && j < count ? float_to_half(std::ldexp(src[q * ld + j], exponent)) : 0;
}

float abs_max_ref(const float* v, int64_t n) {
  float m = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) return v[i];
    m = std::max(m, std::fabs(v[i]));
  }
  return m;
}

namespace {

// One tile (its columns lowered), packed to f16, multiplied and finished
// by one thread while it is in cache.
void f16_tile(const ConvParams& p, const ConvTile& t, const F16Weights& w, const float* bias, const float* scale, int x_exponent,
              float* y, bool native) {
  const int64_t cout_g = p.c_out / p.group, plane = p.out_h * p.out_w, kdim = p.c_in / p.group * p.kh * p.kw;
  const int64_t n16 = (t.count + 15) / 16 * 16;
  uint16_t* panel = thread_scratch<uint16_t, 0>(size_t(w.k8 * n16));
  if constexpr (kBuildArm64) {
    if (native) armfp16::f16_pack_panel(t.src, t.ld, kdim, t.count, x_exponent, w.k8, n16, panel);
  }
  if (!native) f16_pack_panel_ref(t.src, t.ld, kdim, t.count, x_exponent, w.k8, n16, panel);
  if (bias) conv_tile_fill_bias(p, t, bias);
  const uint16_t* a = w.data.data() + t.g * cout_g * w.k8;
  const float* sg = scale + t.g * cout_g;
  if constexpr (kBuildArm64) {
    if (native) armfp16::f16_gemm(a, w.k8, cout_g, w.k8, panel, t.count, sg, t.yg, plane, bias != nullptr);
  }
  if (!native) f16_gemm_ref(a, w.k8, cout_g, w.k8, panel, t.count, sg, t.yg, plane, bias != nullptr);
  conv_tile_epilogue(p, t, y);
}

}  // namespace

bool f16_conv2d(const ConvParams& p, const float* x, const F16Weights& w, const float* bias, float* y) {
  if (!w.usable) return false;
  const bool native = fp16_native();
  const int64_t elements = p.n * p.c_in * p.h * p.w;
  float largest = 0.f;
  if constexpr (kBuildArm64) {
    if (native) largest = armfp16::abs_max(x, elements);
  }
  if (!native) largest = abs_max_ref(x, elements);
  if (!(largest < std::ldexp(1.f, kMaxInputExponent))) return false;  // also an infinity or a NaN
  int x_exponent = kMaxInputExponent;
  if (largest > 0) {
    int e = 0;
    std::frexp(largest, &e);
    x_exponent = std::min(-e, kMaxInputExponent);
  }
  std::vector<float> scale(static_cast<size_t>(w.rows));
  for (int64_t r = 0; r < w.rows; ++r) scale[size_t(r)] = std::ldexp(1.f, -(x_exponent + w.exponent[size_t(r)]));
  for_each_gemm_conv_tile(p, x, y, [&](const ConvTile& t) { f16_tile(p, t, w, bias, scale.data(), x_exponent, y, native); });
  return true;
}

}  // namespace pareto::kernels
