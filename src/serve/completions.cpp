// /v1/chat/completions and /v1/completions: parsing, the route decision,
// the device's answer (whole or streamed as server-sent events) and the
// upstream's when the router sends the request there.
#include <ctime>

#include "serve/client_connection.h"
#include "serve/server_impl.h"

namespace pareto::serve {

using nlohmann::json;

namespace {

// How often a whole (not streamed) answer looks whether its client is still there.
constexpr double kClientLookSeconds = 0.25;
// The status metrics count a request under when its client left first (nginx's 499).
constexpr int kClientClosedRequest = 499;

std::string route_comment(const std::string& side, const std::string& reason) {
  return ": pareto served_by=" + side + " route_reason=" + reason + "\n\n";
}

json pareto_upstream_field(const std::string& reason, const CompletionEvent* device) {
  json p = {{"served_by", "upstream"}, {"route_reason", reason}};
  if (device) p["device_confidence"] = {{"mean_entropy", device->mean_entropy}, {"min_logprob", device->min_logprob}};
  return p;
}

// A streamed completion: the device's events as SSE chunks, or the
// upstream's bytes passed through. With the confidence check on, the
// device's chunks are held until its first K tokens are judged, so a
// client never sees device text before an upstream answer.
struct StreamState {
  Server::Impl* impl = nullptr;
  std::shared_ptr<LlmEngine> eng;
  ResponseIds ids;
  bool chat = false, include_usage = false, want_logprobs = false;
  std::string echo, endpoint, path, prompt, reason;
  json body;
  CompletionParams params;
  double t0 = 0;
  bool upstream_first = false, check = false;
  // progress
  uint64_t id = 0;
  std::shared_ptr<Channel> ch = std::make_shared<Channel>();
  bool started = false, decided = false, counted_first = false;
  size_t text_offset = 0;  // legacy logprobs: where the next token starts in the text
  std::vector<std::string> held;

  // The device takes over after the upstream failed; the error text when it cannot.
  std::string submit() {
    auto r = eng->submit(prompt, params, [c = ch](const CompletionEvent& e) { return c->push(e); });
    if (!r.ok()) return r.status().message;
    id = r.value();
    return id ? "" : "the upstream failed and every slot and queue place of the device is taken";
  }
  // Passes the upstream's stream through; true when it answered. `wrote`
  // tells whether any byte went out (then there is no way back).
  bool try_upstream(httplib::DataSink& sink, const std::string& why, bool& wrote) {
    wrote = false;
    Router::Reply up = impl->router.stream(path, body, [&](const char* d, size_t n) {
      if (!wrote) {
        wrote = true;
        const std::string c = route_comment("upstream", why);
        if (!sink.write(c.data(), c.size())) return false;
      }
      return sink.write(d, n);
    });
    if (!up.ok || !wrote) return false;  // an empty event stream is no answer either
    if (id) eng->cancel(id), ch->close();  // the device's answer is not needed any more
    impl->metrics.route("upstream", why);
    impl->metrics.request(endpoint, 200, now_s() - t0);
    sink.done();
    return true;
  }
  std::string chunk_of(const CompletionEvent& e) {
    std::string out;
    if (!e.text.empty() || !e.logprobs.empty()) {
      json lp = want_logprobs ? (chat ? chat_logprobs_json(e.logprobs) : legacy_logprobs_json(e.logprobs, text_offset)) : json(nullptr);
      for (const TokenLogprob& t : e.logprobs) text_offset += t.token.size();
      out += sse(chat ? chat_chunk(ids, {{"content", e.text}}, lp, "") : completion_chunk(ids, e.text, lp, ""));
    }
    if (!e.done) return out;
    if (e.finish_reason == "error") {
      out += sse(error_body(ApiError(500, "server_error", e.error)));
    } else if (e.finish_reason == "cancelled") {  // the server is stopping: not a finished answer
      out += sse(error_body(ApiError(503, "unavailable_error", "the server is stopping", "", "shutting_down")));
    } else {
      const std::string fr = openai_finish_reason(e.finish_reason);
      out += sse(chat ? chat_chunk(ids, json::object(), nullptr, fr) : completion_chunk(ids, "", nullptr, fr));
      if (include_usage) out += sse(usage_chunk(ids, chat, e));
    }
    return out + "data: [DONE]\n\n";
  }
  bool pump(httplib::DataSink& sink);
};

bool StreamState::pump(httplib::DataSink& sink) {
  auto send = [&](const std::string& s) { return s.empty() || sink.write(s.data(), s.size()); };
  if (!started) {
    started = true;
    if (upstream_first) {
      bool wrote = false;
      if (try_upstream(sink, reason, wrote)) return true;
      if (wrote) return false;  // broken half-way: the client sees a cut stream
      reason = ids.route_reason = "upstream_failed";
      if (const std::string error = submit(); !error.empty()) {  // the headers are out: the error goes as an event
        send(sse(error_body(ApiError(503, "unavailable_error", error, "", "upstream_failed"))) + "data: [DONE]\n\n");
        impl->metrics.request(endpoint, 503, now_s() - t0);
        sink.done();
        return true;
      }
    }
    if (upstream_first || check) send(route_comment(check ? "pending" : "device", reason));
    const std::string first = chat ? sse(chat_chunk(ids, {{"role", "assistant"}, {"content", ""}}, nullptr, ""))
                                   : (echo.empty() ? "" : sse(completion_chunk(ids, echo, nullptr, "")));
    if (check) held.push_back(first);
    else if (!send(first)) return false;
  }
  CompletionEvent e;
  // Nothing for a second (queued, or a long prompt): a comment line, which
  // SSE clients ignore, finds out whether the client is still there.
  if (!ch->pop(e, 1.0)) return send(": ping\n\n");
  if (!counted_first && e.completion_tokens > 0) counted_first = true, impl->metrics.first_token(now_s() - t0);
  if (e.done && (e.finish_reason == "stop" || e.finish_reason == "length")) impl->speed.observe(e);
  std::string out = chunk_of(e);
  if (check && !decided) {
    held.push_back(std::move(out));
    if (e.completion_tokens < impl->router.confidence_tokens() && !e.done) return true;
    decided = true;
    if (impl->router.unsure(e.mean_entropy, e.min_logprob)) {
      bool wrote = false;
      if (try_upstream(sink, "low_confidence", wrote)) return true;
      if (wrote) return false;
      reason = ids.route_reason = "low_confidence_upstream_failed";
    }
    out = route_comment("device", reason);
    for (std::string& h : held) out += h;
    held.clear();
  }
  if (!send(out)) return false;
  if (e.done) {
    impl->metrics.route("device", reason);
    impl->metrics.request(endpoint, 200, now_s() - t0);
    sink.done();
  }
  return true;
}

// A request the engine refused: the context (prompt or max_tokens too
// long) is context_length_exceeded, a stopping engine 503, the rest 400.
[[noreturn]] void refused(const Status& st, const CompletionRequest& r, const std::string& max_tokens_name) {
  const std::string& m = st.message;
  if (m.find("shutting down") != std::string::npos) throw ApiError(503, "unavailable_error", m, "", "shutting_down");
  if (m.find("max_tokens") != std::string::npos) bad_request(m, max_tokens_name, "context_length_exceeded");
  if (m.find("context") != std::string::npos) bad_request(m, r.chat ? "messages" : "prompt", "context_length_exceeded");
  bad_request(m, m.find("stop") != std::string::npos ? "stop" : "");
}

// Queues the completion on the device, its events into `ch`; the HTTP error
// when the engine refuses it or has no place for it.
uint64_t submit_or_throw(LlmEngine& eng, const std::string& prompt, const CompletionRequest& r, const std::shared_ptr<Channel>& ch,
                         const std::string& max_tokens_name) {
  auto id = eng.submit(prompt, r.params, [ch](const CompletionEvent& e) { return ch->push(e); });
  if (!id.ok()) refused(id.status(), r, max_tokens_name);
  if (id.value() == 0) throw ApiError(429, "rate_limit_error", "the server is busy: every slot and queue place is taken", "", "queue_full");
  return id.value();
}

}  // namespace

bool Server::Impl::answer_upstream(httplib::Response& res, const std::string& path, const json& body, const std::string& reason,
                                   const CompletionEvent* device, double t0, const std::string& endpoint) {
  Router::Reply up = router.post(path, body);
  if (!up.ok) return false;
  // An upstream's answer is input like any other: bounded depth, and a
  // completion only if it has choices (else the device answers).
  json out = parse_json_bounded(up.body);
  if (!out.is_object() || !out.contains("choices") || !out["choices"].is_array() || out["choices"].empty()) return false;
  out["pareto"] = pareto_upstream_field(reason, device);
  res.set_header("x-pareto-served-by", "upstream");
  res.set_header("x-pareto-route-reason", reason);
  res.set_content(to_text(out), "application/json");
  metrics.route("upstream", reason);
  metrics.request(endpoint, 200, now_s() - t0);
  return true;
}

void Server::Impl::completions(const httplib::Request& req, httplib::Response& res, bool chat) {
  const double t0 = now_s();
  const std::string endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
  if (!admitted(req, res, true)) return;
  try {
    const json body = parse_body(req.body);
    CompletionRequest r = chat ? parse_chat_request(body) : parse_completion_request(body);
    const std::string private_header = req.get_header_value("x-pareto-private");
    const bool private_request = r.private_request || private_header == "1" || private_header == "true";
    auto eng = current_engine();
    std::string prompt = r.prompt;
    if (chat) {
      auto formatted = eng->format_chat(r.messages);
      if (!formatted.ok()) bad_request(formatted.status().message, "messages");
      prompt = formatted.value();
    }
    // The route: private, latency budget (estimated from measured speeds), or the device.
    // Without an upstream there is nothing to estimate (and no second tokenization).
    int64_t prompt_tokens = 0;
    if (router.has_upstream()) {
      auto tokens = eng->tokenize(prompt, r.params.add_bos);
      prompt_tokens = tokens.ok() ? int64_t(tokens.value().size()) : 0;
    }
    // A request without max_tokens is estimated at kAssumedReply tokens, not the whole context.
    constexpr int64_t kAssumedReply = 256;
    const int64_t max_out = r.params.max_tokens > 0 ? r.params.max_tokens : kAssumedReply;
    Route route = router.decide(private_request, prompt_tokens, max_out, speed);
    if (route.upstream && !r.stream && answer_upstream(res, endpoint, body, route.reason, nullptr, t0, endpoint)) return;
    ResponseIds ids{(chat ? "chatcmpl-" : "cmpl-") + res.get_header_value("x-request-id"), options.model_name, int64_t(std::time(nullptr)),
                    "device", route.upstream && !r.stream ? "upstream_failed" : route.reason};
    // No second try of an upstream that has just failed.
    const bool check = !private_request && !route.upstream && router.confidence_check_enabled();
    const std::string max_tokens_name = body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (r.stream) {
      auto st = std::make_shared<StreamState>();
      st->impl = this, st->eng = eng, st->ids = ids, st->chat = chat, st->include_usage = r.include_usage;
      st->want_logprobs = r.params.logprobs, st->echo = r.echo ? r.prompt : "", st->endpoint = endpoint, st->path = endpoint;
      st->prompt = prompt, st->reason = ids.route_reason, st->body = body, st->params = r.params, st->t0 = t0;
      st->upstream_first = route.upstream, st->check = check;
      st->text_offset = st->echo.size();  // legacy logprobs count offsets in the returned text, echo included
      if (!st->upstream_first) {
        st->id = submit_or_throw(*eng, prompt, r, st->ch, max_tokens_name);
      }
      const bool known = !st->upstream_first && !st->check;
      res.set_header("x-pareto-served-by", known ? "device" : "in-stream");
      res.set_header("x-pareto-route-reason", known ? ids.route_reason : "in-stream");
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider(
          "text/event-stream", [st](size_t, httplib::DataSink& sink) { return st->pump(sink); },
          [st](bool success) {
            if (success) return;
            st->ch->close();  // the client went away: stop generating
            if (st->id) st->eng->cancel(st->id);
            st->impl->metrics.request(st->endpoint, kClientClosedRequest, now_s() - st->t0);
          });
      return;
    }
    auto ch = std::make_shared<Channel>();
    const uint64_t id = submit_or_throw(*eng, prompt, r, ch, max_tokens_name);
    std::string text = r.echo ? prompt : "";
    const size_t first_offset = text.size();
    std::vector<TokenLogprob> logprobs;
    CompletionEvent e, judged;  // judged: the state after the first K tokens
    bool first = true, have_judged = false;
    // Nothing is written before the whole answer, so the connection is
    // looked at a few times a second: a client that left frees its slot.
    ClientConnection client(req);
    double next_look = now_s() + kClientLookSeconds;
    for (;;) {
      const bool got = ch->pop(e, kClientLookSeconds);
      if (now_s() >= next_look) {
        next_look = now_s() + kClientLookSeconds;
        if (client.closed()) {
          ch->close();
          eng->cancel(id);
          // Nobody reads this; it keeps a half-closed client from taking an empty 200 for an answer.
          send_error(res, ApiError(kClientClosedRequest, "invalid_request_error", "the client closed the connection", "", "client_closed"));
          res.set_header("Connection", "close");
          metrics.request(endpoint, kClientClosedRequest, now_s() - t0);
          return;
        }
      }
      if (!got) continue;
      if (first && e.completion_tokens > 0) metrics.first_token(now_s() - t0), first = false;
      if (!have_judged && (e.completion_tokens >= router.confidence_tokens() || e.done)) judged = e, have_judged = true;
      text += e.text;
      for (auto& t : e.logprobs) logprobs.push_back(std::move(t));
      if (e.done) break;
    }
    if (e.finish_reason == "error") throw ApiError(500, "server_error", e.error);
    if (e.finish_reason == "cancelled") throw ApiError(503, "unavailable_error", "the server is stopping", "", "shutting_down");
    speed.observe(e);
    if (check && router.unsure(judged.mean_entropy, judged.min_logprob)) {
      if (answer_upstream(res, endpoint, body, "low_confidence", &judged, t0, endpoint)) return;
      ids.route_reason = "low_confidence_upstream_failed";
    }
    res.set_header("x-pareto-served-by", "device");
    res.set_header("x-pareto-route-reason", ids.route_reason);
    json out = chat ? chat_response(ids, text, logprobs, r.params.logprobs, e)
                    : completion_response(ids, text, logprobs, r.params.logprobs, first_offset, e);
    res.set_content(to_text(out), "application/json");
    metrics.route("device", ids.route_reason);
    metrics.request(endpoint, 200, now_s() - t0);
  } catch (const ApiError& e) {
    send_error(res, e);
    metrics.request(endpoint, e.status, now_s() - t0);
  }
}

}  // namespace pareto::serve
