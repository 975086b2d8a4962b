// Small transformer kernels shared by every LLM architecture: RMSNorm,
// rotary position embedding, SiLU-gated product, causal attention over a KV
// cache. Portable reference versions; ISA variants come with the fast-kernel work.
#pragma once
#include <cstdint>

namespace pareto::kernels {

// out[i] = w[i] * x[i] / sqrt(mean(x^2) + eps)
void f32_rmsnorm(const float* x, const float* w, int64_t n, float eps, float* out);

// Rotates `n_heads` heads of `head_dim` in place for position `pos`. Only the
// first `rope_dims` dims of each head rotate. neox: pairs (i, i + rope_dims/2);
// otherwise adjacent pairs (2i, 2i+1).
void f32_rope(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, int64_t pos, float freq_base, bool neox);

// gate[i] = silu(gate[i]) * up[i]
void f32_silu_mul(float* gate, const float* up, int64_t n);
void f32_silu_mul_ref(float* gate, const float* up, int64_t n);

// scores[0..n) = softmax(scores[0..n)) in place: the attention kernels' shared step.
void attention_softmax(float* scores, int64_t n);

// One query head against keys/values of positions [0, n_pos) (rows of
// length head_dim, stride `stride` floats apart); writes out[head_dim].
// `scratch` holds n_pos floats.
void f32_attention_head(const float* q, const float* k, const float* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                        float* scratch, float* out);

// The same with keys and values stored as IEEE half (the default KV cache);
// dispatched to an F16C variant when head_dim is a multiple of 8.
void f16kv_attention_head(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out);
void f16kv_attention_head_ref(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out);

// The int8 KV cache option: each head's row of a position is stored as a
// float scale followed by head_dim int8 values (symmetric, amax / 127), rows
// `stride` bytes apart. Half the memory of f16 again; attention widens the
// values in registers.
inline int64_t q8kv_row_bytes(int64_t head_dim) { return 4 + head_dim; }
void f32_to_q8kv_row(const float* x, int64_t head_dim, uint8_t* row);
void q8kv_attention_head(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                         float* scratch, float* out);
void q8kv_attention_head_ref(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                             float* scratch, float* out);

// Row conversions for the f16 KV cache (dispatched: F16C where available).
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n);
void f16_to_f32_row(const uint16_t* x, float* y, int64_t n);

}  // namespace pareto::kernels
