// A decoder-only transformer as loaded from GGUF or a llama2.c checkpoint:
// hyper-parameters, weights (views into the mapped file, any GGML type) and
// the tokenizer vocabulary.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/matmul_q.h"

namespace pareto::llm {

struct ModelConfig {
  std::string arch = "llama";
  int64_t dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0, ffn_dim = 0, vocab = 0, ctx_len = 0;
  int64_t rope_dims = 0;
  float rope_base = 10000.f;
  bool rope_neox = false;
  float rms_eps = 1e-5f;
};

struct LayerWeights {
  kernels::WeightMatrix attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
  const float* bq = nullptr;  // qwen2 q/k/v biases
  const float* bk = nullptr;
  const float* bv = nullptr;
};

struct Vocab {
  enum class Kind { spm, bpe } kind = Kind::spm;
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;            // GGUF token types (1 normal, 3 control, 6 byte ...), may be empty
  std::vector<std::string> merges;       // BPE
  std::string space = " ";               // what a space looks like in pieces: " " (llama2.c) or "\xe2\x96\x81" (GGUF SPM)
  bool add_space_prefix = true;
  int32_t bos = 1, eos = 2, unk = 0;
  bool add_bos = true;
  std::string chat_template;
  std::string pre;                       // BPE pre-tokenizer name
};

struct Model {
  ModelConfig config;
  kernels::WeightMatrix token_embd, output_norm, output;
  std::vector<LayerWeights> layers;
  Vocab vocab;
  std::string path;
  std::vector<std::shared_ptr<const void>> owners;  // mapped files / buffers the views point into
  size_t weight_bytes = 0;

  static std::unique_ptr<Model> load(const std::string& path, const std::string& tokenizer_path = "");
};

std::unique_ptr<Model> load_gguf_model(const std::string& path);
// Reads only the tokenizer of a GGUF file (vocabulary-only files included).
Vocab load_gguf_vocab_file(const std::string& path);
std::unique_ptr<Model> load_llama2c_model(const std::string& path, const std::string& tokenizer_path);
// Reads a llama2.c tokenizer .bin into vocab (pieces, scores).
void load_llama2c_tokenizer(const std::string& path, int64_t vocab_size, Vocab& vocab);

}  // namespace pareto::llm
