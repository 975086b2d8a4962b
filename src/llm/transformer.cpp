#include "llm/transformer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/file.h"
#include "pareto/limits.hpp"
#include "core/thread_pool.h"
#include "kernels/llm_ops.h"

namespace pareto::llm {

Transformer::Transformer(const Model& model, int64_t ctx, KvType kv) : model_(model) {
  const ModelConfig& c = model.config;
  // A context beyond the trained length is allowed (RoPE has no hard limit); the CLI warns.
  ctx_ = ctx > 0 ? ctx : c.ctx_len;
  if (ctx_ <= 0) fail_argument("context length must be positive");
  if (c.head_dim > 512) fail_unsupported("head dimension " + std::to_string(c.head_dim) + " (pareto supports up to 512)");
  kv_ = KvCache::create(kv, c, ctx_);
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

template <class F>
void Transformer::stage(const char* name, int64_t layer, const kernels::WeightMatrix* w, int64_t tokens, int64_t pos, F&& run) {
  if (!stage_hook) return run();
  const double t0 = now_seconds();
  run();
  StageEvent e;
  e.stage = name, e.layer = layer, e.seconds = now_seconds() - t0, e.weight = w, e.tokens = tokens, e.pos = pos;
  stage_hook(e);
}

const float* Transformer::forward(const int32_t* tokens, int64_t n, int64_t pos, bool all_logits) {
  const ModelConfig& c = model_.config;
  if (n <= 0) fail_argument("forward needs at least one token");
  if (pos < 0 || pos + n > ctx_)
    fail_argument("positions " + std::to_string(pos) + ".." + std::to_string(pos + n - 1) + " exceed the context of " + std::to_string(ctx_));
  reserve(n, all_logits);
  const int64_t dim = c.dim, hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd;
  float* x = x_.data();
  for (int64_t t = 0; t < n; ++t)
    if (tokens[t] < 0 || tokens[t] >= c.vocab) fail_argument("token id " + std::to_string(tokens[t]) + " is outside the vocabulary");
  stage("embed", -1, &model_.token_embd, n, pos, [&] {
    for (int64_t t = 0; t < n; ++t) kernels::weight_row(model_.token_embd, tokens[t], x + t * dim);
  });
  auto matmul = [&](const char* name, int64_t l, const kernels::WeightMatrix& w, const float* in, float* out) {
    stage(name, l, &w, n, pos, [&] { kernels::matmul_weights(w, in, n, out); });
  };
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = model_.layers[size_t(l)];
    stage("attn_norm", l, &w.attn_norm, n, pos, [&] {
      const float* attn_norm = static_cast<const float*>(w.attn_norm.data);
      for (int64_t t = 0; t < n; ++t) kernels::f32_rmsnorm(x + t * dim, attn_norm, dim, c.rms_eps, xb_.data() + t * dim);
    });
    if (input_hook) input_hook(l, MatmulInput::attn, xb_.data(), n, dim);
    matmul("wq", l, w.wq, xb_.data(), q_.data());
    matmul("wk", l, w.wk, xb_.data(), k_.data());
    matmul("wv", l, w.wv, xb_.data(), v_.data());
    stage("rope_kv", l, nullptr, n, pos, [&] {
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
        kv_->store(l, pos + t, kt, vt);
      }
    });
    // Causal attention: token t sees positions [0, pos + t].
    stage("attention", l, nullptr, n, pos, [&] { kv_->attend_batch(l, c, q_.data(), n, pos, att_.data()); });
    if (input_hook) input_hook(l, MatmulInput::attn_out, att_.data(), n, q_dim);
    matmul("wo", l, w.wo, att_.data(), xb_.data());
    stage("residual", l, nullptr, n, pos, [&] {
      for (int64_t i = 0; i < n * dim; ++i) x[i] += xb_[size_t(i)];
    });
    stage("ffn_norm", l, &w.ffn_norm, n, pos, [&] {
      const float* ffn_norm = static_cast<const float*>(w.ffn_norm.data);
      for (int64_t t = 0; t < n; ++t) kernels::f32_rmsnorm(x + t * dim, ffn_norm, dim, c.rms_eps, xb_.data() + t * dim);
    });
    if (input_hook) input_hook(l, MatmulInput::ffn, xb_.data(), n, dim);
    matmul("w_gate", l, w.w_gate, xb_.data(), gate_.data());
    matmul("w_up", l, w.w_up, xb_.data(), up_.data());
    stage("silu_mul", l, nullptr, n, pos, [&] { kernels::f32_silu_mul(gate_.data(), up_.data(), n * c.ffn_dim); });
    if (input_hook) input_hook(l, MatmulInput::down, gate_.data(), n, c.ffn_dim);
    matmul("w_down", l, w.w_down, gate_.data(), xb_.data());
    stage("residual_ffn", l, nullptr, n, pos, [&] {
      for (int64_t i = 0; i < n * dim; ++i) x[i] += xb_[size_t(i)];
    });
    if (layer_hook) layer_hook(l, x, n, dim);
  }
  const int64_t first = all_logits ? 0 : n - 1, rows = all_logits ? n : 1;
  stage("output_norm", -1, &model_.output_norm, rows, pos, [&] {
    const float* out_norm = static_cast<const float*>(model_.output_norm.data);
    for (int64_t t = first; t < n; ++t) kernels::f32_rmsnorm(x + t * dim, out_norm, dim, c.rms_eps, xb_.data() + (t - first) * dim);
  });
  stage("output", -1, &model_.output, rows, pos, [&] { kernels::matmul_weights(model_.output, xb_.data(), rows, logits_.data()); });
  return logits_.data();
}

}  // namespace pareto::llm
