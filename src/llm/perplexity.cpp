#include "llm/perplexity.h"

#include <cmath>

#include "core/error.h"

namespace pareto::llm {

PerplexityResult perplexity(Transformer& tr, const Tokenizer& tok, const std::string& text, int64_t n_ctx,
                            const std::function<void(int64_t, int64_t, double)>& progress) {
  if (n_ctx < 4) fail_argument("perplexity needs a context of at least 4 tokens");
  if (n_ctx > tr.ctx()) fail_argument("context " + std::to_string(n_ctx) + " exceeds the KV cache of " + std::to_string(tr.ctx()));
  std::vector<int32_t> tokens = tok.encode(text, true);
  PerplexityResult r;
  r.text_tokens = int64_t(tokens.size());
  int64_t n_chunks = int64_t(tokens.size()) / n_ctx;
  if (n_chunks == 0)
    fail_argument("the text has " + std::to_string(tokens.size()) + " tokens, fewer than one chunk of " + std::to_string(n_ctx));
  const int64_t first = n_ctx / 2, vocab = tr.model().config.vocab;
  double nll = 0, nll2 = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    chunk[0] = tok.bos();
    const float* logits = tr.forward(chunk.data(), n_ctx, 0, true);
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const float* l = logits + j * vocab;
      float mx = l[0];
      for (int64_t v = 1; v < vocab; ++v) mx = std::max(mx, l[v]);
      double sum = 0;
      for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double(l[v] - mx));
      double lp = double(l[chunk[size_t(j + 1)]] - mx) - std::log(sum);
      nll -= lp;
      nll2 += lp * lp;
      ++r.scored_tokens;
    }
    ++r.chunks;
    if (progress) progress(c, n_chunks, std::exp(nll / double(r.scored_tokens)));
  }
  double mean = nll / double(r.scored_tokens), mean2 = nll2 / double(r.scored_tokens);
  r.ppl = std::exp(mean);
  double var = mean2 - mean * mean;
  r.ppl_error = var > 0 && r.scored_tokens > 1 ? std::sqrt(var / double(r.scored_tokens - 1)) * r.ppl : 0;
  return r;
}

}  // namespace pareto::llm
