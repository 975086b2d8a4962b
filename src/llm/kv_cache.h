// The KV cache of a decoder: K and V rows of every layer and position in one
// element type, behind one interface so the forward pass never branches on
// the storage. f16 is the default (half the memory and bandwidth of f32); q8
// halves it again (int8 per head row with a float scale).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "llm/model.h"

namespace pareto::llm {

enum class KvType { f32, f16, q8 };
// Prompts of at least this many tokens take the tiled attention (when it
// makes a task for every thread and the f16 cache's widened rows stay
// small): each block of kQueryBlock tokens reads the positions it sees once.
inline constexpr int64_t kTiledAttentionTokens = 16;
inline constexpr int64_t kQueryBlock = 16;  // tokens per task (x the heads sharing a KV head)
// "f32" / "f16" / "q8" (also "int8"); throws on anything else.
KvType kv_type_by_name(const std::string& name);

class KvCache {
 public:
  // Checks the cache against the limits (context, tensor-bytes per layer and
  // 8x that for all layers) before allocating any of it.
  static std::unique_ptr<KvCache> create(KvType type, const ModelConfig& config, int64_t ctx);
  virtual ~KvCache() = default;

  virtual KvType type() const = 0;
  virtual size_t bytes() const = 0;
  // Stores the K and V rows (kv_dim floats each, RoPE applied) of `layer` at `pos`.
  virtual void store(int64_t layer, int64_t pos, const float* k, const float* v) = 0;
  // One query head against kv head `kv_head` of `layer` over positions
  // [0, n_pos): softmax(q . K / sqrt(head_dim)) . V into out[head_dim].
  // scratch holds n_pos floats.
  virtual void attend(int64_t layer, int64_t kv_head, const float* q, int64_t n_pos, float* scratch, float* out) const = 0;
  // Causal attention of n query tokens at positions first_pos.. (their K
  // and V already stored): q and out [n][n_heads * head_dim]; token t sees
  // positions [0, first_pos + t]. Runs across the thread pool. This one
  // takes attend() per token and head; the f32 / f16 caches override it for
  // prompts with a tiled version (see kv_cache.cpp).
  virtual void attend_batch(int64_t layer, const ModelConfig& c, const float* q, int64_t n, int64_t first_pos, float* out) const;
};

}  // namespace pareto::llm
