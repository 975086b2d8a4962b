#include "llm/transformer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "pareto/limits.hpp"
#include "core/thread_pool.h"
#include "kernels/llm_ops.h"

namespace pareto::llm {

KvType kv_type_by_name(const std::string& name) {
  if (name == "f32") return KvType::f32;
  if (name == "f16") return KvType::f16;
  if (name == "q8" || name == "int8") return KvType::q8;
  fail_argument("KV cache type must be f16, f32 or q8, not '" + name + "'");
}

Transformer::Transformer(const Model& model, int64_t ctx, KvType kv) : model_(model), kv_(kv) {
  const ModelConfig& c = model.config;
  // A context beyond the trained length is allowed (RoPE has no hard limit); the CLI warns.
  ctx_ = ctx > 0 ? ctx : c.ctx_len;
  if (ctx_ <= 0) fail_argument("context length must be positive");
  if (c.head_dim > 512) fail_unsupported("head dimension " + std::to_string(c.head_dim) + " (pareto supports up to 512)");
  // Refuse caches that cannot be meant (a typo, or a hostile file's context
  // length) before allocating: positions against the context limit, each
  // layer's K (and V) cache against the tensor-bytes limit.
  check_limit("a KV cache of " + std::to_string(ctx_) + " positions", uint64_t(ctx_), "context");
  const double row_bytes = kv == KvType::q8 ? double(kernels::q8kv_row_bytes(c.head_dim)) : double(c.head_dim) * (kv == KvType::f16 ? 2 : 4);
  const double layer_bytes = double(ctx_) * double(c.n_kv_heads) * row_bytes;
  if (layer_bytes > 9e18) fail(StatusCode::out_of_memory, "a KV cache for context " + std::to_string(ctx_) + " overflows 64 bits");
  check_limit("the K cache of one layer for context " + std::to_string(ctx_) + " (bytes)",
              layer_bytes > 9e18 ? UINT64_MAX : uint64_t(layer_bytes), "tensor-bytes");
  // And the whole cache (K and V of every layer), against eight times that
  // limit: a hostile file's thousands of tiny layers must not add up to more.
  const double total = 2.0 * layer_bytes * double(c.n_layers);
  const uint64_t cap = current_limits().tensor_bytes > UINT64_MAX / 8 ? UINT64_MAX : current_limits().tensor_bytes * 8;
  if (total > double(cap))
    check_limit("a KV cache of " + std::to_string(c.n_layers) + " layers for context " + std::to_string(ctx_) + " (bytes, against 8 x tensor-bytes)",
                total > 9e18 ? UINT64_MAX : uint64_t(total) / 8, "tensor-bytes");
  size_t per_layer = size_t(ctx_ * c.n_kv_heads * c.head_dim);
  if (kv == KvType::q8) {
    const size_t rows = size_t(ctx_ * c.n_kv_heads * c.n_layers), bytes = rows * size_t(kernels::q8kv_row_bytes(c.head_dim));
    k8_.assign(bytes, 0);
    v8_.assign(bytes, 0);
  } else if (kv == KvType::f16) {
    k16_.assign(per_layer * size_t(c.n_layers), 0);
    v16_.assign(per_layer * size_t(c.n_layers), 0);
  } else {
    k_cache_.assign(per_layer * size_t(c.n_layers), 0.f);
    v_cache_.assign(per_layer * size_t(c.n_layers), 0.f);
  }
}

void Transformer::reserve(int64_t n, bool all_logits) {
  const ModelConfig& c = model_.config;
  auto grow = [](std::vector<float>& v, int64_t size) {
    if (v.size() < size_t(size)) v.resize(size_t(size));
  };
  grow(x_, n * c.dim);
  grow(xb_, n * std::max(c.dim, c.n_heads * c.head_dim));
  grow(q_, n * c.n_heads * c.head_dim);
  grow(k_, n * c.n_kv_heads * c.head_dim);
  grow(v_, n * c.n_kv_heads * c.head_dim);
  grow(att_, n * c.n_heads * c.head_dim);
  grow(gate_, n * c.ffn_dim);
  grow(up_, n * c.ffn_dim);
  grow(logits_, (all_logits ? n : 1) * c.vocab);
}

const float* Transformer::forward(const int32_t* tokens, int64_t n, int64_t pos, bool all_logits) {
  const ModelConfig& c = model_.config;
  if (n <= 0) fail_argument("forward needs at least one token");
  if (pos < 0 || pos + n > ctx_)
    fail_argument("positions " + std::to_string(pos) + ".." + std::to_string(pos + n - 1) + " exceed the context of " + std::to_string(ctx_));
  reserve(n, all_logits);
  const int64_t dim = c.dim, hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd;
  const int64_t group = c.n_heads / c.n_kv_heads;
  float* x = x_.data();
  for (int64_t t = 0; t < n; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab) fail_argument("token id " + std::to_string(tokens[t]) + " is outside the vocabulary");
    kernels::weight_row(model_.token_embd, tokens[t], x + t * dim);
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = model_.layers[size_t(l)];
    const float* attn_norm = static_cast<const float*>(w.attn_norm.data);
    for (int64_t t = 0; t < n; ++t) kernels::f32_rmsnorm(x + t * dim, attn_norm, dim, c.rms_eps, xb_.data() + t * dim);
    if (input_hook) input_hook(l, MatmulInput::attn, xb_.data(), n, dim);
    kernels::matmul_weights(w.wq, xb_.data(), n, q_.data());
    kernels::matmul_weights(w.wk, xb_.data(), n, k_.data());
    kernels::matmul_weights(w.wv, xb_.data(), n, v_.data());
    const size_t layer_off = size_t(l) * size_t(ctx_ * kv_dim);
    float* kc = kv_ == KvType::f32 ? k_cache_.data() + layer_off : nullptr;
    float* vc = kv_ == KvType::f32 ? v_cache_.data() + layer_off : nullptr;
    uint16_t* kh = kv_ == KvType::f16 ? k16_.data() + layer_off : nullptr;
    uint16_t* vh = kv_ == KvType::f16 ? v16_.data() + layer_off : nullptr;
    // int8 rows: one per (position, kv head), q8_pos bytes per position
    const int64_t q8_row = kernels::q8kv_row_bytes(hd), q8_pos = q8_row * c.n_kv_heads;
    uint8_t* k8 = kv_ == KvType::q8 ? k8_.data() + size_t(l) * size_t(ctx_ * q8_pos) : nullptr;
    uint8_t* v8 = kv_ == KvType::q8 ? v8_.data() + size_t(l) * size_t(ctx_ * q8_pos) : nullptr;
    for (int64_t t = 0; t < n; ++t) {
      float* qt = q_.data() + t * q_dim;
      float* kt = k_.data() + t * kv_dim;
      float* vt = v_.data() + t * kv_dim;
      if (w.bq)
        for (int64_t i = 0; i < q_dim; ++i) qt[i] += w.bq[i];
      if (w.bk)
        for (int64_t i = 0; i < kv_dim; ++i) kt[i] += w.bk[i];
      if (w.bv)
        for (int64_t i = 0; i < kv_dim; ++i) vt[i] += w.bv[i];
      kernels::f32_rope(qt, c.n_heads, hd, c.rope_dims, pos + t, c.rope_base, c.rope_neox);
      kernels::f32_rope(kt, c.n_kv_heads, hd, c.rope_dims, pos + t, c.rope_base, c.rope_neox);
      if (kv_ == KvType::q8) {
        for (int64_t h = 0; h < c.n_kv_heads; ++h) {
          kernels::f32_to_q8kv_row(kt + h * hd, hd, k8 + (pos + t) * q8_pos + h * q8_row);
          kernels::f32_to_q8kv_row(vt + h * hd, hd, v8 + (pos + t) * q8_pos + h * q8_row);
        }
      } else if (kv_ == KvType::f16) {
        kernels::f32_to_f16_row(kt, kh + (pos + t) * kv_dim, kv_dim);
        kernels::f32_to_f16_row(vt, vh + (pos + t) * kv_dim, kv_dim);
      } else {
        std::memcpy(kc + (pos + t) * kv_dim, kt, sizeof(float) * size_t(kv_dim));
        std::memcpy(vc + (pos + t) * kv_dim, vt, sizeof(float) * size_t(kv_dim));
      }
    }
    // Causal attention: token t sees positions [0, pos + t]. Heads split across threads.
    parallel_for(n * c.n_heads, [&](int64_t b, int64_t e) {
      static thread_local std::vector<float> scratch;
      scratch.resize(size_t(ctx_));
      for (int64_t th = b; th < e; ++th) {
        int64_t t = th / c.n_heads, h = th % c.n_heads, kvh = h / group;
        if (kv_ == KvType::q8)
          kernels::q8kv_attention_head(q_.data() + t * q_dim + h * hd, k8 + kvh * q8_row, v8 + kvh * q8_row, pos + t + 1, hd, q8_pos,
                                       scratch.data(), att_.data() + t * q_dim + h * hd);
        else if (kv_ == KvType::f16)
          kernels::f16kv_attention_head(q_.data() + t * q_dim + h * hd, kh + kvh * hd, vh + kvh * hd, pos + t + 1, hd, kv_dim,
                                        scratch.data(), att_.data() + t * q_dim + h * hd);
        else
          kernels::f32_attention_head(q_.data() + t * q_dim + h * hd, kc + kvh * hd, vc + kvh * hd, pos + t + 1, hd, kv_dim,
                                      scratch.data(), att_.data() + t * q_dim + h * hd);
      }
    });
    if (input_hook) input_hook(l, MatmulInput::attn_out, att_.data(), n, q_dim);
    kernels::matmul_weights(w.wo, att_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x[i] += xb_[size_t(i)];
    const float* ffn_norm = static_cast<const float*>(w.ffn_norm.data);
    for (int64_t t = 0; t < n; ++t) kernels::f32_rmsnorm(x + t * dim, ffn_norm, dim, c.rms_eps, xb_.data() + t * dim);
    if (input_hook) input_hook(l, MatmulInput::ffn, xb_.data(), n, dim);
    kernels::matmul_weights(w.w_gate, xb_.data(), n, gate_.data());
    kernels::matmul_weights(w.w_up, xb_.data(), n, up_.data());
    kernels::f32_silu_mul(gate_.data(), up_.data(), n * c.ffn_dim);
    if (input_hook) input_hook(l, MatmulInput::down, gate_.data(), n, c.ffn_dim);
    kernels::matmul_weights(w.w_down, gate_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x[i] += xb_[size_t(i)];
    if (layer_hook) layer_hook(l, x, n, dim);
  }
  const float* out_norm = static_cast<const float*>(model_.output_norm.data);
  int64_t first = all_logits ? 0 : n - 1, rows = all_logits ? n : 1;
  for (int64_t t = first; t < n; ++t) kernels::f32_rmsnorm(x + t * dim, out_norm, dim, c.rms_eps, xb_.data() + (t - first) * dim);
  kernels::matmul_weights(model_.output, xb_.data(), rows, logits_.data());
  return logits_.data();
}

}  // namespace pareto::llm
