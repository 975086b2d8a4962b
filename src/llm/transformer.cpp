#include "llm/transformer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/file.h"
#include "pareto/limits.hpp"
#include "core/thread_pool.h"
#include "kernels/llm_ops.h"

namespace pareto::llm {

Transformer::Transformer(const Model& model, int64_t ctx, KvType kv, int slots) : model_(model) {
  const ModelConfig& c = model.config;
  // A context beyond the trained length is allowed (RoPE has no hard limit); the CLI warns.
  ctx_ = ctx > 0 ? ctx : c.ctx_len;
  if (ctx_ <= 0) fail_argument("context length must be positive");
  if (c.head_dim > 512) fail_unsupported("head dimension " + std::to_string(c.head_dim) + " (pareto supports up to 512)");
  if (slots < 1 || slots > 256) fail_argument("slots must be 1..256, not " + std::to_string(slots));
  for (int i = 0; i < slots; ++i) kv_.push_back(KvCache::create(kv, c, ctx_));
}

void Transformer::reserve(int64_t n, int64_t logit_rows) {
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
  grow(logits_, logit_rows * c.vocab);
}

void Transformer::check_rows(const Row* rows, int64_t n) const {
  if (n <= 0) fail_argument("forward needs at least one token");
  std::vector<int64_t> next(kv_.size(), -1);  // the position each slot's next row must have
  for (int64_t t = 0; t < n; ++t) {
    const Row& r = rows[t];
    if (r.slot < 0 || size_t(r.slot) >= kv_.size()) fail_argument("slot " + std::to_string(r.slot) + " does not exist");
    if (r.pos < 0 || r.pos >= ctx_)
      fail_argument("position " + std::to_string(r.pos) + " exceeds the context of " + std::to_string(ctx_));
    if (next[size_t(r.slot)] >= 0 && r.pos != next[size_t(r.slot)])
      fail_argument("the rows of slot " + std::to_string(r.slot) + " are not at consecutive positions");
    next[size_t(r.slot)] = r.pos + 1;
    if (r.token < 0 || r.token >= model_.config.vocab) fail_argument("token id " + std::to_string(r.token) + " is outside the vocabulary");
  }
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
  if (n <= 0) fail_argument("forward needs at least one token");
  if (pos < 0 || pos + n > ctx_)
    fail_argument("positions " + std::to_string(pos) + ".." + std::to_string(pos + n - 1) + " exceed the context of " + std::to_string(ctx_));
  rows_.resize(size_t(n));
  for (int64_t t = 0; t < n; ++t) rows_[size_t(t)] = Row{tokens[t], 0, pos + t, all_logits || t == n - 1};
  return forward_rows(rows_.data(), n);
}

// Causal attention: a row at position p sees [0, p] of its slot. Long runs of
// one slot's rows (prompts) take the cache's tiled batch; the short ones
// (decoding slots, one row each) share one parallel region over rows x
// heads, so N slots cost one thread hand-off per layer instead of N.
void Transformer::attention(const Row* rows, int64_t n, int64_t layer) {
  const ModelConfig& c = model_.config;
  const int64_t hd = c.head_dim, q_dim = c.n_heads * hd, group = c.n_heads / c.n_kv_heads;
  short_rows_.clear();
  int64_t span = 0;  // the most positions a short row sees
  for (int64_t t = 0; t < n;) {
    int64_t end = t + 1;
    while (end < n && rows[end].slot == rows[t].slot) ++end;
    if (end - t >= kTiledAttentionTokens) {
      kv_[size_t(rows[t].slot)]->attend_batch(layer, c, q_.data() + t * q_dim, end - t, rows[t].pos, att_.data() + t * q_dim);
    } else {
      for (int64_t r = t; r < end; ++r) short_rows_.push_back(r);
      span = std::max(span, rows[end - 1].pos + 1);
    }
    t = end;
  }
  if (short_rows_.empty()) return;
  parallel_for(int64_t(short_rows_.size()) * c.n_heads, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scratch;
    scratch.resize(size_t(span));
    for (int64_t i = b; i < e; ++i) {
      const int64_t t = short_rows_[size_t(i / c.n_heads)], h = i % c.n_heads;
      kv_[size_t(rows[t].slot)]->attend(layer, h / group, q_.data() + t * q_dim + h * hd, rows[t].pos + 1, scratch.data(),
                                        att_.data() + t * q_dim + h * hd);
    }
  });
}

// RMSNorm of the residual stream's n rows into xb_, with norm's weights.
void Transformer::norm_rows(const char* name, int64_t l, const kernels::WeightMatrix& norm, int64_t n, int64_t pos) {
  const ModelConfig& c = model_.config;
  stage(name, l, &norm, n, pos, [&] {
    const float* g = static_cast<const float*>(norm.data);
    for (int64_t t = 0; t < n; ++t) kernels::f32_rmsnorm(x_.data() + t * c.dim, g, c.dim, c.rms_eps, xb_.data() + t * c.dim);
  });
}

// One layer on the residual stream x_ of the rows.
void Transformer::run_layer(int64_t l, const Row* rows, int64_t n, int64_t pos) {
  const ModelConfig& c = model_.config;
  const int64_t dim = c.dim, hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd;
  float* x = x_.data();
  auto matmul = [&](const char* name, const kernels::WeightMatrix& w, const float* in, float* out) {
    stage(name, l, &w, n, pos, [&] { kernels::matmul_weights(w, in, n, out); });
  };
  const LayerWeights& w = model_.layers[size_t(l)];
  norm_rows("attn_norm", l, w.attn_norm, n, pos);
  if (input_hook) input_hook(l, MatmulInput::attn, xb_.data(), n, dim);
  matmul("wq", w.wq, xb_.data(), q_.data());
  matmul("wk", w.wk, xb_.data(), k_.data());
  matmul("wv", w.wv, xb_.data(), v_.data());
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
      kernels::f32_rope(qt, c.n_heads, hd, c.rope_dims, rows[t].pos, c.rope_base, c.rope_neox);
      kernels::f32_rope(kt, c.n_kv_heads, hd, c.rope_dims, rows[t].pos, c.rope_base, c.rope_neox);
      kv_[size_t(rows[t].slot)]->store(l, rows[t].pos, kt, vt);
    }
  });
  stage("attention", l, nullptr, n, pos, [&] { attention(rows, n, l); });
  if (input_hook) input_hook(l, MatmulInput::attn_out, att_.data(), n, q_dim);
  matmul("wo", w.wo, att_.data(), xb_.data());
  stage("residual", l, nullptr, n, pos, [&] {
    for (int64_t i = 0; i < n * dim; ++i) x[i] += xb_[size_t(i)];
  });
  norm_rows("ffn_norm", l, w.ffn_norm, n, pos);
  if (input_hook) input_hook(l, MatmulInput::ffn, xb_.data(), n, dim);
  matmul("w_gate", w.w_gate, xb_.data(), gate_.data());
  matmul("w_up", w.w_up, xb_.data(), up_.data());
  stage("silu_mul", l, nullptr, n, pos, [&] { kernels::f32_silu_mul(gate_.data(), up_.data(), n * c.ffn_dim); });
  if (input_hook) input_hook(l, MatmulInput::down, gate_.data(), n, c.ffn_dim);
  matmul("w_down", w.w_down, gate_.data(), xb_.data());
  stage("residual_ffn", l, nullptr, n, pos, [&] {
    for (int64_t i = 0; i < n * dim; ++i) x[i] += xb_[size_t(i)];
  });
  if (layer_hook) layer_hook(l, x, n, dim);
}

const float* Transformer::forward_layers(const float* x, int64_t n, int64_t pos, int64_t first, int64_t end) {
  const ModelConfig& c = model_.config;
  if (first < 0 || first > end || end > c.n_layers)
    fail_argument("layers " + std::to_string(first) + ".." + std::to_string(end) + " outside the model's " + std::to_string(c.n_layers));
  if (n <= 0 || pos < 0 || pos + n > ctx_) fail_argument("forward_layers: positions outside the context");
  rows_.resize(size_t(n));
  for (int64_t t = 0; t < n; ++t) rows_[size_t(t)] = Row{0, 0, pos + t, false};
  const bool in_place = x == x_.data();  // a previous call's result passed back in (as many rows: reserve keeps it)
  reserve(n, 0);
  if (!in_place) std::copy(x, x + n * c.dim, x_.begin());
  for (int64_t l = first; l < end; ++l) run_layer(l, rows_.data(), n, pos);
  return x_.data();
}

void Transformer::embed(const int32_t* tokens, int64_t n, float* x) const {
  for (int64_t t = 0; t < n; ++t) {
    if (tokens[t] < 0 || tokens[t] >= model_.config.vocab) fail_argument("token id " + std::to_string(tokens[t]) + " is outside the vocabulary");
    kernels::weight_row(model_.token_embd, tokens[t], x + t * model_.config.dim);
  }
}

const float* Transformer::forward_rows(const Row* rows, int64_t n) {
  const ModelConfig& c = model_.config;
  check_rows(rows, n);
  std::vector<int64_t> logit_rows;
  for (int64_t t = 0; t < n; ++t)
    if (rows[t].logits) logit_rows.push_back(t);
  reserve(n, int64_t(logit_rows.size()));
  const int64_t pos = rows[0].pos;  // for the profiler's events
  const int64_t dim = c.dim;
  float* x = x_.data();
  stage("embed", -1, &model_.token_embd, n, pos, [&] {
    for (int64_t t = 0; t < n; ++t) kernels::weight_row(model_.token_embd, rows[t].token, x + t * dim);
  });
  for (int64_t l = 0; l < c.n_layers; ++l) run_layer(l, rows, n, pos);
  const int64_t out_rows = int64_t(logit_rows.size());
  if (out_rows == 0) return logits_.data();
  stage("output_norm", -1, &model_.output_norm, out_rows, pos, [&] {
    const float* out_norm = static_cast<const float*>(model_.output_norm.data);
    for (int64_t i = 0; i < out_rows; ++i) kernels::f32_rmsnorm(x + logit_rows[size_t(i)] * dim, out_norm, dim, c.rms_eps, xb_.data() + i * dim);
  });
  stage("output", -1, &model_.output, out_rows, pos, [&] { kernels::matmul_weights(model_.output, xb_.data(), out_rows, logits_.data()); });
  return logits_.data();
}

}  // namespace pareto::llm
