// The public LLM session: model, tokenizer, transformer with its KV cache.
#include <algorithm>
#include <map>
#include <new>

#include "core/file.h"
#include "core/thread_pool.h"
#include "kernels/membw.h"
#include "kernels/peak_probe.h"
#include "kernels/quant_formats.h"
#include "llm/chat.h"
#include "llm/model.h"
#include "llm/perplexity.h"
#include "llm/sampler.h"
#include "llm/synth.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"
#include "api/guarded.h"
#include "api/llm_info.h"
#include "pareto/llm.hpp"

namespace pareto {

namespace {

using api::guarded;

}  // namespace

struct LlmSession::Impl {
  std::unique_ptr<llm::Model> model;
  std::unique_ptr<llm::Tokenizer> tokenizer;
  std::unique_ptr<llm::Transformer> transformer;
  LlmOptions options;
  int64_t pos = 0;
  int32_t last_token = -1;
  std::vector<int32_t> history;
  std::unique_ptr<ThreadPool> pool;  // this session's threads
};

LlmSession::LlmSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LlmSession::~LlmSession() = default;

Result<std::unique_ptr<LlmSession>> LlmSession::open(const std::string& model_path, const LlmOptions& options) {
  return guarded([&] {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->pool = std::make_unique<ThreadPool>(std::max(1, options.threads));
    PoolScope scope(impl->pool.get());
    LimitsScope limits(options.limits);
    impl->model = api::load_llm(model_path, options);
    if (!impl->model->vocab.pieces.empty()) impl->tokenizer = std::make_unique<llm::Tokenizer>(impl->model->vocab);
    const int64_t ctx = api::llm_context(*impl->model, options);
    impl->transformer = std::make_unique<llm::Transformer>(*impl->model, ctx, llm::kv_type_by_name(options.kv_type));
    return std::unique_ptr<LlmSession>(new LlmSession(std::move(impl)));
  });
}

Result<std::vector<int32_t>> LlmSession::tokenize(const std::string& text, bool add_bos) const {
  return guarded([&] {
    if (!impl_->tokenizer) fail_argument("the model has no tokenizer (pass a tokenizer file)");
    return impl_->tokenizer->encode(text, add_bos);
  });
}

std::string LlmSession::detokenize(const std::vector<int32_t>& tokens) const {
  return impl_->tokenizer ? impl_->tokenizer->decode(tokens) : std::string();
}

void LlmSession::reset() {
  impl_->pos = 0;
  impl_->last_token = -1;
  impl_->history.clear();
}

int64_t LlmSession::position() const { return impl_->pos; }

Result<GenerateStats> LlmSession::generate(const std::string& prompt, const GenerateOptions& o,
                                           const std::function<bool(const std::string&)>& on_text) {
  return guarded([&] {
    Impl& s = *impl_;
    if (!s.tokenizer) fail_argument("the model has no tokenizer (pass a tokenizer file)");
    PoolScope scope(s.pool.get());
    LimitsScope limits(s.options.limits);
    GenerateStats stats;
    std::vector<int32_t> tokens = s.tokenizer->encode(prompt, o.add_bos && s.pos == 0);
    if (tokens.empty() && s.pos == 0) fail_argument("nothing to start from: empty prompt and no BOS token");
    int64_t ctx = s.transformer->ctx();
    if (s.pos + int64_t(tokens.size()) >= ctx)
      fail_argument("the prompt (" + std::to_string(tokens.size()) + " tokens) does not fit the remaining context (" +
                    std::to_string(ctx - s.pos) + " of " + std::to_string(ctx) + ")");
    llm::SamplerOptions so{o.temperature, o.top_k, o.top_p, o.min_p, o.repeat_penalty, o.repeat_last_n, o.seed};
    llm::Sampler sampler(so);
    for (int32_t t : s.history) sampler.accept(t);
    llm::Utf8Stream stream;
    const int64_t vocab = s.model->config.vocab;
    std::vector<float> logits(static_cast<size_t>(vocab));
    double t0 = now_seconds();
    if (!tokens.empty()) {
      const float* l = s.transformer->forward(tokens.data(), int64_t(tokens.size()), s.pos);
      std::copy(l, l + vocab, logits.begin());
      s.pos += int64_t(tokens.size());
      for (int32_t t : tokens) {
        sampler.accept(t);
        s.history.push_back(t);
      }
      s.last_token = tokens.back();
    } else {
      // Continue from the last token already in the cache: recompute its logits.
      const float* l = s.transformer->forward(&s.last_token, 1, s.pos - 1);
      std::copy(l, l + vocab, logits.begin());
    }
    stats.prompt_tokens = int64_t(tokens.size());
    stats.prefill_seconds = now_seconds() - t0;
    double t1 = now_seconds();
    bool keep_going = true;
    for (int i = 0; i < o.max_tokens && keep_going; ++i) {
      int32_t next = sampler.sample(logits.data(), vocab);
      if (next == s.tokenizer->eos() || s.tokenizer->ends_turn(next)) {
        stats.stopped_at_eos = true;
        break;
      }
      std::string text = stream.push(s.tokenizer->piece(s.last_token, next));
      if (!text.empty()) keep_going = on_text(text);
      sampler.accept(next);
      s.history.push_back(next);
      s.last_token = next;
      ++stats.generated_tokens;
      if (s.pos >= ctx) break;  // context full
      if (i + 1 < o.max_tokens && keep_going) {
        const float* l = s.transformer->forward(&next, 1, s.pos);
        std::copy(l, l + vocab, logits.begin());
      } else {
        // The sampled token still enters the cache so a later call continues after it.
        s.transformer->forward(&next, 1, s.pos);
      }
      ++s.pos;
    }
    std::string rest = stream.flush();
    if (!rest.empty()) on_text(rest);
    stats.decode_seconds = now_seconds() - t1;
    return stats;
  });
}

Result<PerplexityStats> LlmSession::perplexity(const std::string& text, int64_t n_ctx,
                                               const std::function<void(int64_t, int64_t, double)>& progress) {
  return guarded([&] {
    if (!impl_->tokenizer) fail_argument("the model has no tokenizer (pass a tokenizer file)");
    PoolScope scope(impl_->pool.get());
    LimitsScope limits(impl_->options.limits);
    reset();
    llm::PerplexityResult r = llm::perplexity(*impl_->transformer, *impl_->tokenizer, text, n_ctx, progress);
    return PerplexityStats{r.ppl, r.ppl_error, r.chunks, r.scored_tokens, r.text_tokens};
  });
}

Result<double> LlmSession::time_forward(int64_t n_tokens, int64_t batch) {
  return guarded([&] {
    Impl& s = *impl_;
    PoolScope scope(s.pool.get());
    LimitsScope limits(s.options.limits);
    reset();
    if (n_tokens > s.transformer->ctx()) fail_argument("benchmark needs " + std::to_string(n_tokens) + " positions, context is " + std::to_string(s.transformer->ctx()));
    std::vector<int32_t> tokens(static_cast<size_t>(n_tokens));
    for (int64_t i = 0; i < n_tokens; ++i) tokens[size_t(i)] = int32_t((i * 7919 + 13) % s.model->config.vocab);
    double t0 = now_seconds();
    for (int64_t p = 0; p < n_tokens; p += batch)
      s.transformer->forward(tokens.data() + p, std::min(batch, n_tokens - p), p);
    double sec = now_seconds() - t0;
    reset();
    return sec;
  });
}

double measure_read_bandwidth(size_t bytes, int threads) {
  ThreadPool pool(std::max(1, threads));
  PoolScope scope(&pool);
  return kernels::measure_read_bandwidth(bytes, 5);
}

double measure_f32_gmacs_together(int threads) { return kernels::measure_f32_gmacs_together(threads, 30000000 / 16); }

HandoffProbe measure_thread_handoff(int rounds) {
  const kernels::HandoffTimes t = kernels::measure_handoff(rounds);
  return {t.median_ns, t.max_ns, t.rounds};
}

LlmInfo LlmSession::info() const {
  return api::describe_llm(*impl_->model, impl_->transformer->ctx(), impl_->transformer->kv_cache_bytes());
}

Result<SynthResult> synth_llm(const SynthSpec& spec, const std::string& path) {
  return guarded([&] {
    ThreadPool pool(std::max(1, spec.threads));
    PoolScope scope(&pool);
    llm::SynthReport r = llm::synth_model({spec.arch, spec.preset, spec.type, spec.seed}, path);
    return SynthResult{r.parameters, r.file_bytes};
  });
}

Result<std::string> format_chat_turn(const std::string& format, const std::string& system, const std::string& user, bool first_turn) {
  return guarded([&] { return llm::format_user_turn(llm::chat_format_by_name(format), system, user, first_turn); });
}

}  // namespace pareto
