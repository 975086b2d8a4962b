// Broken llama2.c checkpoints and tokenizer files fail with clear errors.
#include <gtest/gtest.h>

#include <cstdio>
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
