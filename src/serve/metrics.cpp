#include "serve/metrics.h"

#include <cstdio>

namespace pareto::serve {

namespace {

const std::vector<double> kLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

std::string number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

// Label values escaped as the text format asks (backslash, quote, newline).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double x) {
  size_t i = 0;
  while (i < bounds_.size() && x > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += x;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  int64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics() : ttft_(kLatencyBounds) {}

void Metrics::request(const std::string& endpoint, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, status}];
  latency_.try_emplace(endpoint, kLatencyBounds).first->second.observe(seconds);
}

void Metrics::first_token(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void Metrics::route(const std::string& side, const std::string& reason) {
  std::lock_guard lock(mu_);
  ++routes_[{side, reason}];
}

std::string Metrics::render(const LlmEngineStats* engine) const {
  std::lock_guard lock(mu_);
  std::string out;
  header(out, "pareto_requests_total", "counter", "HTTP requests by endpoint and status.");
  for (const auto& [key, n] : requests_)
    out += "pareto_requests_total{endpoint=\"" + label(key.first) + "\",status=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  header(out, "pareto_request_duration_seconds", "histogram", "Time from request to the last byte of the response.");
  for (const auto& [endpoint, h] : latency_) h.render(out, "pareto_request_duration_seconds", "endpoint=\"" + label(endpoint) + "\"");
  header(out, "pareto_time_to_first_token_seconds", "histogram", "Time from request to the first generated token.");
  ttft_.render(out, "pareto_time_to_first_token_seconds", "");
  header(out, "pareto_route_decisions_total", "counter", "Which side served a completion, and why.");
  for (const auto& [key, n] : routes_)
    out += "pareto_route_decisions_total{side=\"" + label(key.first) + "\",reason=\"" + label(key.second) + "\"} " + std::to_string(n) + "\n";
  header(out, "pareto_model_loaded", "gauge", "1 once the model is loaded.");
  out += std::string("pareto_model_loaded ") + (engine ? "1" : "0") + "\n";
  if (!engine) return out;
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    header(out, name, "gauge", help);
    out += std::string(name) + " " + std::to_string(v) + "\n";
  };
  auto counter = [&](const char* name, const char* help, int64_t v) {
    header(out, name, "counter", help);
    out += std::string(name) + " " + std::to_string(v) + "\n";
  };
  gauge("pareto_slots", "Parallel sequences (slots).", engine->slots);
  gauge("pareto_slots_active", "Slots serving a request now.", engine->active);
  gauge("pareto_queue_depth", "Requests waiting for a slot.", engine->queued);
  counter("pareto_engine_requests_total", "Completions accepted by the engine.", engine->requests);
  counter("pareto_prompt_tokens_total", "Prompt tokens of accepted completions.", engine->prompt_tokens);
  counter("pareto_prompt_tokens_cached_total", "Prompt tokens reused from a slot's cache.", engine->cached_prompt_tokens);
  counter("pareto_generated_tokens_total", "Tokens generated.", engine->generated_tokens);
  counter("pareto_requests_cancelled_total", "Completions that ended cancelled (client gone, server stopping).", engine->cancelled);
  counter("pareto_engine_steps_total", "Batched forward passes.", engine->steps);
  counter("pareto_engine_step_rows_total", "Tokens run by those passes (rows / steps = mean batch).", engine->step_rows);
  return out;
}

}  // namespace pareto::serve
