// pareto eval BASE QUANT --file TEXT [--ctx 128] [--chunks N] [--tokenizer TOK.bin]:
// perplexity of both, mean KL divergence and top-1 agreement of the quantized
// model's next-token distributions against the base, per-layer relative MSE
// and cosine similarity, bits per weight and size.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli.h"
#include "pareto/quantize.hpp"

namespace pareto::tools {

namespace {
uint64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : uint64_t(n);
}
}  // namespace

int cmd_eval(const Args& a) {
  if (a.positional.size() != 2 || !a.has("--file")) fail_argument("usage: pareto eval BASE QUANT --file TEXT [--ctx 128] [--chunks N]");
  std::ifstream in(a.get("--file"));
  if (!in) fail(StatusCode::io_error, a.get("--file") + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  EvalOptions o;
  o.ctx = a.get_int("--ctx", 128, 2, 1 << 20);
  o.max_chunks = a.get_int("--chunks", 0, 0, 1 << 20);
  o.tokenizer = a.get("--tokenizer");
  o.progress = [](int64_t c, int64_t n) { std::fprintf(stderr, "\rchunk %lld/%lld", static_cast<long long>(c), static_cast<long long>(n)); };
  const EvalReport r = take(evaluate_quantized(a.positional[0], a.positional[1], text.str(), o));
  std::fprintf(stderr, "\n");
  std::printf("base:  %s  PPL %.4f  %.3f bits/weight  %s of matmul weights, file %s\n", a.positional[0].c_str(), r.ppl_base, r.bpw_base,
              format_bytes(r.bytes_base).c_str(), format_bytes(file_size(a.positional[0])).c_str());
  std::printf("quant: %s  PPL %.4f (%+.2f%%)  %.3f bits/weight  %s, file %s\n", a.positional[1].c_str(), r.ppl_quant,
              100 * (r.ppl_quant / r.ppl_base - 1), r.bpw_quant, format_bytes(r.bytes_quant).c_str(), format_bytes(file_size(a.positional[1])).c_str());
  std::printf("mean KL(base || quant) %.6f nats, top-1 agreement %.2f%%, %lld tokens in %lld chunks of %lld\n", r.kl_mean, 100 * r.top1,
              static_cast<long long>(r.tokens), static_cast<long long>(r.chunks), static_cast<long long>(o.ctx));
  std::printf("%-6s %14s %10s\n", "layer", "rel. MSE", "cosine");
  for (size_t l = 0; l < r.layers.size(); ++l) std::printf("%-6zu %14.3e %10.6f\n", l, r.layers[l].rel_mse, r.layers[l].cosine);
  return 0;
}

}  // namespace pareto::tools
