// pareto LLM API: load a GGUF or llama2.c model, tokenize, and generate text
// with a KV cache that persists across calls (for chat) until reset().
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"

namespace pareto {

struct LlmOptions {
  std::string tokenizer;  // llama2.c tokenizer .bin (checkpoints without a vocabulary)
  int64_t ctx = 0;        // KV cache positions; 0: the model's context, capped at 4096
  int threads = 1;
  std::string kv_type = "f16";  // KV cache element type: f16 (default), f32 or q8 (int8 + a scale per head row)
  bool repack = true;           // repack quantized weights for this CPU's kernels at load (one resident copy)
  Limits limits = current_limits();  // vocabulary, context and tensor sizes the file may ask for (pareto/limits.hpp)
};

struct GenerateOptions {
  int max_tokens = 128;
  float temperature = 0.8f;  // <= 0: greedy
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  uint64_t seed = 0;
  bool add_bos = true;  // only applies when the cache is empty
};

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  bool stopped_at_eos = false;
};

struct PerplexityStats {
  double ppl = 0, ppl_error = 0;
  int64_t chunks = 0, scored_tokens = 0, text_tokens = 0;
};

struct LlmInfo {
  std::string arch, path;
  std::string chat_format;  // recognized from the model's chat template: chatml, llama2, llama3 or raw
  int64_t dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0, ctx = 0, model_ctx = 0;
  size_t weight_bytes = 0, kv_cache_bytes = 0;
  std::string weight_type;  // the GGML type holding most of the weight bytes
  int64_t parameters = 0;
};

class LlmSession {
 public:
  static Result<std::unique_ptr<LlmSession>> open(const std::string& model_path, const LlmOptions& options = {});
  ~LlmSession();

  Result<std::vector<int32_t>> tokenize(const std::string& text, bool add_bos) const;
  std::string detokenize(const std::vector<int32_t>& tokens) const;
  // Appends `prompt` to the context and samples up to max_tokens tokens,
  // streaming complete UTF-8 text to on_text (return false to stop).
  Result<GenerateStats> generate(const std::string& prompt, const GenerateOptions& options,
                                 const std::function<bool(const std::string&)>& on_text);
  // llama.cpp's perplexity convention over `text` with chunks of n_ctx tokens
  // (uses and then resets the KV cache). progress(chunk, n_chunks, running ppl).
  Result<PerplexityStats> perplexity(const std::string& text, int64_t n_ctx,
                                     const std::function<void(int64_t, int64_t, double)>& progress = {});
  // Benchmark helper: resets, then runs n_tokens random tokens from position 0
  // in batches of `batch` (batch n = prefill, batch 1 = decode); returns seconds.
  Result<double> time_forward(int64_t n_tokens, int64_t batch);
  // Forgets the conversation (KV cache position back to 0).
  void reset();
  int64_t position() const;
  LlmInfo info() const;

 private:
  struct Impl;
  explicit LlmSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Formats one user turn for chat (`format`: chatml, llama2, llama3, raw).
Result<std::string> format_chat_turn(const std::string& format, const std::string& system, const std::string& user, bool first_turn);

// Median read bandwidth in GB/s over a buffer of `bytes`, with `threads` threads.
double measure_read_bandwidth(size_t bytes, int threads);
// f32 multiply-add rate (GMAC/s) of `threads` threads running a
// register-only probe at the same time, their work over one wall-clock
// window (0 without AVX-512): against one
// thread's, how many cores the threads really got (a VM's vCPUs may share
// one physical core at times).
double measure_f32_gmacs_together(int threads);
// Two threads handing a cache line back and forth: the round trip's median
// and largest time in ns over `rounds` (what a parallel region's start and
// end cost, and the longest stall).
struct HandoffProbe {
  double median_ns = 0, max_ns = 0;
  int rounds = 0;  // measured: fewer than asked where half a second ran out
};
HandoffProbe measure_thread_handoff(int rounds = 20000);

// Writes a random-weight model with real shapes (`pareto synth`).
struct SynthSpec {
  std::string arch = "llama";
  std::string preset = "tiny";  // micro | tiny | 0.5b | 1.1b (TinyLlama shapes)
  std::string type = "f16";     // f32 | f16 | q8_0 | q4_0 | q4_k
  uint64_t seed = 1;
  int threads = 1;
};
struct SynthResult {
  int64_t parameters = 0;
  uint64_t file_bytes = 0;
};
Result<SynthResult> synth_llm(const SynthSpec& spec, const std::string& path);

}  // namespace pareto
