// Qwen2 differs from llama by NeoX-ordered RoPE and q/k/v biases. A qwen2
// model whose q/k rows are permuted so that rotating (i, i + d/2) pairs
// equals rotating adjacent pairs of the llama model must give the same
// logits; with non-zero biases the logits must move.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <unistd.h>

#include "frontend/gguf/gguf_writer.h"
#include "llm/model.h"
#include "llm/transformer.h"

using namespace pareto;

namespace {

constexpr int64_t kDim = 32, kHeads = 4, kKv = 2, kHd = 8, kFfn = 64, kVocab = 16;

struct Weights {
  std::vector<float> emb, q, k, v, o, gate, up, down, norm, out;
};

Weights random_weights() {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 0.3f);
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
  };
  Weights w;
  w.emb = fill(kVocab * kDim);
  w.q = fill(kDim * kDim);
  w.k = fill(kKv * kHd * kDim);
  w.v = fill(kKv * kHd * kDim);
  w.o = fill(kDim * kDim);
  w.gate = fill(kFfn * kDim);
  w.up = fill(kFfn * kDim);
  w.down = fill(kDim * kFfn);
  w.norm = std::vector<float>(kDim, 1.f);
  w.out = fill(kVocab * kDim);
  return w;
}

// Rows of a [heads * hd, dim] matrix reordered so row 2i -> i and 2i+1 -> i + hd/2 within each head.
std::vector<float> to_neox(const std::vector<float>& m, int64_t heads) {
  std::vector<float> r(m.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < kHd; ++j) {
      int64_t dst = j % 2 == 0 ? j / 2 : j / 2 + kHd / 2;
      std::copy_n(m.begin() + (h * kHd + j) * kDim, kDim, r.begin() + (h * kHd + dst) * kDim);
    }
  return r;
}

std::string write_model(const std::string& arch, const Weights& w, float bias) {
  gguf::Writer g;
  g.set_string("general.architecture", arch);
  g.set_u32(arch + ".embedding_length", kDim);
  g.set_u32(arch + ".block_count", 1);
  g.set_u32(arch + ".attention.head_count", kHeads);
  g.set_u32(arch + ".attention.head_count_kv", kKv);
  g.set_u32(arch + ".feed_forward_length", kFfn);
  g.set_u32(arch + ".context_length", 32);
  auto t = [&](const std::string& name, const std::vector<float>& v, int64_t rows, int64_t cols) {
    g.add_tensor(name, 0, rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows}, v.data(), v.size() * 4);
  };
  t("token_embd.weight", w.emb, kVocab, kDim);
  t("output_norm.weight", w.norm, 1, kDim);
  t("output.weight", w.out, kVocab, kDim);
  t("blk.0.attn_norm.weight", w.norm, 1, kDim);
  t("blk.0.attn_q.weight", w.q, kDim, kDim);
  t("blk.0.attn_k.weight", w.k, kKv * kHd, kDim);
  t("blk.0.attn_v.weight", w.v, kKv * kHd, kDim);
  t("blk.0.attn_output.weight", w.o, kDim, kDim);
  t("blk.0.ffn_norm.weight", w.norm, 1, kDim);
  t("blk.0.ffn_gate.weight", w.gate, kFfn, kDim);
  t("blk.0.ffn_up.weight", w.up, kFfn, kDim);
  t("blk.0.ffn_down.weight", w.down, kDim, kFfn);
  if (arch == "qwen2") {
    t("blk.0.attn_q.bias", std::vector<float>(kDim, 0.f), 1, kDim);
    t("blk.0.attn_k.bias", std::vector<float>(kKv * kHd, 0.f), 1, kKv * kHd);
    t("blk.0.attn_v.bias", std::vector<float>(kKv * kHd, bias), 1, kKv * kHd);
  }
  char path[] = "/tmp/pareto_qwen2_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  g.write(path);
  return path;
}

std::vector<float> logits_of(const std::string& path) {
  auto m = llm::Model::load(path);
  llm::Transformer tr(*m, 16);
  std::vector<int32_t> tokens = {1, 5, 9, 3, 14, 2};
  const float* l = tr.forward(tokens.data(), int64_t(tokens.size()), 0);
  std::remove(path.c_str());
  return std::vector<float>(l, l + kVocab);
}

}  // namespace

TEST(Qwen2, NeoxRopeMatchesPermutedLlama) {
  Weights w = random_weights();
  std::vector<float> llama = logits_of(write_model("llama", w, 0.f));
  Weights p = w;
  p.q = to_neox(w.q, kHeads);
  p.k = to_neox(w.k, kKv);
  std::vector<float> qwen = logits_of(write_model("qwen2", p, 0.f));
  for (int64_t i = 0; i < kVocab; ++i) EXPECT_NEAR(qwen[size_t(i)], llama[size_t(i)], 1e-4f) << i;
  // Without the permutation, the two orderings disagree.
  std::vector<float> unpermuted = logits_of(write_model("qwen2", w, 0.f));
  double diff = 0;
  for (int64_t i = 0; i < kVocab; ++i) diff = std::max(diff, double(std::abs(unpermuted[size_t(i)] - llama[size_t(i)])));
  EXPECT_GT(diff, 1e-3);
  // A v bias shifts every attention output: logits move.
  std::vector<float> biased = logits_of(write_model("qwen2", p, 0.5f));
  diff = 0;
  for (int64_t i = 0; i < kVocab; ++i) diff = std::max(diff, double(std::abs(biased[size_t(i)] - qwen[size_t(i)])));
  EXPECT_GT(diff, 1e-3);
}
