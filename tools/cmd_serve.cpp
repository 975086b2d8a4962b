// pareto serve MODEL: the OpenAI-compatible server until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

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

}  // namespace

int cmd_serve(const Args& a) {
  if (a.positional.size() != 1) fail_argument("expected one MODEL (.gguf or llama2.c .bin)");
  serve::ServeOptions o;
  o.model_path = a.positional[0];
  o.model_name = a.get("--alias");
  o.host = a.get("--host", "127.0.0.1");
  o.port = int(a.get_int("--port", 8080, 0, 65535));
  o.engine.slots = int(a.get_int("--parallel", a.get_int("-np", 1, 1, 64), 1, 64));
  o.engine.max_queue = int(a.get_int("--queue", 16, 0, 4096));
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

  // Signals go to one waiting thread (blocked everywhere else, before the
  // server starts its threads); a closed client socket is not fatal.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  serve::Server server(o);
  const int port = server.start();
  std::fprintf(stderr, "pareto serve: http://%s:%d (model %s, %d slot%s, queue %d%s); loading...\n", o.host.c_str(), port,
               o.model_path.c_str(), o.engine.slots, o.engine.slots == 1 ? "" : "s", o.engine.max_queue,
               o.api_key.empty() ? "" : ", API key required");
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "pareto serve: signal %d, stopping\n", sig);
    server.stop();
  });
  signals.detach();
  std::string error;
  const bool ok = server.wait(&error);
  if (!ok) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace pareto::tools
