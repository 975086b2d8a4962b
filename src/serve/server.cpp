#include "pareto/serve.hpp"

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "serve/api_error.h"
#include "serve/metrics.h"
#include "serve/openai_request.h"
#include "serve/openai_response.h"

namespace pareto::serve {

namespace {

using nlohmann::json;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Events of one completion, from the engine's thread to the HTTP worker.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<CompletionEvent> events;
  bool client_gone = false;

  bool push(const CompletionEvent& e) {
    std::lock_guard lock(mu);
    if (client_gone) return false;  // cancels the request
    events.push_back(e);
    cv.notify_one();
    return true;
  }
  // Waits up to `seconds`; false when nothing came.
  bool pop(CompletionEvent& e, double seconds) {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return !events.empty(); })) return false;
    e = std::move(events.front());
    events.pop_front();
    return true;
  }
  void close() {
    std::lock_guard lock(mu);
    client_gone = true;
  }
};

bool valid_request_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

std::string random_id() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// Compares without an early exit, so timing says nothing of the key.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(to_text(error_body(e)), "application/json");
}

std::string sse(const json& j) { return "data: " + to_text(j) + "\n\n"; }

std::string file_stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

}  // namespace

struct Server::Impl {
  ServeOptions options;
  httplib::Server http;
  Metrics metrics;
  std::shared_ptr<LlmEngine> engine;  // null while loading
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  std::string load_error;
  std::thread listener, loader;

  std::shared_ptr<LlmEngine> current_engine() const {
    std::lock_guard lock(mu);
    return engine;
  }
  void load();
  void routes();
  void completions(const httplib::Request& req, httplib::Response& res, bool chat);
  void stream(httplib::Response& res, const std::shared_ptr<LlmEngine>& eng, uint64_t id, std::shared_ptr<Channel> ch,
              ResponseIds ids, const CompletionRequest& r, double t0);
};

Server::Server(ServeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.model_name.empty()) impl_->options.model_name = file_stem(impl_->options.model_path);
}

Server::~Server() {
  stop();
  if (impl_->listener.joinable()) impl_->listener.join();
  if (impl_->loader.joinable()) impl_->loader.join();
}

int Server::start() {
  Impl& m = *impl_;
  const ServeOptions& o = m.options;
  // One worker per request that can be in flight (slots + queue) and a few
  // for health, metrics and requests the queue refuses.
  const size_t workers = size_t(o.engine.slots + o.engine.max_queue + 4);
  m.http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  m.http.set_payload_max_length(o.max_body_bytes);
  m.http.set_read_timeout(o.read_timeout_s, 0);
  m.http.set_write_timeout(o.write_timeout_s, 0);
  m.routes();
  const int port = o.port == 0 ? m.http.bind_to_any_port(o.host) : (m.http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port));
  m.listener = std::thread([&m] { m.http.listen_after_bind(); });
  m.loader = std::thread([&m] { m.load(); });
  return port;
}

bool Server::wait(std::string* load_error) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stopped; });
  if (load_error) *load_error = impl_->load_error;
  return impl_->load_error.empty();
}

void Server::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
  }
  impl_->cv.notify_all();
  impl_->http.stop();
}

bool Server::loaded() const { return impl_->current_engine() != nullptr; }

void Server::Impl::load() {
  auto opened = LlmEngine::open(options.model_path, options.engine);
  std::lock_guard lock(mu);
  if (opened.ok()) {
    engine = std::shared_ptr<LlmEngine>(std::move(opened.value()));
    return;
  }
  load_error = options.model_path + ": " + opened.status().message;
  stopped = true;
  cv.notify_all();
  http.stop();
}

void Server::Impl::routes() {
  using httplib::Request, httplib::Response;
  http.set_pre_routing_handler([this](const Request& req, Response& res) {
    std::string rid = req.get_header_value("x-request-id");
    res.set_header("x-request-id", valid_request_id(rid) ? rid : random_id());
    if (req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (!options.api_key.empty()) {
      const std::string auth = req.get_header_value("Authorization");
      if (auth.rfind("Bearer ", 0) != 0 || !same_secret(auth.substr(7), options.api_key)) {
        send_error(res, ApiError(401, "invalid_request_error", "invalid or missing API key (Authorization: Bearer KEY)", "", "invalid_api_key"));
        metrics.request(req.path, 401, 0);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (req.path.rfind("/v1/", 0) == 0 && !current_engine()) {
      send_error(res, ApiError(503, "unavailable_error", "the model is loading", "", "model_loading"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404)
      send_error(res, ApiError(404, "invalid_request_error", "no endpoint " + req.method + " " + req.path, "", "not_found"));
    else if (res.status == 413)
      send_error(res, ApiError(413, "invalid_request_error", "the request body is too large", "", "request_too_large"));
    else
      send_error(res, ApiError(res.status, "invalid_request_error", "the request could not be read (HTTP " + std::to_string(res.status) + ")"));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "server_error", what));
  });
  http.Get("/health", [this](const Request&, Response& res) {
    std::lock_guard lock(mu);
    if (!load_error.empty()) return send_error(res, ApiError(503, "unavailable_error", load_error, "", "model_load_failed"));
    if (!engine) return send_error(res, ApiError(503, "unavailable_error", "the model is loading", "", "model_loading"));
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/metrics", [this](const Request&, Response& res) {
    auto eng = current_engine();
    LlmEngineStats stats;
    if (eng) stats = eng->stats();
    res.set_content(metrics.render(eng ? &stats : nullptr), "text/plain; version=0.0.4");
  });
  http.Get("/v1/models", [this](const Request&, Response& res) {
    const LlmInfo info = current_engine()->info();
    json model = {{"id", options.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "pareto"},
                  {"meta", {{"arch", info.arch}, {"n_ctx", info.ctx}, {"n_params", info.parameters}, {"weight_type", info.weight_type},
                            {"chat_format", info.chat_format}, {"slots", options.engine.slots}}}};
    res.set_content(to_text({{"object", "list"}, {"data", {model}}}), "application/json");
  });
  http.Post("/v1/chat/completions", [this](const Request& req, Response& res) { completions(req, res, true); });
  http.Post("/v1/completions", [this](const Request& req, Response& res) { completions(req, res, false); });
}

void Server::Impl::completions(const httplib::Request& req, httplib::Response& res, bool chat) {
  const double t0 = now_s();
  const std::string endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
  try {
    const json body = parse_body(req.body);
    CompletionRequest r = chat ? parse_chat_request(body) : parse_completion_request(body);
    auto eng = current_engine();
    std::string prompt = r.prompt;
    if (chat) {
      auto formatted = eng->format_chat(r.messages);
      if (!formatted.ok()) bad_request(formatted.status().message, "messages");
      prompt = formatted.value();
    }
    auto ch = std::make_shared<Channel>();
    auto id = eng->submit(prompt, r.params, [ch](const CompletionEvent& e) { return ch->push(e); });
    if (!id.ok()) bad_request(id.status().message, r.max_tokens_given ? "max_tokens" : "messages", "context_length_exceeded");
    if (id.value() == 0) throw ApiError(429, "rate_limit_error", "the server is busy: every slot and queue place is taken", "", "queue_full");
    metrics.route("device", "default");
    ResponseIds ids{(chat ? "chatcmpl-" : "cmpl-") + res.get_header_value("x-request-id"), options.model_name, int64_t(std::time(nullptr)),
                    "device", "default"};
    res.set_header("x-pareto-served-by", "device");
    res.set_header("x-pareto-route-reason", "default");
    if (r.stream) return stream(res, eng, id.value(), ch, ids, r, t0);
    std::string text = r.echo ? prompt : "";
    const size_t first_offset = text.size();
    std::vector<TokenLogprob> logprobs;
    CompletionEvent e;
    bool first = true;
    for (;;) {
      if (!ch->pop(e, 1.0)) continue;
      if (first && e.completion_tokens > 0) metrics.first_token(now_s() - t0), first = false;
      text += e.text;
      for (auto& t : e.logprobs) logprobs.push_back(std::move(t));
      if (e.done) break;
    }
    if (e.finish_reason == "error") throw ApiError(500, "server_error", e.error);
    json out = chat ? chat_response(ids, text, logprobs, r.params.logprobs, e)
                    : completion_response(ids, text, logprobs, r.params.logprobs, first_offset, e);
    res.set_content(to_text(out), "application/json");
    metrics.request(endpoint, 200, now_s() - t0);
  } catch (const ApiError& e) {
    send_error(res, e);
    metrics.request(endpoint, e.status, now_s() - t0);
  }
}

// Server-sent events: one chunk per piece of text, the finish reason, the
// usage when asked, then [DONE]. A client that goes away cancels the request.
void Server::Impl::stream(httplib::Response& res, const std::shared_ptr<LlmEngine>& eng, uint64_t id, std::shared_ptr<Channel> ch,
                          ResponseIds ids, const CompletionRequest& r, double t0) {
  const bool chat = r.chat, include_usage = r.include_usage, want_logprobs = r.params.logprobs;
  const std::string echo = r.echo ? r.prompt : "";
  const std::string endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
  auto started = std::make_shared<bool>(false);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, ch, ids, chat, include_usage, want_logprobs, echo, endpoint, started, t0](size_t, httplib::DataSink& sink) {
        auto send = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        if (!*started) {
          *started = true;
          const bool ok = chat ? send(sse(chat_chunk(ids, {{"role", "assistant"}, {"content", ""}}, nullptr, "")))
                               : (echo.empty() || send(sse(completion_chunk(ids, echo, nullptr, ""))));
          if (!ok) return false;
        }
        CompletionEvent e;
        if (!ch->pop(e, 1.0)) return sink.is_writable();  // nothing yet: see whether the client is still there
        if (e.completion_tokens == 1 && !e.text.empty()) metrics.first_token(now_s() - t0);
        if (!e.text.empty() || !e.logprobs.empty()) {
          json lp = want_logprobs ? (chat ? chat_logprobs_json(e.logprobs) : legacy_logprobs_json(e.logprobs, 0)) : json(nullptr);
          const json chunk = chat ? chat_chunk(ids, {{"content", e.text}}, lp, "") : completion_chunk(ids, e.text, lp, "");
          if (!send(sse(chunk))) return false;
        }
        if (!e.done) return true;
        if (e.finish_reason == "error") {
          send(sse(error_body(ApiError(500, "server_error", e.error))));
        } else {
          const std::string reason = openai_finish_reason(e.finish_reason);
          send(sse(chat ? chat_chunk(ids, json::object(), nullptr, reason) : completion_chunk(ids, "", nullptr, reason)));
          if (include_usage) send(sse(usage_chunk(ids, chat, e)));
        }
        send("data: [DONE]\n\n");
        sink.done();
        metrics.request(endpoint, 200, now_s() - t0);
        return true;
      },
      [ch, eng, id](bool success) {
        if (success) return;
        ch->close();  // the client went away: stop generating
        eng->cancel(id);
      });
}

}  // namespace pareto::serve
