#include "llm/synth.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "frontend/gguf/gguf_writer.h"
#include "kernels/quant_formats.h"
#include "llm/export_gguf.h"

namespace pareto::llm {

namespace {

struct Shape {
  int64_t dim, layers, heads, kv_heads, ffn, vocab, ctx;
};

Shape preset_shape(const std::string& p) {
  if (p == "micro") return {32, 1, 2, 1, 64, 300, 64};  // fuzz seeds: every structure, a few KiB of weights
  if (p == "tiny") return {256, 2, 8, 4, 768, 512, 256};
  if (p == "0.5b") return {1536, 16, 16, 4, 4096, 32000, 2048};
  if (p == "1.1b") return {2048, 22, 32, 4, 5632, 32000, 2048};  // TinyLlama
  fail_argument("unknown preset '" + p + "' (micro, tiny, 0.5b, 1.1b)");
}

uint32_t type_of(const std::string& t) {
  if (t == "f32") return uint32_t(kernels::GgmlType::f32);
  if (t == "f16") return uint32_t(kernels::GgmlType::f16);
  if (t == "q8_0") return uint32_t(kernels::GgmlType::q8_0);
  if (t == "q4_0") return uint32_t(kernels::GgmlType::q4_0);
  if (t == "q4_k") return uint32_t(kernels::GgmlType::q4_k);
  fail_argument("unknown type '" + t + "' (f32, f16, q8_0, q4_0, q4_k)");
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Approximately N(0, sigma) (Irwin-Hall of 4 uniforms), deterministic per (seed, tensor, row).
void fill_row(float* out, int64_t n, float sigma, float mean, uint64_t seed) {
  uint64_t s = seed;
  for (int64_t i = 0; i < n; ++i) {
    uint64_t r = splitmix(s);
    float u = float(r & 0xffff) + float((r >> 16) & 0xffff) + float((r >> 32) & 0xffff) + float(r >> 48);
    out[i] = mean + sigma * (u / 65535.f - 2.f) * 1.7320508f;  // variance of the sum of 4 U(0,1) is 1/3
  }
}

// Synthetic SentencePiece vocabulary: specials, the 256 byte tokens, then pieces.
void add_vocab(gguf::Writer& w, int64_t vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  char buf[16];
  for (int b = 0; b < 256 && int64_t(tokens.size()) < vocab; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
    scores.push_back(0);
    types.push_back(6);
  }
  const std::string space = "\xe2\x96\x81";
  for (char c = 'a'; c <= 'z' && int64_t(tokens.size()) < vocab; ++c) {
    tokens.push_back(space + c);
    scores.push_back(-float(tokens.size()));
    types.push_back(1);
  }
  while (int64_t(tokens.size()) < vocab) {
    std::snprintf(buf, sizeof buf, "%stok%zu", space.c_str(), tokens.size());
    tokens.push_back(buf);
    scores.push_back(-float(tokens.size()));
    types.push_back(1);
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
}

}  // namespace

SynthReport synth_model(const SynthOptions& o, const std::string& path) {
  if (o.arch != "llama") fail_unsupported("synth builds the llama architecture only, not '" + o.arch + "'");
  Shape s = preset_shape(o.preset);
  uint32_t wtype = type_of(o.type);
  const kernels::GgmlTypeTraits& tr = kernels::ggml_type_traits(wtype);
  if (s.dim % tr.block_size || s.ffn % tr.block_size)
    fail_argument("preset " + o.preset + " rows are not a multiple of the " + tr.name + " block size");
  int64_t hd = s.dim / s.heads, kv = s.kv_heads * hd;
  gguf::Writer w;
  ModelConfig mc;
  mc.dim = s.dim;
  mc.n_layers = s.layers;
  mc.n_heads = s.heads;
  mc.n_kv_heads = s.kv_heads;
  mc.head_dim = hd;
  mc.ffn_dim = s.ffn;
  mc.vocab = s.vocab;
  mc.ctx_len = s.ctx;
  write_llama_metadata(w, mc, "pareto-synth-" + o.preset + "-" + o.type, llama_file_type(wtype));
  add_vocab(w, s.vocab);
  SynthReport report;
  uint64_t tensor_id = 0;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, uint32_t type, float sigma, float mean) {
    uint64_t seed = o.seed * 0x100000001b3ull + (++tensor_id) * 0x9e3779b97f4a7c15ull;
    report.parameters += rows * cols;
    w.add_tensor_generated(name, type, rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows}, [=] {
      size_t row_bytes = kernels::ggml_row_size(type, cols);
      std::string bytes(row_bytes * size_t(rows), '\0');
      parallel_for(rows, [&](int64_t r0, int64_t r1) {
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = r0; r < r1; ++r) {
          fill_row(row.data(), cols, sigma, mean, seed + uint64_t(r) * 0x632be59bd9b4e019ull);
          kernels::quantize_row_ref(type, row.data(), bytes.data() + size_t(r) * row_bytes, cols);
        }
      });
      return bytes;
    });
  };
  const uint32_t f32 = uint32_t(kernels::GgmlType::f32);
  matrix("token_embd.weight", s.vocab, s.dim, wtype, 0.02f, 0.f);
  for (int64_t l = 0; l < s.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    matrix(p + "attn_norm.weight", 1, s.dim, f32, 0.02f, 1.f);
    matrix(p + "attn_q.weight", s.dim, s.dim, wtype, 0.02f, 0.f);
    matrix(p + "attn_k.weight", kv, s.dim, wtype, 0.02f, 0.f);
    matrix(p + "attn_v.weight", kv, s.dim, wtype, 0.02f, 0.f);
    matrix(p + "attn_output.weight", s.dim, s.dim, wtype, 0.02f, 0.f);
    matrix(p + "ffn_norm.weight", 1, s.dim, f32, 0.02f, 1.f);
    matrix(p + "ffn_gate.weight", s.ffn, s.dim, wtype, 0.02f, 0.f);
    matrix(p + "ffn_up.weight", s.ffn, s.dim, wtype, 0.02f, 0.f);
    matrix(p + "ffn_down.weight", s.dim, s.ffn, wtype, 0.02f, 0.f);
  }
  matrix("output_norm.weight", 1, s.dim, f32, 0.02f, 1.f);
  matrix("output.weight", s.vocab, s.dim, wtype, 0.02f, 0.f);
  w.write(path);
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fseek(f, 0, SEEK_END);
    report.file_bytes = uint64_t(std::ftell(f));
    std::fclose(f);
  }
  return report;
}

}  // namespace pareto::llm
