#include <cmath>

#include "kernels/llm_ops.h"

#include <algorithm>

namespace pareto::kernels {

void f32_rmsnorm(const float* x, const float* w, int64_t n, float eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  float scale = float(1.0 / std::sqrt(ss / double(n) + double(eps)));
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (scale * x[i]);
}

void f32_rope(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, int64_t pos, float freq_base, bool neox) {
  int64_t half = rope_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    double theta = double(pos) * std::pow(double(freq_base), -2.0 * double(i) / double(rope_dims));
    float c = float(std::cos(theta)), s = float(std::sin(theta));
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
      float v0 = v[a], v1 = v[b];
      v[a] = v0 * c - v1 * s;
      v[b] = v0 * s + v1 * c;
    }
  }
}

void f32_silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    gate[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

namespace {

// scratch[0..n) = softmax(scratch[0..n)), in place.
void softmax_in_place(float* scratch, int64_t n) {
  float mx = -INFINITY;
  for (int64_t t = 0; t < n; ++t) mx = std::max(mx, scratch[t]);
  float sum = 0;
  for (int64_t t = 0; t < n; ++t) {
    scratch[t] = std::exp(scratch[t] - mx);
    sum += scratch[t];
  }
  for (int64_t t = 0; t < n; ++t) scratch[t] /= sum;
}

}  // namespace

void f32_attention_head(const float* q, const float* k, const float* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                        float* scratch, float* out) {
  float scale = 1.f / std::sqrt(float(head_dim));
  for (int64_t t = 0; t < n_pos; ++t) {
    const float* kt = k + t * stride;
    float s = 0;
    for (int64_t i = 0; i < head_dim; ++i) s += q[i] * kt[i];
    scratch[t] = s * scale;
  }
  softmax_in_place(scratch, n_pos);
  for (int64_t i = 0; i < head_dim; ++i) out[i] = 0;
  for (int64_t t = 0; t < n_pos; ++t) {
    float p = scratch[t];
    const float* vt = v + t * stride;
    for (int64_t i = 0; i < head_dim; ++i) out[i] += p * vt[i];
  }
}

void f16kv_attention_head_ref(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out) {
  float row[512];
  float scale = 1.f / std::sqrt(float(head_dim));
  for (int64_t t = 0; t < n_pos; ++t) {
    f16_to_f32_row(k + t * stride, row, head_dim);
    float s = 0;
    for (int64_t i = 0; i < head_dim; ++i) s += q[i] * row[i];
    scratch[t] = s * scale;
  }
  softmax_in_place(scratch, n_pos);
  for (int64_t i = 0; i < head_dim; ++i) out[i] = 0;
  for (int64_t t = 0; t < n_pos; ++t) {
    float p = scratch[t];
    f16_to_f32_row(v + t * stride, row, head_dim);
    for (int64_t i = 0; i < head_dim; ++i) out[i] += p * row[i];
  }
}

}  // namespace pareto::kernels
