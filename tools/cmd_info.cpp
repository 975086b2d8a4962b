// pareto info: what a model is, without running it.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "cli.h"

namespace pareto::tools {

static std::unique_ptr<Session> open_or_throw(const std::string& path, const SessionOptions& opt) {
  auto s = Session::open(path, opt);
  if (!s.ok()) throw Error(s.status().code, s.status().message);
  return std::move(s.value());
}

// GGUF files by magic; llama2.c checkpoints have none, so by the .bin suffix.
static bool looks_like_llm(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  char magic[4] = {};
  if (f) {
    size_t n = std::fread(magic, 1, 4, f);
    std::fclose(f);
    if (n == 4 && std::memcmp(magic, "GGUF", 4) == 0) return true;
  }
  return path.size() > 4 && path.compare(path.size() - 4, 4, ".bin") == 0;
}

static int llm_info(const Args& args) {
  auto session = open_llm(args);
  LlmInfo i = session->info();
  std::printf("model:      %s\narch:       %s\n", i.path.c_str(), i.arch.c_str());
  std::printf("parameters: %.2f M   weights: %s\n", double(i.parameters) / 1e6, format_bytes(i.weight_bytes).c_str());
  std::printf("dim %lld, layers %lld, heads %lld (kv %lld), ffn %lld, vocab %lld, context %lld\n", static_cast<long long>(i.dim),
              static_cast<long long>(i.layers), static_cast<long long>(i.heads), static_cast<long long>(i.kv_heads),
              static_cast<long long>(i.ffn), static_cast<long long>(i.vocab), static_cast<long long>(i.model_ctx));
  return 0;
}

int cmd_info(const Args& args) {
  if (args.has("--cpu") && args.positional.empty()) {
    std::printf("%s\n", cpu_summary().c_str());
    return 0;
  }
  if (args.positional.size() != 1) fail_argument("usage: pareto info MODEL [--graph] [--shape NAME=...]");
  const std::string& path = args.positional[0];
  if (looks_like_llm(path)) return llm_info(args);
  auto session = open_or_throw(path, {});
  ModelSummary s = session->summary();
  std::map<std::string, Shape> shapes = parse_shapes(args);
  std::printf("model:      %s\n", path.c_str());
  std::printf("ir version: %lld   producer: %s\n", static_cast<long long>(s.ir_version), s.producer.empty() ? "-" : s.producer.c_str());
  std::printf("opsets:    ");
  for (auto& [domain, v] : s.opsets) std::printf(" %s=%lld", domain.empty() ? "ai.onnx" : domain.c_str(), static_cast<long long>(v));
  std::printf("\nparameters: %lld   nodes: %zu (including subgraphs)\n", static_cast<long long>(s.parameters), s.nodes);
  std::printf("inputs:\n");
  for (const TensorInfo& t : session->inputs()) std::printf("  %-24s %s\n", t.name.c_str(), t.to_string().c_str());
  std::vector<TensorInfo> outs = session->infer_outputs(shapes);
  std::printf("outputs%s:\n", shapes.empty() ? "" : " (shapes inferred from --shape)");
  for (const TensorInfo& t : outs) std::printf("  %-24s %s\n", t.name.c_str(), t.to_string().c_str());
  std::printf("ops:\n");
  std::vector<std::pair<int, std::string>> hist;
  for (auto& [op, n] : s.op_histogram) hist.push_back({-n, op});
  std::sort(hist.begin(), hist.end());
  for (auto& [n, op] : hist) std::printf("  %-24s %d\n", op.c_str(), -n);
  if (args.has("--graph")) std::printf("\n%s", session->graph_text(shapes).c_str());
  if (args.has("--cpu")) std::printf("\ncpu: %s\n", cpu_summary().c_str());
  return 0;
}

}  // namespace pareto::tools
