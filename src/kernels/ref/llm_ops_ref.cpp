#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "kernels/llm_ops.h"

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

void f32_silu_mul_ref(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    gate[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

void attention_softmax(float* scratch, int64_t n) {
  float mx = -INFINITY;
  for (int64_t t = 0; t < n; ++t) mx = std::max(mx, scratch[t]);
  float sum = 0;
  for (int64_t t = 0; t < n; ++t) {
    scratch[t] = std::exp(scratch[t] - mx);
    sum += scratch[t];
  }
  for (int64_t t = 0; t < n; ++t) scratch[t] /= sum;
}

namespace {

// A key/value row as floats: f32 rows are used in place, f16 rows converted
// (with the scalar conversion: this is the reference).
inline const float* kv_row(const float* p, int64_t, float*) { return p; }
inline const float* kv_row(const uint16_t* p, int64_t n, float* buf) {
  for (int64_t i = 0; i < n; ++i) buf[i] = half_to_float(p[i]);
  return buf;
}
// An int8 KV row widened to floats: scale * q.
inline const float* kv_row(const uint8_t* row, int64_t n, float* buf) {
  float scale;
  std::memcpy(&scale, row, 4);
  const int8_t* q = reinterpret_cast<const int8_t*>(row + 4);
  for (int64_t i = 0; i < n; ++i) buf[i] = scale * float(q[i]);
  return buf;
}


template <class T>
void attention_head(const float* q, const T* k, const T* v, int64_t n_pos, int64_t head_dim, int64_t stride, float* scratch, float* out) {
  float buf[512];  // the transformer refuses head_dim > 512
  const float scale = 1.f / std::sqrt(float(head_dim));
  for (int64_t t = 0; t < n_pos; ++t) {
    const float* kt = kv_row(k + t * stride, head_dim, buf);
    float s = 0;
    for (int64_t i = 0; i < head_dim; ++i) s += q[i] * kt[i];
    scratch[t] = s * scale;
  }
  attention_softmax(scratch, n_pos);
  for (int64_t i = 0; i < head_dim; ++i) out[i] = 0;
  for (int64_t t = 0; t < n_pos; ++t) {
    const float p = scratch[t];
    const float* vt = kv_row(v + t * stride, head_dim, buf);
    for (int64_t i = 0; i < head_dim; ++i) out[i] += p * vt[i];
  }
}

}  // namespace

void f32_to_q8kv_row(const float* x, int64_t head_dim, uint8_t* row) {
  float amax = 0.f;
  for (int64_t i = 0; i < head_dim; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = amax / 127.f, inv = scale > 0 ? 1.f / scale : 0.f;
  std::memcpy(row, &scale, 4);
  for (int64_t i = 0; i < head_dim; ++i) row[4 + i] = uint8_t(int8_t(std::lround(x[i] * inv)));
}

void q8kv_attention_head_ref(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                             float* scratch, float* out) {
  attention_head(q, k, v, n_pos, head_dim, stride, scratch, out);  // stride in bytes: rows are uint8_t
}

void f32_attention_head(const float* q, const float* k, const float* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                        float* scratch, float* out) {
  attention_head(q, k, v, n_pos, head_dim, stride, scratch, out);
}

void f16kv_attention_head_ref(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                              float* scratch, float* out) {
  attention_head(q, k, v, n_pos, head_dim, stride, scratch, out);
}

}  // namespace pareto::kernels
