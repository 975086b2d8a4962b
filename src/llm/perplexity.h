// Perplexity in llama.cpp's convention so figures are comparable: the text
// is tokenized once (with BOS), cut into non-overlapping chunks of n_ctx
// tokens whose first token is replaced by BOS, and only the second half of
// each chunk is scored.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "llm/tokenizer.h"
#include "llm/transformer.h"

namespace pareto::llm {

struct PerplexityResult {
  double ppl = 0, ppl_error = 0;
  int64_t chunks = 0, scored_tokens = 0, text_tokens = 0;
};

// progress(chunk_index, n_chunks, running ppl)
PerplexityResult perplexity(Transformer& tr, const Tokenizer& tok, const std::string& text, int64_t n_ctx,
                            const std::function<void(int64_t, int64_t, double)>& progress = {});

}  // namespace pareto::llm
