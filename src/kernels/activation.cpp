#include "kernels/activation.h"

#include <algorithm>
#include <cmath>

#include "core/cpu.h"
#include "kernels/dispatch.h"
#include "kernels/llm_ops.h"

namespace pareto::kernels {

ActKind act_kind_by_name(const std::string& n) {
  if (n == "Relu") return ActKind::relu;
  if (n == "Clip") return ActKind::clip;
  if (n == "HardSigmoid") return ActKind::hard_sigmoid;
  if (n == "HardSwish") return ActKind::hard_swish;
  if (n == "Sigmoid") return ActKind::sigmoid;
  if (n == "SiLU") return ActKind::silu;
  if (n == "Tanh") return ActKind::tanh;
  if (n == "LeakyRelu") return ActKind::leaky_relu;
  return ActKind::none;
}

const char* act_kind_name(ActKind k) {
  switch (k) {
    case ActKind::relu: return "Relu";
    case ActKind::clip: return "Clip";
    case ActKind::hard_sigmoid: return "HardSigmoid";
    case ActKind::hard_swish: return "HardSwish";
    case ActKind::sigmoid: return "Sigmoid";
    case ActKind::silu: return "SiLU";
    case ActKind::tanh: return "Tanh";
    case ActKind::leaky_relu: return "LeakyRelu";
    default: return "none";
  }
}

namespace {
template <class F>
void each(float* y, const float* r, int64_t n, F f) {
  if (r)
    for (int64_t i = 0; i < n; ++i) y[i] = f(y[i] + r[i]);
  else
    for (int64_t i = 0; i < n; ++i) y[i] = f(y[i]);
}
}  // namespace

// The formulas match the standalone ops in runtime/ops (same operation
// order), so fused and unfused graphs agree to rounding.
void apply_activation(const Activation& a, float* y, const float* r, int64_t n) {
  if constexpr (kBuildX86)
    if (kernel_table().level == IsaLevel::avx512 && avx512::apply_activation(a, y, r, n)) return;
  if constexpr (kBuildArm64)
    if (kernel_table().level == IsaLevel::neon && neon::apply_activation(a, y, r, n)) return;
  apply_activation_generic(a, y, r, n);
}

void f32_silu_mul(float* gate, const float* up, int64_t n) {
  if constexpr (kBuildX86)
    if (kernel_table().level == IsaLevel::avx512) return avx512::silu_mul(gate, up, n);
  if constexpr (kBuildArm64)
    if (kernel_table().level == IsaLevel::neon) return neon::silu_mul(gate, up, n);
  f32_silu_mul_ref(gate, up, n);
}

void apply_activation_generic(const Activation& a, float* y, const float* r, int64_t n) {
  const float al = a.alpha, be = a.beta;
  switch (a.kind) {
    case ActKind::none: each(y, r, n, [](float v) { return v; }); break;
    case ActKind::relu: each(y, r, n, [](float v) { return std::max(v, 0.f); }); break;
    case ActKind::clip: each(y, r, n, [=](float v) { return std::min(std::max(v, al), be); }); break;
    case ActKind::hard_sigmoid: each(y, r, n, [=](float v) { return std::max(0.f, std::min(1.f, al * v + be)); }); break;
    case ActKind::hard_swish: each(y, r, n, [](float v) { return v * std::max(0.f, std::min(1.f, v * (1.f / 6.f) + 0.5f)); }); break;
    case ActKind::sigmoid: each(y, r, n, [](float v) { return 1.f / (1.f + std::exp(-v)); }); break;
    case ActKind::silu: each(y, r, n, [](float v) { return v / (1.f + std::exp(-v)); }); break;
    case ActKind::tanh: each(y, r, n, [](float v) { return std::tanh(v); }); break;
    case ActKind::leaky_relu: each(y, r, n, [=](float v) { return v < 0 ? al * v : v; }); break;
  }
  if (a.has_affine()) {  // a second pass over the block while it is in cache
    const float sc = a.scale, sh = a.shift;
    for (int64_t i = 0; i < n; ++i) y[i] = sc * y[i] + sh;
  }
  if (a.has_floor()) {
    const float fl = a.floor;
    // As the unfused Max computes it: NaN stays, max(-0, +0) is +0.
    for (int64_t i = 0; i < n; ++i) y[i] = (y[i] != y[i] || y[i] > fl) ? y[i] : fl;
  }
}

}  // namespace pareto::kernels
