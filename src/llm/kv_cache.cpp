#include "llm/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/llm_ops.h"
#include "kernels/softmax.h"
#include "pareto/limits.hpp"

namespace pareto::llm {

KvType kv_type_by_name(const std::string& name) {
  if (name == "f32") return KvType::f32;
  if (name == "f16") return KvType::f16;
  if (name == "q8" || name == "int8") return KvType::q8;
  fail_argument("KV cache type must be f16, f32 or q8, not '" + name + "'");
}

void KvCache::attend_batch(int64_t layer, const ModelConfig& c, const float* q, int64_t n, int64_t first_pos, float* out) const {
  const int64_t hd = c.head_dim, q_dim = c.n_heads * hd, group = c.n_heads / c.n_kv_heads;
  parallel_for(n * c.n_heads, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scratch;
    scratch.resize(size_t(first_pos + n));
    for (int64_t th = b; th < e; ++th) {
      const int64_t t = th / c.n_heads, h = th % c.n_heads;
      attend(layer, h / group, q + t * q_dim + h * hd, first_pos + t + 1, scratch.data(), out + t * q_dim + h * hd);
    }
  });
}

namespace {

constexpr size_t kMaxWidenedBytes = size_t(64) << 20;

// Tiled causal attention over f32 K and V rows (kf/vf + kv_head * head_step,
// row stride ld): per task a block of tokens times the query heads that
// share one KV head (GQA), S = Q K^T by the f32 GEMM, the softmax of each
// row over the positions its token sees (the rest zeroed), O = P V by the
// GEMM. Each K and V row is read once per block instead of once per token
// and head, and the exponentials are vectorized.
void attention_tiled(const ModelConfig& c, const float* q, int64_t n, int64_t first_pos, const float* kf, const float* vf, int64_t ld,
                     int64_t head_step, float* out) {
  const int64_t hd = c.head_dim, group = c.n_heads / c.n_kv_heads, q_dim = c.n_heads * hd;
  const int64_t blocks = (n + kQueryBlock - 1) / kQueryBlock;
  parallel_for(c.n_kv_heads * blocks, [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> qb, s, ob;
    for (int64_t task = b0; task < b1; ++task) {
      const int64_t kvh = task / blocks, t0 = task % blocks * kQueryBlock, tn = std::min(kQueryBlock, n - t0);
      const int64_t m = tn * group, n_pos = first_pos + t0 + tn;
      qb.resize(size_t(m * hd));
      s.resize(size_t(m * n_pos));
      ob.resize(size_t(m * hd));
      for (int64_t t = 0; t < tn; ++t)  // row t * group + g: token t0 + t, head kvh * group + g
        std::memcpy(qb.data() + t * group * hd, q + (t0 + t) * q_dim + kvh * group * hd, sizeof(float) * size_t(group * hd));
      kernels::GemmArgs scores;
      scores.trans_b = true;
      scores.m = m, scores.n = n_pos, scores.k = hd;
      scores.alpha = 1.f / std::sqrt(float(hd));
      scores.a = qb.data(), scores.lda = hd;
      scores.b = kf + kvh * head_step, scores.ldb = ld;
      scores.c = s.data(), scores.ldc = n_pos;
      kernels::f32_gemm(scores);
      for (int64_t r = 0; r < m; ++r) {
        const int64_t seen = first_pos + t0 + r / group + 1;
        float* row = s.data() + r * n_pos;
        kernels::f32_softmax_rows(row, row, 1, seen);
        std::fill(row + seen, row + n_pos, 0.f);
      }
      kernels::GemmArgs mix;
      mix.m = m, mix.n = hd, mix.k = n_pos;
      mix.a = s.data(), mix.lda = n_pos;
      mix.b = vf + kvh * head_step, mix.ldb = ld;
      mix.c = ob.data(), mix.ldc = hd;
      kernels::f32_gemm(mix);
      for (int64_t t = 0; t < tn; ++t)
        std::memcpy(out + (t0 + t) * q_dim + kvh * group * hd, ob.data() + t * group * hd, sizeof(float) * size_t(group * hd));
    }
  });
}

// Rows of kv_dim elements per position (f32, f16): [layer][pos][kv_dim].
template <class T>
class PlainKvCache final : public KvCache {
 public:
  PlainKvCache(const ModelConfig& c, int64_t ctx)
      : ctx_(ctx), head_dim_(c.head_dim), kv_dim_(c.n_kv_heads * c.head_dim),
        k_(size_t(ctx * kv_dim_ * c.n_layers)), v_(size_t(ctx * kv_dim_ * c.n_layers)) {}
  KvType type() const override { return std::is_same_v<T, float> ? KvType::f32 : KvType::f16; }
  size_t bytes() const override { return (k_.size() + v_.size()) * sizeof(T); }
  void store(int64_t layer, int64_t pos, const float* k, const float* v) override {
    const size_t at = size_t((layer * ctx_ + pos) * kv_dim_);
    if constexpr (std::is_same_v<T, float>) {
      std::memcpy(k_.data() + at, k, sizeof(float) * size_t(kv_dim_));
      std::memcpy(v_.data() + at, v, sizeof(float) * size_t(kv_dim_));
    } else {
      kernels::f32_to_f16_row(k, k_.data() + at, kv_dim_);
      kernels::f32_to_f16_row(v, v_.data() + at, kv_dim_);
    }
  }
  void attend(int64_t layer, int64_t kv_head, const float* q, int64_t n_pos, float* scratch, float* out) const override {
    const size_t at = size_t(layer * ctx_ * kv_dim_ + kv_head * head_dim_);
    if constexpr (std::is_same_v<T, float>)
      kernels::f32_attention_head(q, k_.data() + at, v_.data() + at, n_pos, head_dim_, kv_dim_, scratch, out);
    else
      kernels::f16kv_attention_head(q, k_.data() + at, v_.data() + at, n_pos, head_dim_, kv_dim_, scratch, out);
  }
  void attend_batch(int64_t layer, const ModelConfig& c, const float* q, int64_t n, int64_t first_pos, float* out) const override {
    const int64_t total = first_pos + n, per_head = total * head_dim_, n_kv = kv_dim_ / head_dim_;
    const bool tiled = n >= kTiledAttentionTokens && n_kv * ((n + kQueryBlock - 1) / kQueryBlock) >= num_threads() &&
                       (std::is_same_v<T, float> || size_t(2 * n_kv * per_head) * sizeof(float) <= kMaxWidenedBytes);
    if (!tiled) return KvCache::attend_batch(layer, c, q, n, first_pos, out);
    const size_t at = size_t(layer * ctx_ * kv_dim_);
    if constexpr (std::is_same_v<T, float>) {
      attention_tiled(c, q, n, first_pos, k_.data() + at, v_.data() + at, kv_dim_, head_dim_, out);
    } else {
      // The layer's f16 rows widened once to [kv_head][pos][head_dim] for all blocks.
      std::vector<float> widened(size_t(2 * n_kv * per_head));
      float* kf = widened.data();
      float* vf = kf + n_kv * per_head;
      parallel_for(total, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p)
          for (int64_t h = 0; h < n_kv; ++h) {
            kernels::f16_to_f32_row(k_.data() + at + size_t(p * kv_dim_ + h * head_dim_), kf + h * per_head + p * head_dim_, head_dim_);
            kernels::f16_to_f32_row(v_.data() + at + size_t(p * kv_dim_ + h * head_dim_), vf + h * per_head + p * head_dim_, head_dim_);
          }
      });
      attention_tiled(c, q, n, first_pos, kf, vf, head_dim_, per_head, out);
    }
  }

 private:
  int64_t ctx_, head_dim_, kv_dim_;
  std::vector<T> k_, v_;
};

// One int8 row (float scale + head_dim bytes) per (position, kv head):
// [layer][pos][kv_head].
class Q8KvCache final : public KvCache {
 public:
  Q8KvCache(const ModelConfig& c, int64_t ctx)
      : ctx_(ctx), head_dim_(c.head_dim), n_kv_heads_(c.n_kv_heads), row_(kernels::q8kv_row_bytes(c.head_dim)), pos_bytes_(row_ * c.n_kv_heads),
        k_(size_t(ctx * pos_bytes_ * c.n_layers)), v_(size_t(ctx * pos_bytes_ * c.n_layers)) {}
  KvType type() const override { return KvType::q8; }
  size_t bytes() const override { return k_.size() + v_.size(); }
  void store(int64_t layer, int64_t pos, const float* k, const float* v) override {
    const size_t at = size_t((layer * ctx_ + pos) * pos_bytes_);
    for (int64_t h = 0; h < n_kv_heads_; ++h) {
      kernels::f32_to_q8kv_row(k + h * head_dim_, head_dim_, k_.data() + at + size_t(h * row_));
      kernels::f32_to_q8kv_row(v + h * head_dim_, head_dim_, v_.data() + at + size_t(h * row_));
    }
  }
  void attend(int64_t layer, int64_t kv_head, const float* q, int64_t n_pos, float* scratch, float* out) const override {
    const size_t at = size_t(layer * ctx_ * pos_bytes_ + kv_head * row_);
    kernels::q8kv_attention_head(q, k_.data() + at, v_.data() + at, n_pos, head_dim_, pos_bytes_, scratch, out);
  }

 private:
  int64_t ctx_, head_dim_, n_kv_heads_, row_, pos_bytes_;
  std::vector<uint8_t> k_, v_;
};

// Refuses caches that cannot be meant (a typo, or a hostile file's context
// length) before allocating: positions against the context limit, each
// layer's K (and V) cache against the tensor-bytes limit, the whole cache
// against eight times that (a hostile file's thousands of tiny layers must
// not add up to more).
void check_cache_limits(KvType type, const ModelConfig& c, int64_t ctx) {
  check_limit("a KV cache of " + std::to_string(ctx) + " positions", uint64_t(ctx), "context");
  const double row_bytes = type == KvType::q8 ? double(kernels::q8kv_row_bytes(c.head_dim)) : double(c.head_dim) * (type == KvType::f16 ? 2 : 4);
  const double layer_bytes = double(ctx) * double(c.n_kv_heads) * row_bytes;
  if (layer_bytes > 9e18) fail(StatusCode::out_of_memory, "a KV cache for context " + std::to_string(ctx) + " overflows 64 bits");
  check_limit("the K cache of one layer for context " + std::to_string(ctx) + " (bytes)", uint64_t(layer_bytes), "tensor-bytes");
  const double total = 2.0 * layer_bytes * double(c.n_layers);
  const uint64_t cap = current_limits().tensor_bytes > UINT64_MAX / 8 ? UINT64_MAX : current_limits().tensor_bytes * 8;
  if (total > double(cap))
    check_limit("a KV cache of " + std::to_string(c.n_layers) + " layers for context " + std::to_string(ctx) + " (bytes, against 8 x tensor-bytes)",
                total > 9e18 ? UINT64_MAX : uint64_t(total) / 8, "tensor-bytes");
}

}  // namespace

std::unique_ptr<KvCache> KvCache::create(KvType type, const ModelConfig& c, int64_t ctx) {
  check_cache_limits(type, c, ctx);
  switch (type) {
    case KvType::f32: return std::make_unique<PlainKvCache<float>>(c, ctx);
    case KvType::f16: return std::make_unique<PlainKvCache<uint16_t>>(c, ctx);
    case KvType::q8: return std::make_unique<Q8KvCache>(c, ctx);
  }
  fail_argument("unknown KV cache type");
}

}  // namespace pareto::llm
