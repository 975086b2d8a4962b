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
  // ctx: KV cache length in positions (0: the model's context length) of
  // each of `slots` independent sequences (a server's parallel requests).
  Transformer(const Model& model, int64_t ctx, KvType kv = KvType::f16, int slots = 1);

  // Runs `n` tokens of slot 0 at positions [pos, pos + n). Returns the
  // logits of the last token, or of every token (n x vocab) when all_logits is set.
  const float* forward(const int32_t* tokens, int64_t n, int64_t pos, bool all_logits = false);

  // One row of a batch that may mix sequences: a token of `slot` at `pos`.
  // The rows of one slot come in order at consecutive positions; `logits`
  // asks for this row's logits.
  struct Row {
    int32_t token = 0;
    int32_t slot = 0;
    int64_t pos = 0;
    bool logits = false;
  };
  // Runs the rows as one batch: every weight matrix is read once for all of
  // them (batched decode of several sequences), attention runs per slot.
  // Returns the logits of the rows that asked for them, in row order.
  const float* forward_rows(const Row* rows, int64_t n);

  // Layers [first, end) alone, for one sequence: x [n, dim] is the residual
  // stream entering layer `first` for the tokens at positions pos ..
  // pos + n - 1 (slot 0); returns it leaving layer end - 1 (valid until
  // the next call). The values forward() computes there, bit for bit: GPTQ's
  // calibration runs the model a layer at a time this way, keeping one
  // layer's activations instead of every layer's.
  const float* forward_layers(const float* x, int64_t n, int64_t pos, int64_t first, int64_t end);
  // The token embeddings [n, dim] forward() starts from.
  void embed(const int32_t* tokens, int64_t n, float* x) const;

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
  int slots() const { return int(kv_.size()); }
  size_t kv_cache_bytes() const { return kv_[0]->bytes() * kv_.size(); }
  KvType kv_type() const { return kv_[0]->type(); }

 private:
  void reserve(int64_t n, int64_t logit_rows);
  void check_rows(const Row* rows, int64_t n) const;
  void attention(const Row* rows, int64_t n, int64_t layer);
  void run_layer(int64_t l, const Row* rows, int64_t n, int64_t pos);
  void norm_rows(const char* name, int64_t l, const kernels::WeightMatrix& norm, int64_t n, int64_t pos);
  template <class F> void stage(const char* name, int64_t layer, const kernels::WeightMatrix* w, int64_t tokens, int64_t pos, F&& run);
  const Model& model_;
  int64_t ctx_;
  std::vector<std::unique_ptr<KvCache>> kv_;  // one per slot
  std::vector<Row> rows_;
  std::vector<int64_t> short_rows_;  // attention(): rows of short runs
  std::vector<float> x_, xb_, q_, k_, v_, att_, gate_, up_, logits_;
};

}  // namespace pareto::llm
