// Mixed-precision candidates of a GGUF LLM, built and measured in memory
// (pareto tune): a "mix" gives every weight matrix its own type. The lab
// quantizes each (matrix, type) pair once from the base file, assembles a
// model whose matrices point at those buffers, and measures it: quality on
// held-out text against the base model's logits (computed once), bytes, and
// decode / prefill time. What it measures is what `quantize_gguf` with the
// same per-tensor types writes (same storage-type rule, same rounding).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "llm/model.h"

namespace pareto::quant {

struct MixTensor {
  std::string name;  // GGUF tensor name, e.g. blk.3.ffn_down.weight
  int64_t layer = -1;  // -1: token_embd / output
  std::string kind;    // attn_q ... ffn_down, token_embd, output
  int64_t rows = 0, cols = 0;
  uint32_t source_type = 0;
};

// types[i] is the type of tensors()[i].
using Mix = std::vector<uint32_t>;

struct MixQuality {
  double kl = 0;        // mean KL(base || candidate) in nats per scored token
  double ppl = 0;       // candidate perplexity on the evaluation text
  double top1 = 0;      // share of scored tokens whose argmax agrees with the base
};

struct MixSpeed {
  double decode_ms = 0;   // median time of one decoded token
  double prefill_ms = 0;  // median time of the prompt, whole
};

// The base model's log-probabilities over the scored tokens are kept for
// every comparison; more than this is refused (fewer chunks, shorter text).
constexpr size_t kMaxBaseLogitBytes = size_t(4) << 30;

class MixLab {
 public:
  // Reads the base GGUF, tokenizes `text` and runs the base model over its
  // chunks of `ctx` tokens (at most max_chunks, 0: all) once.
  MixLab(const std::string& base_gguf, const std::string& text, int64_t ctx, int64_t max_chunks);
  ~MixLab();

  const std::vector<MixTensor>& tensors() const { return tensors_; }
  const llm::Model& base() const { return *base_; }
  double ppl_base() const { return ppl_base_; }
  int64_t scored_tokens() const { return scored_; }

  // The type tensor i is stored as when asked for `type` (a tail group when
  // its rows are not whole blocks), as quantize_gguf writes it.
  uint32_t stored_type(size_t i, uint32_t type) const;
  uint64_t bytes(size_t i, uint32_t type) const;
  uint64_t bytes(const Mix& mix) const;
  // Bits per weight over the weight matrices (the tied output counted once).
  double bpw(const Mix& mix) const;
  // The bytes of any model's weight matrices as stored in its file (the tied output once).
  static uint64_t matrix_bytes(const llm::Model& model);
  Mix uniform(uint32_t type) const { return Mix(tensors_.size(), type); }
  Mix source_mix() const;

  // A model with the mix's matrices (quantized once per (tensor, type) and
  // shared between candidates; the base's other weights are shared too),
  // prepared as pareto runs models.
  std::unique_ptr<llm::Model> build(const Mix& mix);
  // Repacks a model's weights for this CPU's kernels, as generate and run
  // do, without releasing the buffers it copies from (other candidates
  // share them): a batch of evaluation tokens then runs on the packed
  // kernels instead of a row-dot per token, and quality is measured on what
  // a user runs. Call it on anchors before quality().
  static void prepare(llm::Model& model);
  MixQuality quality(const Mix& mix);
  // Any model of the same shape (an anchor file made elsewhere; prepare() it first).
  MixQuality quality(const llm::Model& model);
  // Times `model` (prepared: build() makes them so): a prompt of `prompt`
  // tokens, then `decode` tokens one at a time, `runs` times.
  static MixSpeed time(llm::Model& model, int threads, int prompt, int decode, int runs);

 private:
  std::unique_ptr<llm::Model> base_;      // as loaded: the source of every quantization
  std::unique_ptr<llm::Model> prepared_;  // a copy repacked for the CPU: the reference, and every candidate's start
  std::vector<MixTensor> tensors_;
  std::vector<std::vector<kernels::WeightMatrix*>> slots_of_base_;
  std::map<std::pair<size_t, uint32_t>, std::shared_ptr<std::string>> cache_;
  std::vector<int32_t> tokens_;
  int64_t ctx_ = 0, chunks_ = 0, scored_ = 0, numel_ = 0;
  std::vector<float> base_logp_;  // [chunks][scored rows][vocab]
  std::vector<int32_t> base_argmax_;
  double ppl_base_ = 0;
  int32_t bos_ = 1;
};

// Parses a comma-separated list of type names (pareto quantize's names).
std::vector<uint32_t> parse_type_list(const std::string& list);
std::string type_name(uint32_t type);

}  // namespace pareto::quant
