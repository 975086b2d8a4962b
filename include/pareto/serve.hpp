// `pareto serve`: an OpenAI-compatible HTTP server over one LLM engine.
// The server listens at once and loads the model in the background (/health
// answers 503 until it is ready). Implemented by the serve layer (the
// pareto_serve library the CLI links; not installed, nor this header).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "pareto/llm_engine.hpp"

namespace pareto::serve {

// Hybrid routing (see src/serve/router.h for the rules' order).
struct RouteOptions {
  std::string upstream;        // OpenAI-compatible base URL (http://host:port or .../v1); empty: device only
  std::string upstream_key;    // sent as Authorization: Bearer
  std::string upstream_model;  // the model name sent upstream; empty: the client's
  double upstream_timeout_s = 30;
  double max_device_seconds = 0;  // latency budget of the device; 0: none
  int confidence_tokens = 0;      // tokens the device writes before its confidence is judged; 0: no check
  double max_entropy = 0;         // > 0: mean entropy (nats) above this is unsure
  double min_logprob = 0;         // < 0: a chosen token below this log-probability is unsure
};

struct ServeOptions {
  std::string model_path;
  std::string model_name;  // as /v1/models lists it; empty: the file's name without extension
  LlmEngineOptions engine;
  std::string host = "127.0.0.1";
  int port = 8080;                         // 0: any free port
  std::string api_key;                     // empty: no key asked
  size_t max_body_bytes = size_t(4) << 20;  // larger bodies get 413
  int read_timeout_s = 30, write_timeout_s = 60;
  RouteOptions route;
};

class Server {
 public:
  explicit Server(ServeOptions options);
  ~Server();
  // Binds and starts serving and loading in the background; returns the
  // port. Throws std::runtime_error when the address cannot be bound.
  int start();
  // Blocks until stop() (or a failed load, which it returns as false with the message).
  bool wait(std::string* load_error = nullptr);
  void stop();
  bool loaded() const;

  struct Impl;  // src/serve/server_impl.h

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pareto::serve
