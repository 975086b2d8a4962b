// The server's LLM engine: rows of several sequences in one forward pass,
// slots, the queue, cancellation, stop strings, prefix reuse; greedy output
// equal to a plain session's.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <unistd.h>
#include <mutex>
#include <thread>

#include "api/engine_text.h"
#include "llm/chat.h"
#include "llm/model.h"
#include "llm/transformer.h"
#include "pareto/llm.hpp"
#include "pareto/llm_engine.hpp"

namespace pareto {
namespace {

// One file per type and process (ctest runs tests as parallel processes),
// removed when the process ends.
std::string synth_model(const std::string& type) {
  struct Files {
    std::map<std::string, std::string> paths;
    ~Files() {
      for (auto& [t, p] : paths) std::remove(p.c_str());
    }
  };
  static Files files;
  auto it = files.paths.find(type);
  if (it != files.paths.end()) return it->second;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("pareto_engine_tiny_" + type + "_" + std::to_string(::getpid()) + ".gguf")).string();
  SynthSpec spec;
  spec.preset = "tiny", spec.type = type, spec.seed = 5;
  auto r = synth_llm(spec, path);
  EXPECT_TRUE(r.ok()) << r.status().message;
  files.paths[type] = path;
  return path;
}

void expect_close(const float* got, const float* want, int64_t n, const std::string& what) {
  float scale = 1;
  for (int64_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(want[i]));
  float worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  EXPECT_LE(worst, 1e-4f * scale) << what;
}

class RowsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RowsTest, RowsOfSeveralSlotsMatchEachSequenceAlone) {
  auto model = llm::Model::load(synth_model(GetParam()), "");
  const int64_t vocab = model->config.vocab;
  llm::Transformer multi(*model, 64, llm::KvType::f32, 3);
  llm::Transformer a(*model, 64, llm::KvType::f32), b(*model, 64, llm::KvType::f32), c(*model, 64, llm::KvType::f32);
  const std::vector<int32_t> seq_a = {1, 5, 9, 13, 17, 21}, seq_b = {2, 4, 6, 11}, seq_c = {7};
  // Step 1: five prompt tokens of A (slot 0) and three of B (slot 2) together.
  std::vector<llm::Transformer::Row> rows;
  for (int64_t t = 0; t < 5; ++t) rows.push_back({seq_a[t], 0, t, t == 4});
  for (int64_t t = 0; t < 3; ++t) rows.push_back({seq_b[t], 2, t, t == 2});
  const float* got = multi.forward_rows(rows.data(), int64_t(rows.size()));
  std::vector<float> step1(got, got + 2 * vocab);
  expect_close(step1.data(), a.forward(seq_a.data(), 5, 0), vocab, "A's prompt");
  expect_close(step1.data() + vocab, b.forward(seq_b.data(), 3, 0), vocab, "B's prompt");
  // Step 2: one decode row per slot, the new sequence C in slot 1 between them.
  rows = {{seq_a[5], 0, 5, true}, {seq_c[0], 1, 0, true}, {seq_b[3], 2, 3, true}};
  got = multi.forward_rows(rows.data(), 3);
  std::vector<float> step2(got, got + 3 * vocab);
  expect_close(step2.data(), a.forward(&seq_a[5], 1, 5), vocab, "A's decode");
  expect_close(step2.data() + vocab, c.forward(seq_c.data(), 1, 0), vocab, "C's first token");
  expect_close(step2.data() + 2 * vocab, b.forward(&seq_b[3], 1, 3), vocab, "B's decode");
}

INSTANTIATE_TEST_SUITE_P(Types, RowsTest, ::testing::Values("f32", "q8_0", "q4_0"));

// One step mixing a long prompt run (the cache's tiled batch: 16+ rows) with
// a decoding slot's row (the short-run region) on the default f16 cache.
TEST(RowsTest, LongPromptRunBesideADecodingRowMatchesEachAlone) {
  auto model = llm::Model::load(synth_model("q4_0"), "");
  const int64_t vocab = model->config.vocab;
  llm::Transformer multi(*model, 64, llm::KvType::f16, 2);
  llm::Transformer a(*model, 64, llm::KvType::f16), b(*model, 64, llm::KvType::f16);
  std::vector<int32_t> seq_a;
  for (int32_t t = 0; t < 20; ++t) seq_a.push_back(1 + (t * 7) % int32_t(vocab - 1));
  const std::vector<int32_t> seq_b = {3, 8, 2, 5};
  std::vector<llm::Transformer::Row> rows;
  for (int64_t t = 0; t < 3; ++t) rows.push_back({seq_b[size_t(t)], 1, t, t == 2});
  multi.forward_rows(rows.data(), int64_t(rows.size()));
  b.forward(seq_b.data(), 3, 0);
  rows.clear();
  for (int64_t t = 0; t < 20; ++t) rows.push_back({seq_a[size_t(t)], 0, t, t == 19});
  rows.push_back({seq_b[3], 1, 3, true});
  const float* got = multi.forward_rows(rows.data(), int64_t(rows.size()));
  std::vector<float> both(got, got + 2 * vocab);
  expect_close(both.data(), a.forward(seq_a.data(), 20, 0), vocab, "A's 20-token prompt");
  expect_close(both.data() + vocab, b.forward(&seq_b[3], 1, 3), vocab, "B's decode beside it");
}

TEST(Rows, BadRowsAreRefused) {
  auto model = llm::Model::load(synth_model("f32"), "");
  llm::Transformer multi(*model, 16, llm::KvType::f16, 2);
  std::vector<llm::Transformer::Row> gap = {{1, 0, 0, false}, {2, 0, 2, true}};
  EXPECT_THROW(multi.forward_rows(gap.data(), 2), Error);
  std::vector<llm::Transformer::Row> slot = {{1, 2, 0, true}};
  EXPECT_THROW(multi.forward_rows(slot.data(), 1), Error);
  std::vector<llm::Transformer::Row> past = {{1, 1, 16, true}};
  EXPECT_THROW(multi.forward_rows(past.data(), 1), Error);
  std::vector<llm::Transformer::Row> token = {{int32_t(model->config.vocab), 1, 0, true}};
  EXPECT_THROW(multi.forward_rows(token.data(), 1), Error);
}

// Collects one request's events.
struct Collected {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;
  CompletionEvent last;
  int events = 0;
  bool done = false;
  std::function<bool(const CompletionEvent&)> callback(int stop_after = 0) {
    return [this, stop_after](const CompletionEvent& e) {
      std::lock_guard lock(mu);
      text += e.text;
      ++events;
      if (e.done) {
        last = e;
        done = true;
        cv.notify_all();
      }
      return stop_after == 0 || events < stop_after;
    };
  }
  void wait() {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done; }));
  }
};

CompletionParams greedy(int64_t max_tokens) {
  CompletionParams p;
  p.temperature = 0;
  p.max_tokens = max_tokens;
  return p;
}

std::unique_ptr<LlmEngine> open_engine(int slots, int queue, int64_t ctx = 128) {
  LlmEngineOptions o;
  o.slots = slots, o.max_queue = queue, o.llm.ctx = ctx, o.prefill_chunk = 7;  // prompts cut in chunks
  auto e = LlmEngine::open(synth_model("q8_0"), o);
  EXPECT_TRUE(e.ok()) << e.status().message;
  return std::move(e.value());
}

TEST(LlmEngine, ParallelGreedyRequestsEqualASessionEach) {
  const std::vector<std::string> prompts = {"once upon a time", "the cat sat", "a b c d e f g h i j k l", "zebra"};
  std::vector<std::string> want;
  LlmOptions lo;
  lo.ctx = 128;
  auto session = LlmSession::open(synth_model("q8_0"), lo);
  ASSERT_TRUE(session.ok());
  for (const std::string& p : prompts) {
    session.value()->reset();
    GenerateOptions g;
    g.temperature = 0, g.max_tokens = 24;
    std::string text;
    ASSERT_TRUE(session.value()->generate(p, g, [&](const std::string& t) { return text += t, true; }).ok());
    want.push_back(text);
  }
  auto engine = open_engine(3, 8);  // 4 requests on 3 slots: one waits in the queue
  std::vector<Collected> got(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto id = engine->submit(prompts[i], greedy(24), got[i].callback());
    ASSERT_TRUE(id.ok()) << id.status().message;
    ASSERT_GT(id.value(), 0u);
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    got[i].wait();
    EXPECT_EQ(got[i].text, want[i]) << prompts[i];
    EXPECT_TRUE(got[i].last.finish_reason == "length" || got[i].last.finish_reason == "stop");
    EXPECT_GT(got[i].last.prompt_tokens, 0);
  }
  const LlmEngineStats s = engine->stats();
  EXPECT_EQ(s.requests, 4);
  EXPECT_GT(double(s.step_rows) / double(s.steps), 1.5) << "decode rows of several slots share steps";
}

TEST(LlmEngine, RepeatedPromptReusesTheSlotCache) {
  auto engine = open_engine(1, 4);
  Collected first, second;
  ASSERT_TRUE(engine->submit("the same prompt again and again", greedy(10), first.callback()).ok());
  first.wait();
  ASSERT_TRUE(engine->submit("the same prompt again and again", greedy(10), second.callback()).ok());
  second.wait();
  EXPECT_EQ(second.text, first.text);
  EXPECT_EQ(first.last.cached_prompt_tokens, 0);
  EXPECT_EQ(second.last.cached_prompt_tokens, second.last.prompt_tokens - 1);
}

TEST(LlmEngine, FullQueueRefusesAndCancelStops) {
  auto engine = open_engine(1, 0, 4096);
  Collected running, refused;
  auto id = engine->submit("a long one", greedy(4000), running.callback());
  ASSERT_TRUE(id.ok());
  auto second = engine->submit("no room", greedy(4), refused.callback());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value(), 0u) << "no slot and no queue place";
  engine->cancel(id.value());
  running.wait();
  EXPECT_EQ(running.last.finish_reason, "cancelled");
  EXPECT_LT(running.last.completion_tokens, 4000);
}

TEST(LlmEngine, CallbackReturningFalseCancels) {
  auto engine = open_engine(1, 1);
  Collected c;
  ASSERT_TRUE(engine->submit("stop me", greedy(50), c.callback(3)).ok());
  c.wait();
  EXPECT_EQ(c.last.finish_reason, "cancelled");
  EXPECT_EQ(c.last.completion_tokens, 3);
}

TEST(LlmEngine, StopStringCutsTheText) {
  auto engine = open_engine(1, 1);
  Collected plain;
  ASSERT_TRUE(engine->submit("find a stop", greedy(30), plain.callback()).ok());
  plain.wait();
  ASSERT_GE(plain.text.size(), 12u) << "the synthetic model writes enough text";
  const std::string stop = plain.text.substr(6, 3);
  Collected cut;
  CompletionParams p = greedy(30);
  p.stop = {"never there", stop};
  ASSERT_TRUE(engine->submit("find a stop", p, cut.callback()).ok());
  cut.wait();
  EXPECT_EQ(cut.text, plain.text.substr(0, plain.text.find(stop)));
  EXPECT_EQ(cut.last.finish_reason, "stop");
}

TEST(LlmEngine, PromptsBeyondTheContextAreErrors) {
  auto engine = open_engine(1, 1, 32);
  Collected c;
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "word ";
  auto r = engine->submit(long_prompt, greedy(4), c.callback());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message.find("context"), std::string::npos) << r.status().message;
  auto r2 = engine->submit("short", greedy(100), c.callback());
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message.find("max_tokens"), std::string::npos) << r2.status().message;
  CompletionParams bad = greedy(4);
  bad.top_logprobs = 21;
  EXPECT_FALSE(engine->submit("short", bad, c.callback()).ok());
}

TEST(StopFilter, HoldsPossibleStartsAndCutsAtTheFirstStop) {
  api::StopFilter f({"END", "xyz"});
  bool hit = false;
  EXPECT_EQ(f.push("abc E", hit), "abc ");  // "E" may start END
  EXPECT_FALSE(hit);
  EXPECT_EQ(f.push("Nx", hit), "EN");  // "ENx" cannot be END, but "x" may start xyz
  EXPECT_FALSE(hit);
  EXPECT_EQ(f.flush(), "x");
  api::StopFilter g({"END", "xyz"});
  EXPECT_EQ(g.push("12xy", hit), "12");
  EXPECT_EQ(g.push("z and END", hit), "");
  EXPECT_TRUE(hit);
  api::StopFilter none;
  EXPECT_EQ(none.push("anything", hit), "anything");
}

TEST(TokenDistribution, EntropyAndLogSumExp) {
  std::vector<float> uniform(8, 3.0f);
  const api::TokenDistribution d = api::token_distribution(uniform.data(), 8);
  EXPECT_NEAR(d.entropy, std::log(8.0), 1e-9);
  EXPECT_NEAR(3.0f - d.log_sum_exp, -std::log(8.0), 1e-6);
  std::vector<float> peaked = {0, 100, 0, 0};
  EXPECT_NEAR(api::token_distribution(peaked.data(), 4).entropy, 0, 1e-9);
  EXPECT_EQ(api::top_tokens(peaked.data(), 4, 2), (std::vector<int32_t>{1, 0}));
}

TEST(ChatFormat, ConversationsEndWithTheAssistantHeader) {
  const std::vector<llm::Message> m = {{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}};
  EXPECT_EQ(llm::format_conversation(llm::ChatFormat::chatml, m),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
            "<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(llm::format_conversation(llm::ChatFormat::llama2, m), "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]");
  EXPECT_EQ(llm::format_conversation(llm::ChatFormat::llama3, {{"user", "hi"}}),
            "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_THROW(llm::format_conversation(llm::ChatFormat::chatml, {{"user", "a"}, {"system", "late"}}), Error);
  EXPECT_THROW(llm::format_conversation(llm::ChatFormat::chatml, {{"tool", "x"}}), Error);
  EXPECT_THROW(llm::format_conversation(llm::ChatFormat::chatml, {}), Error);
}

}  // namespace
}  // namespace pareto
