#include "llm/kv_cache.h"

#include <cstring>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/llm_ops.h"
#include "pareto/limits.hpp"

namespace pareto::llm {

KvType kv_type_by_name(const std::string& name) {
  if (name == "f32") return KvType::f32;
  if (name == "f16") return KvType::f16;
  if (name == "q8" || name == "int8") return KvType::q8;
  fail_argument("KV cache type must be f16, f32 or q8, not '" + name + "'");
}

namespace {

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
