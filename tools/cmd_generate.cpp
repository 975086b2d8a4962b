// pareto generate: text from a GGUF or llama2.c model, streamed to stdout;
// speed and memory to stderr.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "cli.h"
#include "pareto/llm.hpp"

namespace pareto::tools {

namespace {


}  // namespace

GenerateOptions generate_options(const Args& a) {
  GenerateOptions o;
  o.max_tokens = int(a.get_int(a.has("-n") ? "-n" : "--n-predict", 128, 0, 1 << 20));
  o.temperature = float(a.get_double("--temp", 0.8, 0, 100));
  o.top_k = int(a.get_int("--top-k", 40, 0, 1 << 24));
  o.top_p = float(a.get_double("--top-p", 0.95, 0, 1));
  o.min_p = float(a.get_double("--min-p", 0.05, 0, 1));
  o.repeat_penalty = float(a.get_double("--repeat-penalty", 1.0, 0, 100));
  o.repeat_last_n = int(a.get_int("--repeat-last-n", 64, 0, 1 << 20));
  o.seed = uint64_t(a.get_int("--seed", 0, 0, INT64_MAX));
  return o;
}

std::unique_ptr<LlmSession> open_llm(const Args& a) {
  if (a.positional.size() != 1) fail_argument("expected one MODEL (.gguf or llama2.c .bin)");
  LlmOptions lo;
  lo.tokenizer = a.get("--tokenizer");
  lo.ctx = a.get_int("--ctx", 0, 0, INT32_MAX);  // above the context limit: refused by it, with how to raise it
  lo.threads = a.get_threads();
  lo.kv_type = a.get("--kv", "f16");
  lo.repack = !a.has("--no-repack");
  auto s = LlmSession::open(a.positional[0], lo);
  if (!s.ok()) throw Error(s.status().code, s.status().message);
  return std::move(s.value());
}

int cmd_generate(const Args& args) {
  double t0 = now_seconds();
  auto session = open_llm(args);
  double load = now_seconds() - t0;
  LlmInfo mi = session->info();
  if (mi.ctx > mi.model_ctx)
    std::fprintf(stderr, "warning: context %lld exceeds the model's trained context %lld\n", static_cast<long long>(mi.ctx),
                 static_cast<long long>(mi.model_ctx));
  GenerateOptions o = generate_options(args);
  std::string prompt = args.get("-p", args.get("--prompt"));
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  auto r = session->generate(prompt, o, [](const std::string& text) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  const GenerateStats& s = r.value();
  LlmInfo info = session->info();
  std::fprintf(stderr, "\n%s: %s, %lld layers, dim %lld, %.1f M params, weights %s, KV cache %s (ctx %lld)\n", info.arch.c_str(),
               info.path.c_str(), static_cast<long long>(info.layers), static_cast<long long>(info.dim), double(info.parameters) / 1e6,
               format_bytes(info.weight_bytes).c_str(), format_bytes(info.kv_cache_bytes).c_str(), static_cast<long long>(info.ctx));
  std::fprintf(stderr, "load %.1f ms | prefill %lld tokens %.2f ms (%.1f t/s) | decode %lld tokens %.2f ms (%.1f t/s)%s | peak RSS %s\n",
               load * 1e3, static_cast<long long>(s.prompt_tokens), s.prefill_seconds * 1e3,
               s.prefill_seconds > 0 ? double(s.prompt_tokens) / s.prefill_seconds : 0.0, static_cast<long long>(s.generated_tokens),
               s.decode_seconds * 1e3, s.decode_seconds > 0 ? double(s.generated_tokens) / s.decode_seconds : 0.0,
               s.stopped_at_eos ? " | stopped at EOS" : "", format_bytes(peak_rss_bytes()).c_str());
  return 0;
}

}  // namespace pareto::tools

namespace pareto::tools {

// pareto tokenize MODEL -p TEXT: token ids and pieces, like llama-tokenize.
int cmd_tokenize(const Args& args) {
  auto session = open_llm(args);
  std::string text = args.get("-p", args.get("--prompt"));
  auto ids = session->tokenize(text, !args.has("--no-bos"));
  if (!ids.ok()) throw Error(ids.status().code, ids.status().message);
  for (int32_t id : ids.value()) std::printf("%6d -> '%s'\n", id, session->detokenize({id}).c_str());
  std::printf("%zu tokens\n", ids.value().size());
  return 0;
}

}  // namespace pareto::tools

namespace pareto::tools {

// pareto perplexity MODEL --file TEXT --ctx N (llama.cpp's convention).
int cmd_perplexity(const Args& args) {
  std::string file = args.get("--file", args.get("-f"));
  if (file.empty()) fail_argument("usage: pareto perplexity MODEL --file TEXT [--ctx N]");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(StatusCode::io_error, file + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Args a = args;
  const int64_t n_ctx = a.get_int(a.has("--ctx") ? "--ctx" : "-c", 512, 2, INT32_MAX);
  a.options.erase("--ctx");
  a.options.emplace("--ctx", std::to_string(n_ctx));
  auto session = open_llm(a);
  double t0 = now_seconds();
  auto r = session->perplexity(text, n_ctx, [&](int64_t c, int64_t n, double ppl) {
    std::fprintf(stderr, "\rchunk %lld/%lld  running PPL %.4f  (%.1f s)", static_cast<long long>(c + 1), static_cast<long long>(n), ppl,
                 now_seconds() - t0);
    std::fflush(stderr);
  });
  std::fputc('\n', stderr);
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  const PerplexityStats& s = r.value();
  std::printf("%lld tokens, %lld chunks of %lld, %lld scored (second half of each chunk)\n", static_cast<long long>(s.text_tokens),
              static_cast<long long>(s.chunks), static_cast<long long>(n_ctx), static_cast<long long>(s.scored_tokens));
  std::printf("Final estimate: PPL = %.4f +/- %.5f\n", s.ppl, s.ppl_error);
  return 0;
}

}  // namespace pareto::tools

namespace pareto::tools {

// pareto synth --arch llama --preset tiny|0.5b|1.1b --type f16|q8_0|q4_0|q4_k -o FILE.gguf
int cmd_synth(const Args& args) {
  SynthSpec spec;
  spec.arch = args.get("--arch", "llama");
  spec.preset = args.get("--preset", "tiny");
  spec.type = args.get("--type", "f16");
  spec.seed = uint64_t(args.get_int("--seed", 1, 0, INT64_MAX));
  spec.threads = args.get_threads(2);
  std::string out = args.get("-o", args.get("--output"));
  if (out.empty()) fail_argument("usage: pareto synth --preset tiny|0.5b|1.1b --type f16|q8_0|q4_0|q4_k -o FILE.gguf");
  double t0 = now_seconds();
  auto r = synth_llm(spec, out);
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  std::printf("%s: %s %s %s, %.3f B parameters, %s, %.1f s\n", out.c_str(), spec.arch.c_str(), spec.preset.c_str(), spec.type.c_str(),
              double(r.value().parameters) / 1e9, format_bytes(r.value().file_bytes).c_str(), now_seconds() - t0);
  return 0;
}

}  // namespace pareto::tools
