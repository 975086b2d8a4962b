// Hybrid routing: which side answers a completion, the device or an
// OpenAI-compatible upstream server, and the calls to that upstream.
// The order of the rules: a private request never leaves the device; a
// request whose estimated device time exceeds the budget goes upstream;
// otherwise the device answers, and when its first tokens look unsure
// (mean entropy above, or lowest log-probability below, a threshold) the
// request is asked again upstream. An upstream that fails or times out is
// answered by the device.
#pragma once
#include <functional>
#include <mutex>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "pareto/serve.hpp"

namespace pareto::serve {

struct Route {
  bool upstream = false;
  std::string reason;  // private, no_upstream, latency_budget, within_budget, low_confidence, upstream_failed, ...
  double estimated_seconds = 0;
};

// Device speed from the completions it served (moving averages), for the
// latency estimate.
class SpeedEstimate {
 public:
  void observe(const CompletionEvent& last);
  // Seconds to read `prompt_tokens` and write `max_tokens`; 0 before any measurement.
  double seconds(int64_t prompt_tokens, int64_t max_tokens) const;

 private:
  mutable std::mutex mu_;
  double prefill_tps_ = 0, decode_tps_ = 0;
};

class Router {
 public:
  explicit Router(const RouteOptions& options);
  bool has_upstream() const { return !options_.upstream.empty(); }
  Route decide(bool private_request, int64_t prompt_tokens, int64_t max_tokens, const SpeedEstimate& speed) const;
  // Whether the device's first tokens are unsure enough to ask upstream
  // (mean entropy and lowest log-probability over them).
  bool confidence_check_enabled() const;
  int confidence_tokens() const { return options_.confidence_tokens; }
  bool unsure(double mean_entropy, double min_logprob) const;

  struct Reply {
    bool ok = false;
    int status = 0;
    std::string body, error;
  };
  // POSTs the request body (model replaced by --upstream-model, pareto's own
  // fields removed) to PATH ("/v1/chat/completions") upstream.
  Reply post(const std::string& path, nlohmann::json body, bool keep_pareto_fields = false) const;
  // Same with stream: true, passing the upstream's bytes to on_bytes as they
  // come (return false to stop). ok when it answered 200 and finished.
  Reply stream(const std::string& path, nlohmann::json body, const std::function<bool(const char*, size_t)>& on_bytes) const;

 private:
  nlohmann::json upstream_body(nlohmann::json body, bool keep_pareto_fields = false) const;
  // The POST of `body` to PATH upstream, with the key and the stream flag set.
  httplib::Request upstream_request(const std::string& path, nlohmann::json body, bool stream, bool keep_pareto_fields) const;
  void set_timeouts(httplib::Client& client) const;
  RouteOptions options_;
  std::string scheme_host_port_, path_prefix_;
};

}  // namespace pareto::serve
