// `pareto serve`: an OpenAI-compatible HTTP server over one LLM engine.
// The server listens at once and loads the model in the background (/health
// answers 503 until it is ready). Implemented by the serve layer (the
// pareto_serve library the CLI links; not installed, nor this header).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

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
  // The perception endpoints (/v1/ocr, /v1/vad): models found as `pareto
  // ocr` and `pareto vad` find them unless given; opened on first use.
  std::string ocr_models, vad_model;
  // /v1/classify: an image classifier (TFLite or ONNX) and its labels file;
  // without a model the endpoint answers 503.
  std::string classify_model, classify_labels;
  // /v1/wakeword: openWakeWord's models (found as `pareto wakeword` finds them unless given).
  std::string wakeword_models;
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

// Calibrates the confidence thresholds: every prompt goes to the device
// (as a private request, so it answers itself) and to the upstream, both
// greedy for `max_tokens` tokens; the device's confidence, both texts and
// both latencies are kept. The curve: for each threshold, the share of
// requests the router would send upstream against the agreement of the
// final answers with the upstream's (1 for those sent up, the text
// similarity for those kept).
struct CalibrateOptions {
  std::string device_url, device_key, upstream_url, upstream_key, upstream_model;
  std::vector<std::string> prompts;
  int max_tokens = 16;
  double timeout_s = 120;
};
struct CalibrationSample {
  std::string prompt, device_text, upstream_text;
  double mean_entropy = 0, min_logprob = 0, similarity = 0, device_ms = 0, upstream_ms = 0;
};
struct CalibrationPoint {
  std::string signal;  // mean_entropy (unsure above) or min_logprob (unsure below)
  double threshold = 0, upstream_share = 0, agreement = 0, mean_ms = 0;
};
struct CalibrationReport {
  std::vector<CalibrationSample> samples;
  std::vector<CalibrationPoint> curve;
};
// Throws std::runtime_error naming the side and prompt when a call fails.
CalibrationReport calibrate_routing(const CalibrateOptions& options);
// 1 - edit distance / longer length (bytes); 1 for two empty texts.
double text_similarity(const std::string& a, const std::string& b);

}  // namespace pareto::serve
