// Long words tokenize in n log n: the greedy pair merging used to rescan the
// word after every merge (32 KB of one repeated character took 15-25 s,
// found by tokenizer_text_fuzz). A complexity guard, not a speed target:
// the bound is two orders of magnitude above what n log n takes.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "llm/model.h"
#include "llm/tokenizer.h"

using namespace pareto;

TEST(TokenizerScaling, LongRepeatedWordsStayFastAndRoundTrip) {
  const std::string seeds = std::string(PARETO_SOURCE_DIR) + "/tests/fuzz/corpus/gguf/";
  for (const char* file : {"micro-f32.gguf", "bpe-vocab.gguf"}) {  // SentencePiece and byte-level BPE
    const llm::Vocab vocab = llm::load_gguf_vocab_file(seeds + file);
    const llm::Tokenizer tok(vocab);
    for (char c : {'-', 'a', 't'}) {
      const std::string text(200000, c);
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<int32_t> ids = tok.encode(text, false);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_LT(seconds, 20.0) << file << " '" << c << "'";
      ASSERT_FALSE(ids.empty());
      std::string decoded = tok.decode(ids);
      // SentencePiece adds a space prefix ("\xe2\x96\x81"); this micro
      // vocabulary spells it in byte tokens, which decode to those bytes.
      for (const char* prefix : {"\xe2\x96\x81", " "})
        if (decoded.rfind(prefix, 0) == 0) decoded.erase(0, std::strlen(prefix));
      EXPECT_TRUE(decoded == text) << file << " '" << c << "': " << decoded.size() << " bytes back for " << text.size();
    }
  }
}
