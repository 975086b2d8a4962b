// pareto chat MODEL: interactive conversation kept in the KV cache.
// Ctrl-D ends the session; Ctrl-C stops a reply (twice, or at the prompt: quits).
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli.h"

namespace pareto::tools {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = g_interrupted + 1; }
}  // namespace

int cmd_chat(const Args& args) {
  auto session = open_llm(args);
  LlmInfo info = session->info();
  std::string format = args.get("--chat-template", info.chat_format);
  std::string system = args.get("--system");
  GenerateOptions o = generate_options(args);
  if (!args.has("-n")) o.max_tokens = 512;
  std::fprintf(stderr, "%s (%s, %.1f M params), chat template %s, context %lld. Ctrl-D to quit, Ctrl-C to interrupt.\n",
               info.path.c_str(), info.arch.c_str(), double(info.parameters) / 1e6, format.c_str(), static_cast<long long>(info.ctx));
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, nullptr);
  bool first = true;
  std::string line;
  for (;;) {
    g_interrupted = 0;
    std::fputs("\n> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;  // Ctrl-D, or Ctrl-C at the prompt
    if (line.empty()) continue;
    auto text = format_chat_turn(format, system, line, first);
    if (!text.ok()) throw Error(text.status().code, text.status().message);
    auto r = session->generate(text.value(), o, [](const std::string& piece) {
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
      return g_interrupted == 0;
    });
    if (!r.ok()) {
      std::fprintf(stderr, "\nerror: %s\n", r.status().message.c_str());
      if (r.status().code == StatusCode::invalid_argument) {  // context full: start over
        session->reset();
        first = true;
        std::fprintf(stderr, "(conversation reset)\n");
      }
      continue;
    }
    first = false;
    const GenerateStats& s = r.value();
    std::fprintf(stderr, "\n[%lld prompt tokens %.1f t/s, %lld generated %.1f t/s, context %lld/%lld]\n",
                 static_cast<long long>(s.prompt_tokens), s.prefill_seconds > 0 ? double(s.prompt_tokens) / s.prefill_seconds : 0.0,
                 static_cast<long long>(s.generated_tokens), s.decode_seconds > 0 ? double(s.generated_tokens) / s.decode_seconds : 0.0,
                 static_cast<long long>(session->position()), static_cast<long long>(info.ctx));
  }
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace pareto::tools
