// llama2.c checkpoints (legacy header: seven int32, then float32 weights) and
// their tokenizer .bin files. Weights are views into the mapped file.
#include <cstring>

#include "core/checked.h"
#include "core/error.h"
#include "pareto/limits.hpp"
#include "core/file.h"
#include "kernels/quant_formats.h"
#include "llm/model.h"

namespace pareto::llm {

namespace {

constexpr int64_t kMaxDim = 1 << 20;

kernels::WeightMatrix f32_matrix(const float* p, int64_t rows, int64_t cols) {
  return kernels::WeightMatrix{uint32_t(kernels::GgmlType::f32), p, rows, cols};
}

}  // namespace

std::unique_ptr<Model> load_llama2c_model(const std::string& path, const std::string& tokenizer_path) {
  auto file = MappedFile::open(path);
  if (file->size() < 28) fail_model(path + ": too small for a llama2.c header (" + std::to_string(file->size()) + " bytes)");
  int32_t h[7];
  std::memcpy(h, file->data(), 28);
  if (std::memcmp(file->data(), "ak42", 4) == 0)
    fail_unsupported(path + ": llama2.c export version 1/2 files (magic ak42) are not supported; use the legacy format");
  auto m = std::make_unique<Model>();
  ModelConfig& c = m->config;
  c.dim = h[0];
  c.ffn_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  bool shared = h[5] > 0;
  c.vocab = h[5] < 0 ? -int64_t(h[5]) : h[5];
  check_limit(path + ": the vocabulary (vocab_size)", uint64_t(c.vocab), "vocab-size");
  c.ctx_len = h[6];
  const char* names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  int64_t vals[] = {c.dim, c.ffn_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab, c.ctx_len};
  for (int i = 0; i < 7; ++i)
    if (vals[i] <= 0 || vals[i] > kMaxDim) fail_model(path + ": header field " + names[i] + " = " + std::to_string(vals[i]) + " is out of range");
  if (c.dim % c.n_heads || c.n_heads % c.n_kv_heads)
    fail_model(path + ": dim " + std::to_string(c.dim) + ", n_heads " + std::to_string(c.n_heads) + " and n_kv_heads " +
               std::to_string(c.n_kv_heads) + " are inconsistent");
  c.head_dim = c.dim / c.n_heads;
  c.rope_dims = c.head_dim;
  c.arch = "llama";
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  const uint64_t KV = uint64_t(kv_dim), L = uint64_t(c.n_layers), D = uint64_t(c.dim), F = uint64_t(c.ffn_dim), V = uint64_t(c.vocab);
  // Element counts of each section, in file order, and their total in
  // bytes: every product and sum checked (each header field passes its own
  // bound, yet the total of a hostile header can wrap around 2^64 and then
  // pass the size check below).
  const std::optional<uint64_t> sections[] = {
      checked_product({V, D}),    checked_product({L, D}),    checked_product({L, D, D}), checked_product({L, D, KV}),
      checked_product({L, D, KV}), checked_product({L, D, D}), checked_product({L, D}), checked_product({L, D, F}),
      checked_product({L, F, D}), checked_product({L, D, F}), checked_product({D}),
      checked_product({uint64_t(c.ctx_len), uint64_t(c.head_dim)}), shared ? std::optional<uint64_t>(0) : checked_product({V, D})};
  int64_t counts[std::size(sections)];
  std::optional<uint64_t> need = 28;
  for (size_t i = 0; i < std::size(sections); ++i) {
    const std::optional<uint64_t> bytes = sections[i] ? checked_mul(*sections[i], 4) : std::nullopt;
    need = need && bytes ? checked_add(*need, *bytes) : std::nullopt;
    if (!need) fail_model(path + ": the header's shapes need more than 2^64 bytes (section " + std::to_string(i) + ")");
    counts[i] = int64_t(*sections[i]);
  }
  if (file->size() < *need)
    fail_model(path + ": file has " + std::to_string(file->size()) + " bytes, the header's shapes need " + std::to_string(*need));
  const float* p = reinterpret_cast<const float*>(file->data() + 28);
  auto take = [&](int64_t n) {
    const float* q = p;
    p += n;
    return q;
  };
  const float* emb = take(counts[0]);
  const float* rms_att = take(counts[1]);
  const float* wq = take(counts[2]);
  const float* wk = take(counts[3]);
  const float* wv = take(counts[4]);
  const float* wo = take(counts[5]);
  const float* rms_ffn = take(counts[6]);
  const float* w1 = take(counts[7]);
  const float* w2 = take(counts[8]);
  const float* w3 = take(counts[9]);
  const float* rms_final = take(counts[10]);
  take(counts[11]);  // freq_cis_real and freq_cis_imag: RoPE is computed instead
  const float* wcls = shared ? emb : take(counts[12]);
  m->token_embd = f32_matrix(emb, c.vocab, c.dim);
  m->output_norm = f32_matrix(rms_final, 1, c.dim);
  m->output = f32_matrix(wcls, c.vocab, c.dim);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights lw;
    lw.attn_norm = f32_matrix(rms_att + l * c.dim, 1, c.dim);
    lw.wq = f32_matrix(wq + l * c.dim * c.dim, c.dim, c.dim);
    lw.wk = f32_matrix(wk + l * c.dim * kv_dim, kv_dim, c.dim);
    lw.wv = f32_matrix(wv + l * c.dim * kv_dim, kv_dim, c.dim);
    lw.wo = f32_matrix(wo + l * c.dim * c.dim, c.dim, c.dim);
    lw.ffn_norm = f32_matrix(rms_ffn + l * c.dim, 1, c.dim);
    lw.w_gate = f32_matrix(w1 + l * c.dim * c.ffn_dim, c.ffn_dim, c.dim);
    lw.w_down = f32_matrix(w2 + l * c.ffn_dim * c.dim, c.dim, c.ffn_dim);
    lw.w_up = f32_matrix(w3 + l * c.dim * c.ffn_dim, c.ffn_dim, c.dim);
    m->layers.push_back(lw);
  }
  m->weight_bytes = size_t(*need - 28);
  m->path = path;
  m->owners.push_back(file);
  m->vocab.space = " ";
  if (!tokenizer_path.empty()) load_llama2c_tokenizer(tokenizer_path, c.vocab, m->vocab);
  return m;
}

void load_llama2c_tokenizer(const std::string& path, int64_t vocab_size, Vocab& vocab) {
  auto file = MappedFile::open(path);
  const uint8_t* p = file->data();
  size_t size = file->size(), at = 0;
  auto need = [&](size_t n, const std::string& what) {
    if (size - at < n) fail_model(path + ": offset " + std::to_string(at) + ": truncated while reading " + what);
  };
  need(4, "max_token_length");
  at += 4;
  vocab.pieces.clear();
  vocab.scores.clear();
  for (int64_t i = 0; i < vocab_size; ++i) {
    need(8, "token " + std::to_string(i));
    float score;
    int32_t len;
    std::memcpy(&score, p + at, 4);
    std::memcpy(&len, p + at + 4, 4);
    at += 8;
    if (len < 0 || size_t(len) > size - at)
      fail_model(path + ": offset " + std::to_string(at) + ": token " + std::to_string(i) + " length " + std::to_string(len) + " runs past the end");
    vocab.pieces.emplace_back(reinterpret_cast<const char*>(p + at), size_t(len));
    vocab.scores.push_back(score);
    at += size_t(len);
  }
  vocab.kind = Vocab::Kind::spm;
  vocab.space = " ";
  vocab.bos = 1;
  vocab.eos = 2;
  vocab.unk = 0;
}

}  // namespace pareto::llm
