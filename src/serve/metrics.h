// Prometheus text metrics of the server: requests by endpoint and status,
// latency and time-to-first-token histograms, routing decisions, and the
// engine's tokens, queue depth and slot use.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pareto/llm_engine.hpp"

namespace pareto::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double x);
  // Appends the _bucket, _sum and _count lines of `name` (labels without braces).
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bucket, not cumulative
  double sum_ = 0;
  int64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& endpoint, int status, double seconds);
  void first_token(double seconds);
  void route(const std::string& side, const std::string& reason);
  // engine: null while the model loads.
  std::string render(const LlmEngineStats* engine) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::map<std::string, Histogram> latency_;  // by endpoint
  Histogram ttft_;
  std::map<std::pair<std::string, std::string>, int64_t> routes_;
};

}  // namespace pareto::serve
