// The server's insides, shared by server.cpp (set-up, small endpoints) and
// completions.cpp (the completion endpoints, streaming and routing).
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "pareto/serve.hpp"
#include "serve/api_error.h"
#include "serve/metrics.h"
#include "serve/openai_request.h"
#include "serve/openai_response.h"
#include "serve/router.h"

namespace pareto::serve {

inline double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

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

inline void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(to_text(error_body(e)), "application/json");
}

inline std::string sse(const nlohmann::json& j) { return "data: " + to_text(j) + "\n\n"; }

// Metrics label a request by its endpoint, never by a path a client made up.
inline std::string endpoint_label(const std::string& path) {
  for (const char* known : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/ocr", "/v1/vad", "/v1/classify", "/metrics", "/health"})
    if (path == known) return known;
  return "other";
}

struct Server::Impl {
  explicit Impl(ServeOptions o) : options(std::move(o)), router(options.route) {}
  ServeOptions options;
  Router router;
  SpeedEstimate speed;
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
  void warm_up(LlmEngine& engine);
  void routes();
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // A POST route whose body is read here, counting bytes as they arrive
  // (after any Content-Encoding is undone): httplib 0.11's own limit holds
  // only for bodies with a Content-Length, not for chunked, unsized or
  // compressed ones.
  void post(const std::string& path, Handler handler);
  // The API key and, for the endpoints that need it, the loaded model; false after answering the error.
  bool admitted(const httplib::Request& req, httplib::Response& res, bool needs_model);
  void app_routes();  // /v1/ocr, /v1/vad and /v1/classify (apps.cpp)
  struct Apps;
  std::shared_ptr<Apps> apps;
  void completions(const httplib::Request& req, httplib::Response& res, bool chat);
  // Answers from the upstream (stream: false); false when it failed.
  bool answer_upstream(httplib::Response& res, const std::string& path, const nlohmann::json& body, const std::string& reason,
                       const CompletionEvent* device, double t0, const std::string& endpoint);
};

}  // namespace pareto::serve
