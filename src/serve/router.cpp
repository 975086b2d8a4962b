#include "serve/router.h"

#include <httplib.h>

#include <stdexcept>

namespace pareto::serve {

namespace {

using nlohmann::json;

constexpr size_t kMaxUpstreamReply = size_t(16) << 20;

// An exponential moving average that starts at the first value.
void blend(double& avg, double x) { avg = avg == 0 ? x : 0.8 * avg + 0.2 * x; }

}  // namespace

void SpeedEstimate::observe(const CompletionEvent& e) {
  std::lock_guard lock(mu_);
  const int64_t computed = e.prompt_tokens - e.cached_prompt_tokens;
  if (computed >= 4 && e.prefill_seconds > 0) blend(prefill_tps_, double(computed) / e.prefill_seconds);
  if (e.completion_tokens >= 4 && e.decode_seconds > 0) blend(decode_tps_, double(e.completion_tokens - 1) / e.decode_seconds);
}

double SpeedEstimate::seconds(int64_t prompt_tokens, int64_t max_tokens) const {
  std::lock_guard lock(mu_);
  if (prefill_tps_ <= 0 || decode_tps_ <= 0) return 0;
  return double(prompt_tokens) / prefill_tps_ + double(max_tokens) / decode_tps_;
}

Router::Router(const RouteOptions& o) : options_(o) {
  if (o.upstream.empty()) return;
  // http(s)://host[:port][/prefix]: the client takes the first part, the
  // prefix goes before /v1/... (for servers mounted below a path).
  const size_t scheme = o.upstream.find("://");
  if (scheme == std::string::npos || (o.upstream.rfind("http://", 0) != 0 && o.upstream.rfind("https://", 0) != 0))
    throw std::runtime_error("--upstream must be an http:// or https:// URL, not '" + o.upstream + "'");
  const size_t path = o.upstream.find('/', scheme + 3);
  scheme_host_port_ = o.upstream.substr(0, path);
  if (path != std::string::npos) path_prefix_ = o.upstream.substr(path);
  while (!path_prefix_.empty() && path_prefix_.back() == '/') path_prefix_.pop_back();
  // A base URL ending in /v1 (as OpenAI clients take it) is the same server.
  if (path_prefix_.size() >= 3 && path_prefix_.compare(path_prefix_.size() - 3, 3, "/v1") == 0) path_prefix_.resize(path_prefix_.size() - 3);
}

Route Router::decide(bool private_request, int64_t prompt_tokens, int64_t max_tokens, const SpeedEstimate& speed) const {
  Route r;
  if (private_request) return r.reason = "private", r;
  if (!has_upstream()) return r.reason = "no_upstream", r;
  r.estimated_seconds = speed.seconds(prompt_tokens, max_tokens);
  if (options_.max_device_seconds > 0 && r.estimated_seconds > options_.max_device_seconds) {
    r.upstream = true;
    r.reason = "latency_budget";
    return r;
  }
  r.reason = "within_budget";
  return r;
}

bool Router::confidence_check_enabled() const {
  return has_upstream() && options_.confidence_tokens > 0 && (options_.max_entropy > 0 || options_.min_logprob < 0);
}

bool Router::unsure(double mean_entropy, double min_logprob) const {
  return (options_.max_entropy > 0 && mean_entropy > options_.max_entropy) || (options_.min_logprob < 0 && min_logprob < options_.min_logprob);
}

json Router::upstream_body(json body, bool keep_pareto_fields) const {
  if (!keep_pareto_fields) body.erase("pareto");
  if (!options_.upstream_model.empty()) body["model"] = options_.upstream_model;
  return body;
}

void Router::set_timeouts(httplib::Client& client) const {
  client.set_connection_timeout(std::chrono::duration<double>(std::min(options_.upstream_timeout_s, 5.0)));
  client.set_read_timeout(std::chrono::duration<double>(options_.upstream_timeout_s));
  client.set_write_timeout(std::chrono::duration<double>(options_.upstream_timeout_s));
}

httplib::Request Router::upstream_request(const std::string& path, json body, bool stream, bool keep_pareto_fields) const {
  httplib::Request req;
  req.method = "POST";
  req.path = path_prefix_ + path;
  if (!options_.upstream_key.empty()) req.headers.emplace("Authorization", "Bearer " + options_.upstream_key);
  req.headers.emplace("Content-Type", "application/json");
  body["stream"] = stream;
  req.body = upstream_body(std::move(body), keep_pareto_fields).dump();
  return req;
}

Router::Reply Router::post(const std::string& path, json body, bool keep_pareto_fields) const {
  Reply out;
  httplib::Client client(scheme_host_port_);
  set_timeouts(client);
  httplib::Request req = upstream_request(path, std::move(body), /*stream=*/false, keep_pareto_fields);
  // The timeout bounds the whole answer, not each read (an upstream sending
  // a byte a second would never time out), and the answer's size is capped.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.upstream_timeout_s);
  bool too_big = false, too_slow = false;
  req.response_handler = [&](const httplib::Response& res) {
    out.status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (out.body.size() + n > kMaxUpstreamReply) return !(too_big = true);
    if (std::chrono::steady_clock::now() > deadline) return !(too_slow = true);
    out.body.append(data, n);
    return true;
  };
  auto r = client.send(req);
  if (too_big) return out.error = "upstream answer over " + std::to_string(kMaxUpstreamReply >> 20) + " MiB", out;
  if (too_slow) return out.error = "upstream answer slower than the timeout", out;
  if (!r) return out.error = "upstream " + httplib::to_string(r.error()), out;
  out.ok = out.status == 200 && json::accept(out.body);
  if (!out.ok) out.error = "upstream answered HTTP " + std::to_string(out.status) + (out.status == 200 ? " without JSON" : "");
  return out;
}

Router::Reply Router::stream(const std::string& path, json body, const std::function<bool(const char*, size_t)>& on_bytes) const {
  Reply out;
  httplib::Client client(scheme_host_port_);
  set_timeouts(client);
  httplib::Request req = upstream_request(path, std::move(body), /*stream=*/true, false);
  bool refused = false;
  // Anything but a 200 event stream is a failure, found before any byte is passed on.
  req.response_handler = [&](const httplib::Response& res) {
    out.status = res.status;
    refused = res.status != 200 || res.get_header_value("Content-Type").rfind("text/event-stream", 0) != 0;
    return !refused;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) { return on_bytes(data, n); };
  auto r = client.send(req);
  if (refused) return out.error = "upstream answered HTTP " + std::to_string(out.status) + " without an event stream", out;
  if (!r) return out.error = "upstream " + httplib::to_string(r.error()), out;
  out.ok = true;
  return out;
}

}  // namespace pareto::serve
