// Broken llama2.c checkpoints and tokenizer files fail with clear errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"
#include "llm/model.h"

using namespace pareto;

namespace {

std::string write_temp(const std::string& bytes) {
  char path[] = "/tmp/pareto_l2c_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

std::string header(std::vector<int32_t> h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size() * 4);
}

std::string error_of(const std::string& bytes, const std::string& tok = "") {
  std::string path = write_temp(bytes);
  std::string msg;
  try {
    llm::load_llama2c_model(path, tok);
  } catch (const Error& e) {
    msg = e.what();
  }
  std::remove(path.c_str());
  return msg;
}

// A valid tiny checkpoint: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 4, seq 4.
std::string tiny_model() {
  int64_t dim = 8, hid = 16, kv = 4, vocab = 4, seq = 4, hs = 4;
  int64_t n = vocab * dim + dim + dim * dim + 2 * dim * kv + dim * dim + dim + 3 * dim * hid + dim + seq * hs;
  std::string b = header({8, 16, 1, 2, 1, 4, 4});
  b.append(size_t(n) * 4, '\0');
  return b;
}

}  // namespace

TEST(Llama2cMalformed, ValidTinyModelLoads) {
  std::string path = write_temp(tiny_model());
  auto m = llm::load_llama2c_model(path, "");
  EXPECT_EQ(m->config.dim, 8);
  EXPECT_EQ(m->config.n_kv_heads, 1);
  std::remove(path.c_str());
}

TEST(Llama2cMalformed, SeparateClassifierIsUsed) {
  // A negative vocab size means the classifier weights follow the RoPE tables.
  std::string b = tiny_model();
  int32_t neg = -4;
  std::memcpy(b.data() + 20, &neg, 4);
  std::string with_cls = b + std::string(4 * 8 * 4, '\0');
  std::string path = write_temp(with_cls);
  auto m = llm::load_llama2c_model(path, "");
  EXPECT_EQ(m->config.vocab, 4);
  EXPECT_NE(m->output.data, m->token_embd.data);
  std::remove(path.c_str());
  // without the classifier bytes the file is too short
  EXPECT_NE(error_of(b).find("the header's shapes need"), std::string::npos);
}

TEST(Llama2cMalformed, TruncatedHeader) {
  EXPECT_NE(error_of(std::string(10, '\0')).find("too small"), std::string::npos);
}

TEST(Llama2cMalformed, TruncatedWeights) {
  std::string b = tiny_model();
  std::string msg = error_of(b.substr(0, b.size() - 4));
  EXPECT_NE(msg.find("the header's shapes need"), std::string::npos) << msg;
}

TEST(Llama2cMalformed, AbsurdHeaderValues) {
  EXPECT_NE(error_of(header({-8, 16, 1, 2, 1, 4, 4})).find("dim"), std::string::npos);
  EXPECT_NE(error_of(header({8, 16, 1, 2, 1, 4, 1 << 30})).find("seq_len"), std::string::npos);
  EXPECT_NE(error_of(header({8, 16, 1, 3, 1, 4, 4})).find("inconsistent"), std::string::npos);
  // huge but individually plausible dims must not allocate: the file is just too small
  std::string msg = error_of(header({1 << 19, 1 << 19, 1 << 10, 1 << 9, 1 << 9, 1 << 19, 1 << 10}));
  EXPECT_NE(msg.find("the header's shapes need"), std::string::npos) << msg;
}

TEST(Llama2cMalformed, HeaderWhoseTotalSizeWrapsIsRefused) {
  // Every field within its bound (<= 2^20, heads dividing dim), yet the
  // sections' byte total is 2^64 + 4194336: the unchecked 64-bit sum
  // wrapped to 4194336, so a file of that size passed the size check.
  const int32_t D = 1 << 20, F = 524287, L = 1 << 20, H = 1 << 20, KVH = 1 << 18, V = 1 << 20, T = 1;
  std::string b = header({D, F, L, H, KVH, V, T});
  b.resize(4194336, '\0');
  const std::string msg = error_of(b);
  EXPECT_NE(msg.find("more than 2^64 bytes"), std::string::npos) << msg;
}

TEST(Llama2cMalformed, NewFormatIsNamed) {
  std::string b = tiny_model();
  std::memcpy(b.data(), "ak42", 4);
  EXPECT_NE(error_of(b).find("ak42"), std::string::npos);
}

TEST(Llama2cMalformed, TokenizerLengthsAreChecked) {
  std::string tok = header({16});
  float score = 0;
  int32_t len = 1 << 30;  // far past the end
  tok.append(reinterpret_cast<const char*>(&score), 4);
  tok.append(reinterpret_cast<const char*>(&len), 4);
  std::string tpath = write_temp(tok);
  std::string msg = error_of(tiny_model(), tpath);
  EXPECT_NE(msg.find("runs past the end"), std::string::npos) << msg;
  std::remove(tpath.c_str());
  std::string short_tok = header({16});
  tpath = write_temp(short_tok);
  msg = error_of(tiny_model(), tpath);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  std::remove(tpath.c_str());
}

// GGUF models with the wrong architecture or tensors fail naming what is wrong.
#include "frontend/gguf/gguf_writer.h"
#include "kernels/quant_formats.h"

namespace {

std::string gguf_error(const std::function<void(gguf::Writer&)>& edit) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.embedding_length", 32);
  w.set_u32("llama.block_count", 1);
  w.set_u32("llama.attention.head_count", 4);
  w.set_u32("llama.feed_forward_length", 64);
  w.set_u32("llama.context_length", 16);
  std::vector<float> z(64 * 64, 0.f);
  auto t = [&](const std::string& name, int64_t rows, int64_t cols) {
    w.add_tensor(name, 0, rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows}, z.data(), size_t(rows * cols) * 4);
  };
  t("token_embd.weight", 8, 32);
  t("output_norm.weight", 1, 32);
  t("blk.0.attn_norm.weight", 1, 32);
  t("blk.0.attn_q.weight", 32, 32);
  t("blk.0.attn_k.weight", 32, 32);
  t("blk.0.attn_v.weight", 32, 32);
  t("blk.0.attn_output.weight", 32, 32);
  t("blk.0.ffn_norm.weight", 1, 32);
  t("blk.0.ffn_gate.weight", 64, 32);
  t("blk.0.ffn_up.weight", 64, 32);
  edit(w);
  std::string path = write_temp(w.to_bytes());
  std::string msg;
  try {
    llm::load_gguf_model(path);
  } catch (const Error& e) {
    msg = e.what();
  }
  std::remove(path.c_str());
  return msg;
}

}  // namespace

TEST(GgufModel, MissingTensorIsNamed) {
  std::string msg = gguf_error([](gguf::Writer&) {});  // ffn_down never added
  EXPECT_NE(msg.find("missing tensor 'blk.0.ffn_down.weight'"), std::string::npos) << msg;
}

TEST(GgufModel, MisShapedTensorIsNamed) {
  std::string msg = gguf_error([](gguf::Writer& w) {
    std::vector<float> z(32 * 48, 0.f);
    w.add_tensor("blk.0.ffn_down.weight", 0, {48, 32}, z.data(), z.size() * 4);  // expected [64, 32]
  });
  EXPECT_NE(msg.find("'blk.0.ffn_down.weight' has shape [48, 32], expected [64, 32]"), std::string::npos) << msg;
}

TEST(GgufModel, UnknownArchitectureIsNamed) {
  std::string msg = gguf_error([](gguf::Writer& w) { w.set_string("general.architecture", "mamba"); });
  EXPECT_NE(msg.find("architecture 'mamba'"), std::string::npos) << msg;
}

TEST(GgufModel, MissingHyperParameterIsNamed) {
  std::string msg = gguf_error([](gguf::Writer& w) { w.set_string("general.architecture", "qwen2"); });
  EXPECT_NE(msg.find("missing metadata key 'qwen2.embedding_length'"), std::string::npos) << msg;
}
