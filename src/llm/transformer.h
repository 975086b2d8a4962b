// The decoder forward pass with a KV cache. A batch of tokens at consecutive
// positions runs as matrix-matrix products (prefill); one token is decode.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llm/kv_cache.h"
#include "llm/model.h"

namespace pareto::llm {

// The inputs of a layer's matmuls, for calibration: attn feeds wq/wk/wv,
// attn_out feeds wo, ffn feeds w_gate/w_up, down feeds w_down.
enum class MatmulInput { attn, attn_out, ffn, down };

class Transformer {
 public:
  // ctx: KV cache length in positions (0: the model's context length).
  Transformer(const Model& model, int64_t ctx, KvType kv = KvType::f16);

  // Runs `n` tokens at positions [pos, pos + n). Returns the logits of the
  // last token, or of every token (n x vocab) when all_logits is set.
  const float* forward(const int32_t* tokens, int64_t n, int64_t pos, bool all_logits = false);

  // Called after each layer with the residual stream [n, dim] (quality
  // reports compare layers of two models); empty by default.
  std::function<void(int64_t layer, const float* x, int64_t n, int64_t dim)> layer_hook;
  // Called with the activations [n, cols] each group of matmuls reads.
  std::function<void(int64_t layer, MatmulInput which, const float* x, int64_t n, int64_t cols)> input_hook;

  // Profiling (pareto profile): when set, each stage of forward is timed and
  // reported with what it read: `weight` for the matmuls, the embedding
  // lookup and the norms, null otherwise. Stages: embed, attn_norm, wq, wk,
  // wv, rope_kv, attention, wo, residual, ffn_norm, w_gate, w_up, silu_mul,
  // w_down, residual_ffn, output_norm, output (layer -1 outside layers).
  struct StageEvent {
    const char* stage = "";
    int64_t layer = -1;
    double seconds = 0;
    const kernels::WeightMatrix* weight = nullptr;
    int64_t tokens = 0;  // rows processed (the output stage: logits rows)
    int64_t pos = 0;     // position of the first token
  };
  std::function<void(const StageEvent&)> stage_hook;

  int64_t ctx() const { return ctx_; }
  const Model& model() const { return model_; }
  size_t kv_cache_bytes() const { return kv_->bytes(); }
  KvType kv_type() const { return kv_->type(); }

 private:
  void reserve(int64_t n, bool all_logits);
  template <class F> void stage(const char* name, int64_t layer, const kernels::WeightMatrix* w, int64_t tokens, int64_t pos, F&& run);
  const Model& model_;
  int64_t ctx_;
  std::unique_ptr<KvCache> kv_;
  std::vector<float> x_, xb_, q_, k_, v_, att_, gate_, up_, logits_;
};

}  // namespace pareto::llm
