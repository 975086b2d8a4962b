// pareto serve: set-up, loading, authentication, errors and the small
// endpoints (health, metrics, models).
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "serve/server_impl.h"

namespace pareto::serve {

namespace {

using nlohmann::json;

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

std::string file_stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

}  // namespace

Server::Server(ServeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
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
  // A worker per request that can be in flight (slots + queue) and more for
  // idle keep-alive connections, health, metrics, the apps and requests the
  // queue refuses.
  const size_t workers = size_t(o.engine.slots + o.engine.max_queue + 32);
  m.http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  m.http.set_payload_max_length(o.max_body_bytes);
  m.http.set_read_timeout(o.read_timeout_s, 0);
  m.http.set_write_timeout(o.write_timeout_s, 0);
  m.routes();
  const int port = o.port == 0 ? m.http.bind_to_any_port(o.host) : (m.http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port));
  m.listener = std::thread([&m] { m.http.listen_after_bind(); });
  // httplib's stop() does nothing before the listener runs: a load that
  // fails at once must find it running, or the listener would never end.
  for (int i = 0; i < 5000 && !m.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
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
  // Requests still generating end now (their handlers are waiting on them).
  if (auto eng = impl_->current_engine()) eng->cancel_all();
  impl_->http.stop();
}

bool Server::loaded() const { return impl_->current_engine() != nullptr; }

void Server::Impl::load() {
  auto opened = LlmEngine::open(options.model_path, options.engine);
  if (opened.ok() && options.route.max_device_seconds > 0) warm_up(*opened.value());
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

// One short completion before serving, so the latency budget has measured
// prefill and decode speeds from the first request on.
void Server::Impl::warm_up(LlmEngine& eng) {
  std::string prompt;
  for (int i = 0; i < 2; ++i) prompt += "The quick brown fox jumps over the lazy dog. ";
  CompletionParams p;
  p.temperature = 0, p.max_tokens = 16;
  auto ch = std::make_shared<Channel>();
  if (!eng.submit(prompt, p, [ch](const CompletionEvent& e) { return ch->push(e); }).ok()) return;
  CompletionEvent e;
  while (!(ch->pop(e, 60.0) && e.done)) {
  }
  speed.observe(e);
}

// The key and the loading state are checked in the handlers, after httplib
// has read the body: answering before it (a pre-routing handler) would leave
// the body in the connection, to be parsed as the next request.
bool Server::Impl::admitted(const httplib::Request& req, httplib::Response& res, bool needs_model) {
  if (!options.api_key.empty()) {
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) != 0 || !same_secret(auth.substr(7), options.api_key)) {
      send_error(res, ApiError(401, "invalid_request_error", "invalid or missing API key (Authorization: Bearer KEY)", "", "invalid_api_key"));
      metrics.request(endpoint_label(req.path), 401, 0);
      return false;
    }
  }
  if (needs_model && !current_engine()) {
    send_error(res, ApiError(503, "unavailable_error", "the model is loading", "", "model_loading"));
    metrics.request(endpoint_label(req.path), 503, 0);
    return false;
  }
  return true;
}

void Server::Impl::post(const std::string& path, Handler handler) {
  http.Post(path, [this, path, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                                            const httplib::ContentReader& read) {
    const size_t limit = options.max_body_bytes;
    auto refuse = [&](const ApiError& e) {
      send_error(res, e);
      res.set_header("Connection", "close");  // the rest of the body is still in the connection
      metrics.request(endpoint_label(path), e.status, 0);
    };
    const ApiError too_large(413, "invalid_request_error", "the request body is too large (the limit is " + std::to_string(limit) + " bytes)",
                             "", "request_too_large");
    // Multipart framing (part headers, boundaries) is not counted by the
    // reader below: such a body must say its length up front.
    if (req.is_multipart_form_data() && !req.has_header("Content-Length"))
      return refuse(ApiError(411, "invalid_request_error", "a multipart body needs a Content-Length", "", "length_required"));
    if (req.has_header("Content-Length")) {
      const std::string n = req.get_header_value("Content-Length");
      if (n.size() > 19 || std::strtoull(n.c_str(), nullptr, 10) > limit) return refuse(too_large);
    }
    httplib::Request full = req;
    size_t total = 0;
    bool over = false;
    auto take = [&](std::string& into, const char* data, size_t n) {
      total += n;
      if (total > limit) return !(over = true);
      into.append(data, n);
      return true;
    };
    bool ok = false;
    if (req.is_multipart_form_data()) {
      constexpr size_t kMaxParts = 16;
      std::vector<httplib::MultipartFormData> parts;
      ok = read([&](const httplib::MultipartFormData& part) { parts.push_back(part); return parts.size() <= kMaxParts; },
                [&](const char* data, size_t n) { return !parts.empty() && take(parts.back().content, data, n); });
      for (httplib::MultipartFormData& part : parts) full.files.emplace(part.name, std::move(part));
    } else {
      ok = read([&](const char* data, size_t n) { return take(full.body, data, n); });
    }
    if (over) return refuse(too_large);
    if (!ok) return refuse(ApiError(400, "invalid_request_error", "the request body could not be read (cut short, or a malformed chunked or multipart body)"));
    handler(full, res);
  });
}

void Server::Impl::routes() {
  using httplib::Request, httplib::Response;
  http.set_pre_routing_handler([this](const Request& req, Response& res) {
    std::string rid = req.get_header_value("x-request-id");
    res.set_header("x-request-id", valid_request_id(rid) ? rid : random_id());
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse([max_body = options.max_body_bytes](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404)
      send_error(res, ApiError(404, "invalid_request_error", "no endpoint " + req.method + " " + req.path, "", "not_found"));
    else if (res.status == 413)
      send_error(res, ApiError(413, "invalid_request_error", "the request body is too large (the limit is " + std::to_string(max_body) + " bytes)",
                               "", "request_too_large"));
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
  http.Get("/metrics", [this](const Request& req, Response& res) {
    if (!admitted(req, res, false)) return;
    auto eng = current_engine();
    LlmEngineStats stats;
    if (eng) stats = eng->stats();
    res.set_content(metrics.render(eng ? &stats : nullptr), "text/plain; version=0.0.4");
  });
  http.Get("/v1/models", [this](const Request& req, Response& res) {
    if (!admitted(req, res, true)) return;
    const LlmInfo info = current_engine()->info();
    json model = {{"id", options.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "pareto"},
                  {"meta", {{"arch", info.arch}, {"n_ctx", info.ctx}, {"n_params", info.parameters}, {"weight_type", info.weight_type},
                            {"chat_format", info.chat_format}, {"slots", options.engine.slots}}}};
    res.set_content(to_text({{"object", "list"}, {"data", {model}}}), "application/json");
  });
  post("/v1/chat/completions", [this](const Request& req, Response& res) { completions(req, res, true); });
  post("/v1/completions", [this](const Request& req, Response& res) { completions(req, res, false); });
  app_routes();
}

}  // namespace pareto::serve
