// pareto serve MODEL: the OpenAI-compatible server until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/serve.hpp"

namespace pareto::tools {

namespace {

std::string read_key_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(StatusCode::io_error, "cannot read the API key file " + path);
  std::string key;
  std::getline(f, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) fail_argument("the API key file " + path + " is empty");
  return key;
}

// The routing policy: a JSON file (keys as the flags, with underscores),
// then the flags over it.
serve::RouteOptions route_options(const Args& a) {
  serve::RouteOptions r;
  if (a.has("--route-policy")) {
    const std::string path = a.get("--route-policy");
    std::ifstream f(path);
    if (!f) fail(StatusCode::io_error, "cannot read the routing policy " + path);
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (!j.is_object()) fail_argument(path + ": the routing policy is not a JSON object");
    auto num = [&](const char* key, double fallback) {
      if (!j.contains(key)) return fallback;
      if (!j[key].is_number()) fail_argument(path + ": " + key + " must be a number");
      return j[key].get<double>();
    };
    auto str = [&](const char* key) {
      if (!j.contains(key)) return std::string();
      if (!j[key].is_string()) fail_argument(path + ": " + key + " must be a string");
      return j[key].get<std::string>();
    };
    for (auto& [key, value] : j.items())
      if (key != "upstream" && key != "upstream_model" && key != "upstream_timeout_s" && key != "max_device_ms" &&
          key != "confidence_tokens" && key != "max_entropy" && key != "min_logprob")
        fail_argument(path + ": unknown key '" + key + "'");
    // The file's numbers take the flags' ranges.
    auto in_range = [&](const char* key, double v, double lo, double hi) {
      if (!(v >= lo && v <= hi)) fail_argument(path + ": " + key + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return v;
    };
    r.upstream = str("upstream");
    r.upstream_model = str("upstream_model");
    r.upstream_timeout_s = in_range("upstream_timeout_s", num("upstream_timeout_s", r.upstream_timeout_s), 0.1, 3600);
    r.max_device_seconds = in_range("max_device_ms", num("max_device_ms", 0), 0, 1e9) / 1e3;
    r.confidence_tokens = int(in_range("confidence_tokens", num("confidence_tokens", 0), 0, 4096));
    r.max_entropy = in_range("max_entropy", num("max_entropy", 0), 0, 100);
    r.min_logprob = in_range("min_logprob", num("min_logprob", 0), -1000, 0);
  }
  r.upstream = a.get("--upstream", r.upstream);
  r.upstream_model = a.get("--upstream-model", r.upstream_model);
  r.upstream_key = a.get("--upstream-key");
  if (r.upstream_key.empty())
    if (const char* env = std::getenv("PARETO_UPSTREAM_KEY")) r.upstream_key = env;
  r.upstream_timeout_s = a.get_double("--upstream-timeout", r.upstream_timeout_s, 0.1, 3600);
  r.max_device_seconds = a.get_double("--max-device-ms", r.max_device_seconds * 1e3, 0, 1e9) / 1e3;
  r.confidence_tokens = int(a.get_int("--confidence-tokens", r.confidence_tokens, 0, 4096));
  r.max_entropy = a.get_double("--max-entropy", r.max_entropy, 0, 100);
  r.min_logprob = a.get_double("--min-logprob", r.min_logprob, -1000, 0);
  if (r.upstream.empty() && (r.max_device_seconds > 0 || r.confidence_tokens > 0))
    fail_argument("--max-device-ms and --confidence-tokens route to an upstream: give --upstream URL");
  return r;
}

}  // namespace

int cmd_serve(const Args& a) {
  if (a.positional.size() != 1) fail_argument("expected one MODEL (.gguf or llama2.c .bin)");
  serve::ServeOptions o;
  o.model_path = a.positional[0];
  o.model_name = a.get("--alias");
  o.host = a.get("--host", "127.0.0.1");
  o.port = int(a.get_int("--port", 8080, 0, 65535));
  o.engine.slots = int(a.get_int("--parallel", a.get_int("-np", 1, 1, 64), 1, 64));
  o.engine.max_queue = int(a.get_int("--queue", 16, 0, 1024));  // a worker thread per place
  o.engine.llm.ctx = a.get_int("--ctx", 0, 0, INT32_MAX);
  o.engine.llm.threads = a.get_threads();
  o.engine.llm.kv_type = a.get("--kv", "f16");
  o.engine.llm.tokenizer = a.get("--tokenizer");
  o.engine.llm.repack = !a.has("--no-repack");
  o.engine.llm.limits = current_limits();
  o.max_body_bytes = size_t(a.get_int("--max-body", int64_t(4) << 20, 1024, int64_t(1) << 30));
  o.api_key = a.has("--api-key-file") ? read_key_file(a.get("--api-key-file")) : a.get("--api-key");
  if (o.api_key.empty())
    if (const char* env = std::getenv("PARETO_API_KEY")) o.api_key = env;
  o.route = route_options(a);
  o.ocr_models = a.get("--ocr-models");
  o.vad_model = a.get("--vad-model");
  o.classify_model = a.get("--classify-model");
  o.classify_labels = a.get("--classify-labels");
  o.wakeword_models = a.get("--wakeword-models");

  // Signals go to one waiting thread (blocked everywhere else, before the
  // server starts its threads); a closed client socket is not fatal.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);  // sent to ourselves to end the waiting thread
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  serve::Server server(o);
  const int port = server.start();
  std::fprintf(stderr, "pareto serve: http://%s:%d (model %s, %d slot%s, queue %d%s%s); loading...\n", o.host.c_str(), port,
               o.model_path.c_str(), o.engine.slots, o.engine.slots == 1 ? "" : "s", o.engine.max_queue,
               o.api_key.empty() ? "" : ", API key required", o.route.upstream.empty() ? "" : (", upstream " + o.route.upstream).c_str());
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != SIGUSR1) std::fprintf(stderr, "pareto serve: signal %d, stopping\n", sig);
    server.stop();
  });
  std::string error;
  const bool ok = server.wait(&error);
  pthread_kill(signals.native_handle(), SIGUSR1);  // ends the signal thread before the server goes away
  signals.join();
  if (!ok) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace pareto::tools
