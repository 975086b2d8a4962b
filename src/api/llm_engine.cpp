// The LLM engine behind `pareto serve`: slots, a bounded queue and one
// scheduler thread. Each step gathers one row per decoding slot plus a chunk
// of the prompts being read and runs them as one batch (Transformer::
// forward_rows), so the weights are read once for all slots; then each slot
// with logits samples its next token and streams it to its request.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "api/engine_text.h"
#include "api/guarded.h"
#include "api/llm_info.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "llm/chat.h"
#include "llm/model.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"
#include "pareto/llm_engine.hpp"

namespace pareto {

namespace {

constexpr int kMaxTopLogprobs = 20;
constexpr size_t kMaxStops = 16, kMaxStopBytes = 512;

struct Job {
  uint64_t id = 0;
  std::vector<int32_t> prompt;
  CompletionParams params;
  std::function<bool(const CompletionEvent&)> on_event;
  std::atomic<bool> cancelled{false};
  double submitted = 0;
};

struct Slot {
  std::shared_ptr<Job> job;     // null: idle
  std::vector<int32_t> cached;  // tokens whose K and V are in this slot's cache, from position 0
  size_t prompt_fed = 0;        // prompt tokens in the cache
  int32_t next_token = -1;      // sampled, fed at position cached.size() in the next step
  std::unique_ptr<llm::Sampler> sampler;
  llm::Utf8Stream utf8;
  api::StopFilter stops;
  int64_t generated = 0, cached_prompt = 0;
  double started = 0, first_token = 0;
  double entropy_sum = 0, min_logprob = 0;
  std::vector<float> work;  // the logits the sampler may change (repetition penalty)
};

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

struct LlmEngine::Impl {
  LlmEngineOptions options;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<llm::Model> model;
  std::unique_ptr<llm::Tokenizer> tokenizer;
  std::unique_ptr<llm::Transformer> transformer;
  mutable std::mutex tokenizer_mu;  // the BPE encoder caches words

  std::mutex mu;  // guards queue, live, stopping and the slots' job pointers
  std::condition_variable cv;
  std::deque<std::shared_ptr<Job>> queue;
  std::unordered_map<uint64_t, std::shared_ptr<Job>> live;
  std::vector<Slot> slots;
  bool stopping = false;
  uint64_t next_id = 1;
  std::thread scheduler;

  std::atomic<int64_t> requests{0}, prompt_tokens{0}, cached_prompt_tokens{0}, generated_tokens{0}, steps{0}, step_rows{0}, cancelled{0};
  std::atomic<int> active{0};

  void run();
  void admit();
  void step();
  void on_logits(Slot& s, const float* logits);
  // flush: send the text held back (not after a stop string).
  void finish(Slot& s, const std::string& reason, const std::string& error = {}, bool flush = true);
  void finish_queued(const std::shared_ptr<Job>& job);  // a request cancelled before it had a slot
  CompletionEvent event_of(const Slot& s) const;
};

LlmEngine::LlmEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LlmEngine::~LlmEngine() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->scheduler.joinable()) impl_->scheduler.join();
}

Result<std::unique_ptr<LlmEngine>> LlmEngine::open(const std::string& model_path, const LlmEngineOptions& options) {
  return api::guarded([&] {
    if (options.slots < 1 || options.slots > 64) fail_argument("slots must be 1..64, not " + std::to_string(options.slots));
    if (options.max_queue < 0) fail_argument("the queue length cannot be negative");
    if (options.prefill_chunk < 1) fail_argument("the prefill chunk must be at least one token");
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->pool = std::make_unique<ThreadPool>(std::max(1, options.llm.threads));
    PoolScope scope(impl->pool.get());
    LimitsScope limits(options.llm.limits);
    impl->model = api::load_llm(model_path, options.llm);
    if (impl->model->vocab.pieces.empty()) fail_argument("the model has no tokenizer (pass a tokenizer file)");
    impl->tokenizer = std::make_unique<llm::Tokenizer>(impl->model->vocab);
    const int64_t ctx = api::llm_context(*impl->model, options.llm);
    impl->transformer = std::make_unique<llm::Transformer>(*impl->model, ctx, llm::kv_type_by_name(options.llm.kv_type), options.slots);
    impl->slots.resize(size_t(options.slots));
    Impl* raw = impl.get();
    impl->scheduler = std::thread([raw] { raw->run(); });
    return std::unique_ptr<LlmEngine>(new LlmEngine(std::move(impl)));
  });
}

Result<uint64_t> LlmEngine::submit(const std::string& prompt, const CompletionParams& params,
                                   std::function<bool(const CompletionEvent&)> on_event) {
  return api::guarded([&]() -> uint64_t {
    Impl& m = *impl_;
    if (params.top_logprobs < 0 || params.top_logprobs > kMaxTopLogprobs)
      fail_argument("top_logprobs must be 0.." + std::to_string(kMaxTopLogprobs));
    if (params.stop.size() > kMaxStops) fail_argument("at most " + std::to_string(kMaxStops) + " stop strings");
    for (const std::string& s : params.stop)
      if (s.size() > kMaxStopBytes) fail_argument("a stop string is longer than " + std::to_string(kMaxStopBytes) + " bytes");
    auto job = std::make_shared<Job>();
    {
      std::lock_guard lock(m.tokenizer_mu);
      LimitsScope limits(m.options.llm.limits);
      job->prompt = m.tokenizer->encode(prompt, params.add_bos && m.model->vocab.add_bos);
    }
    const int64_t ctx = m.transformer->ctx(), n = int64_t(job->prompt.size());
    if (n == 0) fail_argument("the prompt is empty and the model has no BOS token to start from");
    if (n >= ctx)
      fail_argument("the prompt has " + std::to_string(n) + " tokens; the context of a slot holds " + std::to_string(ctx) +
                    " (the prompt and at least one generated token)");
    if (params.max_tokens > 0 && params.max_tokens > ctx - n)
      fail_argument("the prompt (" + std::to_string(n) + " tokens) and max_tokens (" + std::to_string(params.max_tokens) +
                    ") exceed the context of a slot (" + std::to_string(ctx) + " tokens)");
    job->params = params;
    job->on_event = std::move(on_event);
    job->submitted = now_seconds();
    {
      std::lock_guard lock(m.mu);
      if (m.stopping) fail_argument("the engine is shutting down");
      if (int64_t(m.queue.size()) >= m.options.max_queue + int64_t(m.slots.size()) - m.active.load()) return 0;
      job->id = m.next_id++;
      m.queue.push_back(job);
      m.live[job->id] = job;
    }
    ++m.requests;
    m.cv.notify_all();
    return job->id;
  });
}

void LlmEngine::cancel(uint64_t id) {
  std::shared_ptr<Job> queued;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->live.find(id);
    if (it == impl_->live.end()) return;
    it->second->cancelled = true;
    // A queued request leaves the queue now: it neither holds a place nor waits for a slot.
    auto q = std::find(impl_->queue.begin(), impl_->queue.end(), it->second);
    if (q != impl_->queue.end()) {
      queued = *q;
      impl_->queue.erase(q);
      impl_->live.erase(it);
    }
  }
  if (queued) impl_->finish_queued(queued);
  impl_->cv.notify_all();
}

void LlmEngine::cancel_all() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, job] : impl_->live) ids.push_back(id);
  }
  for (uint64_t id : ids) cancel(id);
}

void LlmEngine::Impl::finish_queued(const std::shared_ptr<Job>& job) {
  ++cancelled;
  CompletionEvent e;
  e.done = true, e.finish_reason = "cancelled", e.prompt_tokens = int64_t(job->prompt.size());
  job->on_event(e);
}

Result<std::string> LlmEngine::format_chat(const std::vector<ChatMessage>& messages) const {
  return api::guarded([&] {
    std::vector<llm::Message> m;
    for (const ChatMessage& c : messages) m.push_back({c.role, c.content});
    return llm::format_conversation(llm::detect_chat_format(impl_->model->vocab.chat_template), m);
  });
}

Result<std::vector<int32_t>> LlmEngine::tokenize(const std::string& text, bool add_bos) const {
  return api::guarded([&] {
    std::lock_guard lock(impl_->tokenizer_mu);
    return impl_->tokenizer->encode(text, add_bos);
  });
}

LlmInfo LlmEngine::info() const {
  return api::describe_llm(*impl_->model, impl_->transformer->ctx(), impl_->transformer->kv_cache_bytes());
}

LlmEngineStats LlmEngine::stats() const {
  const Impl& m = *impl_;
  LlmEngineStats s;
  {
    std::lock_guard lock(impl_->mu);
    s.queued = int(m.queue.size());
  }
  s.slots = int(m.slots.size());
  s.active = m.active;
  s.requests = m.requests, s.prompt_tokens = m.prompt_tokens, s.cached_prompt_tokens = m.cached_prompt_tokens;
  s.generated_tokens = m.generated_tokens, s.steps = m.steps, s.step_rows = m.step_rows, s.cancelled = m.cancelled;
  return s;
}

void LlmEngine::Impl::run() {
  PoolScope scope(pool.get());
  LimitsScope limits(options.llm.limits);
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait(lock, [&] { return stopping || !queue.empty() || active > 0; });
    if (stopping) break;
    admit();
    lock.unlock();
    step();
    lock.lock();
  }
  // Shutting down: every request still here ends as cancelled.
  std::deque<std::shared_ptr<Job>> waiting = std::move(queue);
  queue.clear();
  lock.unlock();
  for (Slot& s : slots)
    if (s.job) finish(s, "cancelled");
  for (auto& job : waiting) finish_queued(job);
}

// Moves queued requests into idle slots (under mu), each to the idle slot
// whose cached tokens share the longest prefix with its prompt: those
// positions are not computed again.
void LlmEngine::Impl::admit() {
  while (!queue.empty()) {
    Slot* best = nullptr;
    size_t best_common = 0;
    const std::vector<int32_t>& prompt = queue.front()->prompt;
    for (Slot& s : slots) {
      if (s.job) continue;
      const size_t c = common_prefix(s.cached, prompt);
      if (!best || c > best_common) best = &s, best_common = c;
    }
    if (!best) return;
    Slot& s = *best;
    s.job = queue.front();
    queue.pop_front();
    // At least the prompt's last token runs again: its logits start the reply.
    const size_t reuse = std::min(best_common, prompt.size() - 1);
    s.cached.resize(reuse);
    s.prompt_fed = reuse;
    s.cached_prompt = int64_t(reuse);
    const CompletionParams& p = s.job->params;
    s.sampler = std::make_unique<llm::Sampler>(llm::SamplerOptions{p.temperature, p.top_k, p.top_p, p.min_p, p.repeat_penalty, 64, p.seed});
    // The repetition penalty looks at the last 64 tokens only.
    for (size_t i = prompt.size() > 64 ? prompt.size() - 64 : 0; i < prompt.size(); ++i) s.sampler->accept(prompt[i]);
    s.utf8 = llm::Utf8Stream();
    s.stops = api::StopFilter(p.stop);
    s.generated = 0, s.entropy_sum = 0, s.min_logprob = 0, s.next_token = -1;
    s.started = now_seconds(), s.first_token = 0;
    prompt_tokens += int64_t(prompt.size());
    cached_prompt_tokens += int64_t(reuse);
    ++active;
  }
}

void LlmEngine::Impl::step() {
  for (Slot& s : slots)
    if (s.job && s.job->cancelled) finish(s, "cancelled");
  std::vector<llm::Transformer::Row> rows;
  std::vector<Slot*> owner;  // per row
  int64_t budget = options.prefill_chunk;
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& s = slots[i];
    if (!s.job) continue;
    const std::vector<int32_t>& prompt = s.job->prompt;
    if (s.prompt_fed < prompt.size()) {
      const int64_t k = std::min<int64_t>(int64_t(prompt.size() - s.prompt_fed), budget);
      budget -= k;
      for (int64_t j = 0; j < k; ++j) {
        const size_t at = s.prompt_fed + size_t(j);
        rows.push_back({prompt[at], int32_t(i), int64_t(s.cached.size()) + j, at + 1 == prompt.size()});
        owner.push_back(&s);
      }
    } else {
      rows.push_back({s.next_token, int32_t(i), int64_t(s.cached.size()), true});
      owner.push_back(&s);
    }
  }
  if (rows.empty()) return;
  const float* logits = nullptr;
  try {
    logits = transformer->forward_rows(rows.data(), int64_t(rows.size()));
  } catch (const std::exception& e) {
    for (Slot* s : owner)
      if (s->job) {
        s->cached.clear();  // its cache may hold a partial step
        finish(*s, "error", e.what());
      }
    return;
  }
  ++steps;
  step_rows += int64_t(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    Slot& s = *owner[r];
    s.cached.push_back(rows[r].token);
    if (s.prompt_fed < s.job->prompt.size()) ++s.prompt_fed;
  }
  const int64_t vocab = model->config.vocab;
  for (size_t r = 0; r < rows.size(); ++r)
    if (rows[r].logits) {
      on_logits(*owner[r], logits);
      logits += vocab;
    }
}

// Samples the slot's next token and streams it; ends the request on an
// end-of-turn token, a stop string, max_tokens or a full context.
void LlmEngine::Impl::on_logits(Slot& s, const float* logits) {
  const int64_t vocab = model->config.vocab;
  if (s.first_token == 0) s.first_token = now_seconds();
  const api::TokenDistribution d = api::token_distribution(logits, vocab);
  s.work.assign(logits, logits + vocab);
  const int32_t token = s.sampler->sample(s.work.data(), vocab);
  if (tokenizer->ends_turn(token) && !s.job->params.ignore_eos) return finish(s, "stop");
  const float logprob = float(logits[token] - d.log_sum_exp);
  s.entropy_sum += d.entropy;
  s.min_logprob = s.generated == 0 ? logprob : std::min<double>(s.min_logprob, logprob);
  ++s.generated;
  ++generated_tokens;
  const std::string piece = tokenizer->piece(s.cached.back(), token);
  bool hit = false;
  CompletionEvent e = event_of(s);
  e.text = s.stops.push(s.utf8.push(piece), hit);
  const CompletionParams& p = s.job->params;
  if (p.logprobs) {
    TokenLogprob t{piece, logprob, {}};
    for (int32_t id : api::top_tokens(logits, vocab, p.top_logprobs))
      t.top.emplace_back(tokenizer->piece(s.cached.back(), id), float(logits[id] - d.log_sum_exp));
    e.logprobs.push_back(std::move(t));
  }
  if ((!e.text.empty() || !e.logprobs.empty()) && !s.job->on_event(e)) return finish(s, "cancelled");
  if (hit) return finish(s, "stop", {}, /*flush=*/false);
  if (p.max_tokens > 0 && s.generated >= p.max_tokens) return finish(s, "length");
  if (int64_t(s.cached.size()) >= transformer->ctx()) return finish(s, "length");
  s.sampler->accept(token);
  s.next_token = token;
}

CompletionEvent LlmEngine::Impl::event_of(const Slot& s) const {
  CompletionEvent e;
  e.prompt_tokens = int64_t(s.job->prompt.size());
  e.completion_tokens = s.generated;
  e.cached_prompt_tokens = s.cached_prompt;
  e.queue_seconds = s.started - s.job->submitted;
  const double now = now_seconds();
  e.prefill_seconds = (s.first_token > 0 ? s.first_token : now) - s.started;
  e.decode_seconds = s.first_token > 0 ? now - s.first_token : 0;
  e.mean_entropy = s.generated ? s.entropy_sum / double(s.generated) : 0;
  e.min_logprob = s.min_logprob;
  return e;
}

void LlmEngine::Impl::finish(Slot& s, const std::string& reason, const std::string& error, bool flush) {
  CompletionEvent e = event_of(s);
  e.done = true;
  e.finish_reason = reason;
  e.error = error;
  if (flush && (reason == "stop" || reason == "length")) {
    bool hit = false;
    e.text = s.stops.push(s.utf8.flush(), hit);
    e.text += s.stops.flush();
  }
  if (reason == "cancelled") ++cancelled;
  std::shared_ptr<Job> job = std::move(s.job);
  {
    std::lock_guard lock(mu);
    s.job.reset();
    live.erase(job->id);
  }
  --active;
  job->on_event(e);
}

}  // namespace pareto
