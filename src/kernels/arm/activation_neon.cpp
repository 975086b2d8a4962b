// Conv/GEMM epilogues on NEON: residual add, the piecewise-linear
// activations and the affine after them in one pass. Same operations in the
// same order as the generic loop (no contraction in this file), so the same
// bits, except sigmoid and SiLU, whose polynomial exp differs from std::exp
// by a few units in the last place (and is clamped: sigmoid below -88.7
// gives ~3e-39 rather than 0, as on x86-64); tanh stays generic. Also the LLM
// feed-forward's silu(gate) * up.
#include <arm_neon.h>

#include <cstring>

#include "kernels/activation.h"
#include "kernels/arm/neon_math.h"

namespace pareto::kernels::neon {

namespace {

// std::max(a, b) is (a < b) ? b : a and std::min(a, b) is (b < a) ? b : a,
// NaN included (FMAX/FMIN would return the NaN of either operand).
inline float32x4_t std_max(float32x4_t a, float32x4_t b) { return vbslq_f32(vcltq_f32(a, b), b, a); }
inline float32x4_t std_min(float32x4_t a, float32x4_t b) { return vbslq_f32(vcltq_f32(b, a), b, a); }

template <class F>
void each(const Activation& a, float* y, const float* r, int64_t n, F f) {
  const float32x4_t sc = vdupq_n_f32(a.scale), sh = vdupq_n_f32(a.shift), fl = vdupq_n_f32(a.floor);
  const bool affine = a.has_affine(), floor = a.has_floor();
  auto one = [&](float32x4_t v) {
    v = f(v);
    if (affine) v = vaddq_f32(vmulq_f32(sc, v), sh);
    if (!floor) return v;
    // v where v > floor or v is NaN, else floor: as the unfused Max (NaN stays, max(-0, +0) = +0).
    const uint32x4_t keep = vorrq_u32(vcgtq_f32(v, fl), vmvnq_u32(vceqq_f32(v, v)));
    return vbslq_f32(keep, v, fl);
  };
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float32x4_t v = vld1q_f32(y + i);
    if (r) v = vaddq_f32(v, vld1q_f32(r + i));
    vst1q_f32(y + i, one(v));
  }
  if (i < n) {  // the tail through a small buffer: no access past y or r
    float buf[4] = {};
    const int64_t left = n - i;
    for (int64_t k = 0; k < left; ++k) buf[k] = r ? y[i + k] + r[i + k] : y[i + k];
    vst1q_f32(buf, one(vld1q_f32(buf)));
    for (int64_t k = 0; k < left; ++k) y[i + k] = buf[k];
  }
}

}  // namespace

bool apply_activation(const Activation& a, float* y, const float* r, int64_t n) {
  const float32x4_t zero = vdupq_n_f32(0.f), one = vdupq_n_f32(1.f);
  const float32x4_t al = vdupq_n_f32(a.alpha), be = vdupq_n_f32(a.beta);
  switch (a.kind) {
    case ActKind::none: each(a, y, r, n, [](float32x4_t v) { return v; }); return true;
    case ActKind::relu: each(a, y, r, n, [&](float32x4_t v) { return std_max(v, zero); }); return true;
    case ActKind::clip: each(a, y, r, n, [&](float32x4_t v) { return std_min(std_max(v, al), be); }); return true;
    case ActKind::hard_sigmoid:
      each(a, y, r, n, [&](float32x4_t v) { return std_max(zero, std_min(one, vaddq_f32(vmulq_f32(al, v), be))); });
      return true;
    case ActKind::hard_swish: {
      const float32x4_t sixth = vdupq_n_f32(1.f / 6.f), half = vdupq_n_f32(0.5f);  // ONNX: alpha = 1/6, beta = 0.5
      each(a, y, r, n, [&](float32x4_t v) { return vmulq_f32(v, std_max(zero, std_min(one, vaddq_f32(vmulq_f32(v, sixth), half)))); });
      return true;
    }
    case ActKind::leaky_relu:
      each(a, y, r, n, [&](float32x4_t v) { return vbslq_f32(vcltq_f32(v, zero), vmulq_f32(v, al), v); });
      return true;
    case ActKind::sigmoid: each(a, y, r, n, [](float32x4_t v) { return sigmoid_ps(v); }); return true;
    case ActKind::silu: each(a, y, r, n, [](float32x4_t v) { return silu_ps(v); }); return true;
    default: return false;
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(gate + i, vmulq_f32(silu_ps(vld1q_f32(gate + i)), vld1q_f32(up + i)));
  if (i < n) {
    float g[4] = {}, u[4] = {};
    std::memcpy(g, gate + i, sizeof(float) * size_t(n - i));
    std::memcpy(u, up + i, sizeof(float) * size_t(n - i));
    vst1q_f32(g, vmulq_f32(silu_ps(vld1q_f32(g)), vld1q_f32(u)));
    std::memcpy(gate + i, g, sizeof(float) * size_t(n - i));
  }
}

// One row: the max, e^(x - max) stored and summed in lanes, then scaled.
void f32_softmax_row(const float* x, float* y, int64_t len) {
  const int64_t body = len / 4 * 4;
  float32x4_t top = vdupq_n_f32(-__builtin_inff());
  for (int64_t i = 0; i < body; i += 4) top = vmaxq_f32(top, vld1q_f32(x + i));
  float mx = vmaxvq_f32(top);
  for (int64_t i = body; i < len; ++i) mx = x[i] > mx ? x[i] : mx;
  const float32x4_t vmx = vdupq_n_f32(mx);
  float32x4_t vsum = vdupq_n_f32(0.f);
  for (int64_t i = 0; i < body; i += 4) {
    const float32x4_t e = exp_ps(vsubq_f32(vld1q_f32(x + i), vmx));
    vst1q_f32(y + i, e);
    vsum = vaddq_f32(vsum, e);
  }
  float sum = vaddvq_f32(vsum);
  if (body < len) {
    float buf[4] = {};
    std::memcpy(buf, x + body, sizeof(float) * size_t(len - body));
    float e[4];
    vst1q_f32(e, exp_ps(vsubq_f32(vld1q_f32(buf), vmx)));
    for (int64_t k = 0; k < len - body; ++k) sum += y[body + k] = e[k];
  }
  const float32x4_t scale = vdupq_n_f32(1.f / sum);
  for (int64_t i = 0; i < body; i += 4) vst1q_f32(y + i, vmulq_f32(vld1q_f32(y + i), scale));
  for (int64_t i = body; i < len; ++i) y[i] *= 1.f / sum;
}

}  // namespace pareto::kernels::neon
