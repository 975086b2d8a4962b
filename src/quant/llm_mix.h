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
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include "llm/kv_cache.h"
#include "llm/model.h"
#include "quant/spill_store.h"

namespace pareto::quant {

struct GptqFactor;

struct MixTensor {
  std::string name;  // GGUF tensor name, e.g. blk.3.ffn_down.weight
  int64_t layer = -1;  // -1: token_embd / output
  std::string kind;    // attn_q ... ffn_down, token_embd, output
  int64_t rows = 0, cols = 0;
  uint32_t source_type = 0;
};

// types[i] is the choice for tensors()[i]: a type, rounded to nearest, or
// a type with kGptqMethod set: the same bytes rounded by GPTQ on the lab's
// calibration activations (layer matrices only: the embedding and output
// have no collected input).
//
// Or with kAwqMethod set: AWQ's scales and clipping (awq_block) for the
// type, chosen per layer block: every matrix of one attention block (q, k,
// v, o) or MLP block (gate, up, down) must take the same AWQ choice, since
// the block's scales fold into its norm and into v's (up's) rows.
using Mix = std::vector<uint32_t>;
inline constexpr uint32_t kGptqMethod = 1u << 24;
inline constexpr uint32_t kAwqMethod = 1u << 25;
inline constexpr uint32_t kMethods = kGptqMethod | kAwqMethod;
inline uint32_t type_of(uint32_t choice) { return choice & ~kMethods; }
inline bool is_gptq(uint32_t choice) { return (choice & kGptqMethod) != 0; }
inline bool is_awq(uint32_t choice) { return (choice & kAwqMethod) != 0; }
// The types AWQ rounds to: every quantized type (not f32, f16, bf16).
bool awq_writes(uint32_t type);
// Whether tensor t belongs to an attention block (q, k, v, o) or an MLP block (gate, up, down).
bool in_attention_block(const MixTensor& t);

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
  // chunks of `ctx` tokens (at most max_chunks, 0: all) once. Built
  // matrices are kept in memory up to `memory_bytes`, the least recently
  // used past that in a temporary file (SpillStore).
  MixLab(const std::string& base_gguf, const std::string& text, int64_t ctx, int64_t max_chunks, uint64_t memory_bytes = kDefaultMemoryBytes);
  // Another text on `other`'s base model (shared, not loaded again): the
  // held-out text's lab, which measures models (quality(model)) and builds none.
  MixLab(const MixLab& other, const std::string& text, int64_t ctx, int64_t max_chunks);
  static constexpr uint64_t kDefaultMemoryBytes = uint64_t(2) << 30;
  ~MixLab();

  const std::vector<MixTensor>& tensors() const { return tensors_; }
  const llm::Model& base() const { return *base_; }
  double ppl_base() const { return ppl_base_; }
  int64_t scored_tokens() const { return scored_; }

  // Collects every layer matrix's input over calibration tokens (text, or
  // the base model's own sampled text when empty) so GPTQ choices can be
  // built. Returns where the tokens came from.
  std::string calibrate(const std::string& text, int64_t tokens);
  bool calibrated() const { return !acts_.empty(); }
  // Whether `choice` can be built for tensor i (a GPTQ or AWQ one needs a
  // layer matrix, the calibration and a type the method writes).
  bool allows(size_t i, uint32_t choice) const;
  // GPTQ choices whose Cholesky failed at every damping (rounded to nearest), named.
  const std::vector<std::string>& notes() const { return notes_; }
  bool gptq_fell_back(size_t i, uint32_t choice) const { return fell_back_.count({i, stored_type(i, choice)}) > 0; }
  // GPTQ factors (gptq.h) computed so far: one per (layer, matmul input)
  // while the kept ones fit kMaxFactorBytes, however many tensors and formats use it.
  int gptq_factors_computed() const { return factors_computed_; }

  // The type tensor i is stored as when asked for `type` (a tail group when
  // its rows are not whole blocks), as quantize_gguf writes it; a method flag is dropped.
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
  // The norm (and v's bias) of layer `layer`'s attention or MLP block after
  // AWQ for `type`, as a built model and a written file carry them.
  struct AwqFold {
    std::shared_ptr<const std::vector<float>> norm, v_bias;  // v_bias null: no bias
  };
  AwqFold awq_fold(int64_t layer, bool attention, uint32_t type);
  // The bytes of tensor i as `choice` (stored type), built once and shared.
  std::shared_ptr<const std::string> matrix_bytes(size_t i, uint32_t choice);
  const SpillStore& store() const { return store_; }
  MixQuality quality(const Mix& mix);
  // Any model of the same shape (an anchor file made elsewhere; prepare() it
  // first), run with a KV cache of type `kv` (the base ran with f16).
  MixQuality quality(const llm::Model& model, llm::KvType kv = llm::KvType::f16);
  // The time of tensor i's part of one decoded token in `choice` on this
  // CPU (the current thread pool): the median of `reps` one-token matmuls
  // on the repacked matrix; 0 for an untied embedding (decode reads one row).
  // The cost model of the search: a mix's decode time is about a constant
  // plus the sum over its tensors.
  double matvec_ms(size_t i, uint32_t choice, int reps);
  // Times `model` (prepared: build() makes them so): a prompt of `prompt`
  // tokens, then `decode` tokens one at a time, `runs` times.
  static MixSpeed time(llm::Model& model, int threads, int prompt, int decode, int runs, llm::KvType kv = llm::KvType::f16);

 private:
  // The (tensor, choice) buffer, quantized on first use.
  std::shared_ptr<const std::string> buffer(size_t i, uint32_t choice);
  uint32_t store_key(size_t i, uint32_t choice) const;
  std::string quantize(size_t i, uint32_t choice);
  // AWQ of one block for `type`: its members' bytes into the store (all but
  // `skip`, whose bytes are returned) and its fold into awq_folds_.
  std::string awq_block_bytes(int64_t layer, bool attention, uint32_t type, size_t skip);
  void set_awq_folds(llm::Model& m, const Mix& mix);
  // Tokenizes the text and runs the base model over it (both constructors).
  void measure_base(const std::string& text, int64_t max_chunks);
  // The GPTQ factor of layer `layer`'s matmul input `which`, computed on
  // first use and kept, the least recently used dropped first past
  // kMaxFactorBytes (1.1B's down projection alone holds 254 MB).
  std::shared_ptr<const GptqFactor> gptq_factor_of(int64_t layer, int which, int64_t cols);
  struct KeptFactor {
    int64_t layer;
    int which;
    std::shared_ptr<const GptqFactor> factor;
    uint64_t last_use;
  };
  std::vector<KeptFactor> factors_;
  uint64_t factor_clock_ = 0;
  int factors_computed_ = 0;
  static constexpr size_t kMaxFactorBytes = size_t(1) << 30;

  std::shared_ptr<llm::Model> base_;      // as loaded: the source of every quantization
  std::shared_ptr<llm::Model> prepared_;  // a copy repacked for the CPU: the reference, and every candidate's start
  std::vector<MixTensor> tensors_;
  std::vector<std::vector<kernels::WeightMatrix*>> slots_of_base_;
  SpillStore store_;  // keyed by (tensor, stored type with the method flag)
  std::vector<int32_t> tokens_;
  int64_t ctx_ = 0, chunks_ = 0, scored_ = 0, numel_ = 0;
  std::vector<std::vector<std::vector<float>>> acts_;  // [layer][llm::MatmulInput]: calibration rows
  int64_t calib_ctx_ = 0;                               // their sequence length (AWQ's attention block output)
  std::map<std::tuple<int64_t, bool, uint32_t>, AwqFold> awq_folds_;  // (layer, attention, type)
  std::vector<std::string> notes_;
  std::set<std::pair<size_t, uint32_t>> fell_back_;  // (tensor, stored type) GPTQ could not round
  // Calibration activations kept at most (every layer's four matmul inputs
  // over every calibration token): more is refused (fewer tokens).
  static constexpr double kMaxCalibrationBytes = double(size_t(8) << 30);
  std::vector<float> base_logp_;  // [chunks][scored rows][vocab]
  std::vector<int32_t> base_argmax_;
  double ppl_base_ = 0;
  int32_t bos_ = 1;
  bool measures_only_ = false;  // the second constructor's: quality(model) only
};

// Parses a comma-separated list of type names (pareto quantize's names).
std::vector<uint32_t> parse_type_list(const std::string& list);
// A choice's name: the type's ("q4_0"), "+gptq" after it for a GPTQ one.
std::string type_name(uint32_t choice);
uint32_t choice_by_name(const std::string& name);

}  // namespace pareto::quant
