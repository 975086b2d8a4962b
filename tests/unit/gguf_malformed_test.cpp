// GGUF writer round trips, and malformed files failing with clear errors.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "core/error.h"
#include "frontend/gguf/gguf_reader.h"
#include "frontend/gguf/gguf_writer.h"
#include "kernels/quant_formats.h"

using namespace pareto;

namespace {

std::shared_ptr<gguf::File> parse(const std::string& bytes) {
  auto owner = std::make_shared<std::string>(bytes);
  return gguf::File::parse(reinterpret_cast<const uint8_t*>(owner->data()), owner->size(), "t.gguf", owner);
}

std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string small_file() {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.f);
  w.set_bool("flag", true);
  w.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "hello"});
  w.set_f32s("tokenizer.ggml.scores", {0.f, -1.f, -2.f, -3.5f});
  std::vector<float> a(64);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.5f;
  w.add_tensor("a", uint32_t(kernels::GgmlType::f32), {16, 4}, a.data(), a.size() * 4);
  std::vector<uint8_t> q(34 * 2, 0);
  q[0] = 0x00, q[1] = 0x3c;  // d = 1.0 (f16)
  for (int i = 0; i < 32; ++i) q[size_t(2 + i)] = uint8_t(i - 16);
  w.add_tensor("q", uint32_t(kernels::GgmlType::q8_0), {64}, q.data(), q.size());
  return w.to_bytes();
}

// Offset of the n-th occurrence of a byte pattern (for targeted corruption).
size_t find(const std::string& hay, const std::string& needle, size_t from = 0) {
  size_t p = hay.find(needle, from);
  EXPECT_NE(p, std::string::npos) << needle;
  return p;
}

template <class T>
void poke(std::string& s, size_t at, T v) {
  std::memcpy(s.data() + at, &v, sizeof(T));
}

}  // namespace

TEST(GgufWriter, RoundTrip) {
  auto f = parse(small_file());
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 2);
  EXPECT_FLOAT_EQ(float(f->get_float("llama.rope.freq_base", 0)), 10000.f);
  EXPECT_EQ(f->find("flag")->i, 1);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->strs[3], "hello");
  EXPECT_FLOAT_EQ(float(f->find("tokenizer.ggml.scores")->nums[3]), -3.5f);
  const gguf::TensorInfo* a = f->tensor("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ne, (std::vector<int64_t>{16, 4}));
  EXPECT_FLOAT_EQ(reinterpret_cast<const float*>(a->data)[63], 31.5f);
  const gguf::TensorInfo* q = f->tensor("q");
  std::vector<float> y(64);
  kernels::dequantize_row_ref(q->type, q->data, y.data(), 64);
  EXPECT_FLOAT_EQ(y[0], -16.f);
  EXPECT_FLOAT_EQ(y[31], 15.f);
  EXPECT_EQ(uintptr_t(q->data - a->data) % 32, 0u);
}

TEST(GgufWriter, RewritesLlamaCppFilesByteForByte) {
  std::string path = std::string(PARETO_SOURCE_DIR) + "/../shared/models/golden/synth-mini-Q4_K_M.gguf";
  if (!std::ifstream(path)) GTEST_SKIP() << "../shared/models not found";
  auto f = gguf::File::open(path);
  gguf::Writer w;
  for (const auto& [k, v] : f->kv) w.set_value(k, v);
  for (const auto& t : f->tensors) w.add_tensor(t.name, t.type, t.ne, t.data, t.nbytes);
  std::ifstream in(path, std::ios::binary);
  std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(w.to_bytes() == original) << "writer output differs from llama.cpp's file";
}

TEST(GgufMalformed, BadMagicAndVersion) {
  std::string b = small_file();
  std::string bad = b;
  bad[0] = 'X';
  EXPECT_NE(error_of(bad).find("bad magic"), std::string::npos);
  bad = b;
  poke<uint32_t>(bad, 4, 1);
  EXPECT_NE(error_of(bad).find("version 1"), std::string::npos);
}

TEST(GgufMalformed, EveryTruncationFails) {
  std::string b = small_file();
  for (size_t n = 0; n + 1 < b.size(); ++n) {
    std::string msg = error_of(b.substr(0, n));
    // Cutting inside trailing tensor padding can still leave a complete file.
    if (n < b.size() - 64) {
      EXPECT_FALSE(msg.empty()) << "prefix of " << n << " bytes was accepted";
    }
  }
}

TEST(GgufMalformed, TensorDataPastEnd) {
  std::string b = small_file();
  std::string msg = error_of(b.substr(0, b.size() - 40));
  EXPECT_NE(msg.find("tensor 'q'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("past the end"), std::string::npos) << msg;
}

TEST(GgufMalformed, TooManyDims) {
  std::string b = small_file();
  size_t at = find(b, std::string("\x01\x00\x00\x00\x00\x00\x00\x00" "a", 9)) + 9;  // after name "a"
  poke<uint32_t>(b, at, 5);
  std::string msg = error_of(b);
  EXPECT_NE(msg.find("n_dims 5"), std::string::npos) << msg;
}

TEST(GgufMalformed, OverflowingDims) {
  std::string b = small_file();
  size_t at = find(b, std::string("\x01\x00\x00\x00\x00\x00\x00\x00" "a", 9)) + 13;  // first dim
  poke<uint64_t>(b, at, uint64_t(1) << 62);
  poke<uint64_t>(b, at + 8, uint64_t(1) << 62);
  std::string msg = error_of(b);
  EXPECT_NE(msg.find("overflow"), std::string::npos) << msg;
}

TEST(GgufMalformed, UnknownTypeId) {
  std::string b = small_file();
  size_t at = find(b, std::string("\x01\x00\x00\x00\x00\x00\x00\x00" "a", 9)) + 13 + 16;  // type after two dims
  poke<uint32_t>(b, at, 99);
  std::string msg = error_of(b);
  EXPECT_NE(msg.find("unknown type id 99"), std::string::npos) << msg;
}

// A pareto group type takes its sizes from the format (tail groups); a row
// too long for any real tensor is refused before any size arithmetic.
TEST(GgufMalformed, ParetoTypesAreSizeChecked) {
  std::string b = small_file();
  const size_t at = find(b, std::string("\x01\x00\x00\x00\x00\x00\x00\x00" "a", 9)) + 13 + 16;
  poke<uint32_t>(b, at, 1024 + 3 * 16 + 1);  // pq3g32a
  poke<uint64_t>(b, at - 16, uint64_t(1) << 50);  // ne[0]
  const std::string msg = error_of(b);
  EXPECT_NE(msg.find("tensor 'a'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not fit type pq3g32a"), std::string::npos) << msg;
}

TEST(GgufMalformed, AbsurdStringLength) {
  std::string b = small_file();
  size_t at = find(b, "general.architecture") - 8;
  poke<uint64_t>(b, at, uint64_t(1) << 60);
  std::string msg = error_of(b);
  EXPECT_NE(msg.find("string length"), std::string::npos) << msg;
}

TEST(GgufMalformed, AbsurdArrayLength) {
  std::string b = small_file();
  size_t at = find(b, "tokenizer.ggml.scores") + std::strlen("tokenizer.ggml.scores") + 8;  // type arr, elem type, then count
  poke<uint64_t>(b, at, uint64_t(1) << 58);
  std::string msg = error_of(b);
  EXPECT_NE(msg.find("runs past the end"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tokenizer.ggml.scores"), std::string::npos) << msg;
}

TEST(GgufMalformed, DuplicateTensorNames) {
  std::string b = small_file();
  size_t at = find(b, std::string("\x01\x00\x00\x00\x00\x00\x00\x00" "q", 9)) + 8;
  b[at] = 'a';
  std::string msg = error_of(b);
  EXPECT_NE(msg.find("duplicate tensor name 'a'"), std::string::npos) << msg;
}

TEST(GgufMalformed, AbsurdCounts) {
  std::string b = small_file();
  poke<uint64_t>(b, 8, uint64_t(1) << 40);
  EXPECT_NE(error_of(b).find("tensor count"), std::string::npos);
  b = small_file();
  poke<uint64_t>(b, 16, uint64_t(1) << 40);
  EXPECT_NE(error_of(b).find("metadata count"), std::string::npos);
}

TEST(GgufMalformed, RandomMutationsNeverCrash) {
  std::string base = small_file();
  std::mt19937 rng(7);
  int refused = 0, accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string b = base;
    for (int k = 0; k < 1 + int(rng() % 4); ++k) b[rng() % b.size()] = char(rng());
    try {
      auto f = parse(b);
      for (const auto& t : f->tensors) {
        const auto& tr = kernels::ggml_type_traits(t.type);
        if (!tr.can_dequantize || t.numel() > (1 << 16)) continue;
        std::vector<float> y(size_t(t.numel()));
        kernels::dequantize_row_ref(t.type, t.data, y.data(), t.numel());
      }
      ++accepted;
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("t.gguf"), std::string::npos) << e.what();  // errors name the file
    }
  }
  // Both paths ran: mutations in tensor data are accepted, in the header refused.
  EXPECT_GT(refused, 100);
  EXPECT_GT(accepted, 100);
}
