// Sampling options, seeded reproducibility, UTF-8 streaming.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "core/dtype.h"
#include "kernels/quant_formats.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"

using namespace pareto;

namespace {

std::vector<float> logits() { return {1.0f, 3.0f, 2.9f, -1.0f, 0.5f, 2.0f}; }

}  // namespace

TEST(Sampler, GreedyAndTopKOnePickTheArgmax) {
  llm::SamplerOptions o;
  o.temperature = 0;
  llm::Sampler greedy(o);
  auto l = logits();
  EXPECT_EQ(greedy.sample(l.data(), int64_t(l.size())), 1);
  o.temperature = 1.5f;
  o.top_k = 1;
  llm::Sampler k1(o);
  for (int i = 0; i < 20; ++i) {
    l = logits();
    EXPECT_EQ(k1.sample(l.data(), int64_t(l.size())), 1);
  }
}

TEST(Sampler, SeedMakesRunsReproducible) {
  llm::SamplerOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0;
  o.seed = 42;
  auto run = [&](uint64_t seed) {
    o.seed = seed;
    llm::Sampler s(o);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) {
      auto l = logits();
      out.push_back(s.sample(l.data(), int64_t(l.size())));
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TopPAndMinPCutTheTail) {
  llm::SamplerOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 0.5f;  // tokens 1 and 2 (and no others) cover half the mass
  o.min_p = 0;
  llm::Sampler s(o);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 300; ++i) {
    auto l = logits();
    ++seen[s.sample(l.data(), int64_t(l.size()))];
  }
  for (auto& [tok, n] : seen) EXPECT_TRUE(tok == 1 || tok == 2) << tok;
  o.top_p = 1.0f;
  o.min_p = 0.5f;  // keep tokens with p >= 0.5 * p_max: 1, 2 and 5 (e^-1 = 0.37 < 0.5 excludes 5)
  llm::Sampler m(o);
  seen.clear();
  for (int i = 0; i < 300; ++i) {
    auto l = logits();
    ++seen[m.sample(l.data(), int64_t(l.size()))];
  }
  for (auto& [tok, n] : seen) EXPECT_TRUE(tok == 1 || tok == 2) << tok;
}

TEST(Sampler, RepetitionPenaltyDemotesRecentTokens) {
  llm::SamplerOptions o;
  o.temperature = 0;
  o.repeat_penalty = 2.0f;
  llm::Sampler s(o);
  s.accept(1);
  auto l = logits();
  EXPECT_EQ(s.sample(l.data(), int64_t(l.size())), 2);  // 3.0 / 2 < 2.9
}

TEST(Utf8Stream, HoldsBackIncompleteCharacters) {
  llm::Utf8Stream s;
  std::string euro = "\xe2\x82\xac";
  EXPECT_EQ(s.push("a" + euro.substr(0, 1)), "a");
  EXPECT_EQ(s.push(euro.substr(1, 1)), "");
  EXPECT_EQ(s.push(euro.substr(2) + "b"), euro + "b");
  EXPECT_EQ(s.push("\xf0\x9f"), "");
  EXPECT_EQ(s.flush(), "\xf0\x9f");
}

TEST(Dequant, Bf16AndF16Rows) {
  uint16_t bf[3] = {float_to_bf16(1.5f), float_to_bf16(-2.25f), float_to_bf16(1e-3f)};
  uint16_t hf[3] = {float_to_half(1.5f), float_to_half(-2.25f), float_to_half(65504.f)};
  float y[3];
  kernels::dequantize_row_ref(uint32_t(kernels::GgmlType::bf16), bf, y, 3);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[1], -2.25f);
  EXPECT_NEAR(y[2], 1e-3f, 1e-5f);
  kernels::dequantize_row_ref(uint32_t(kernels::GgmlType::f16), hf, y, 3);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[2], 65504.f);
}
