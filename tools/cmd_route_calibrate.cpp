// pareto route-calibrate: the quality/cost curve of the router's confidence
// rule from a prompt set run through the device and the upstream.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/serve.hpp"

namespace pareto::tools {

namespace {

// One prompt per line, or JSON lines with a "prompt" field.
std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(StatusCode::io_error, "cannot read the prompts file " + path);
  std::vector<std::string> out;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    if (line[0] == '{') {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("prompt") || !j["prompt"].is_string())
        fail_argument(path + ":" + std::to_string(n) + ": a JSON line needs a string \"prompt\"");
      out.push_back(j["prompt"].get<std::string>());
    } else {
      out.push_back(line);
    }
  }
  if (out.empty()) fail_argument(path + ": no prompts");
  return out;
}

}  // namespace

int cmd_route_calibrate(const Args& a) {
  serve::CalibrateOptions o;
  o.device_url = a.get("--device");
  o.upstream_url = a.get("--upstream");
  if (o.device_url.empty() || o.upstream_url.empty()) fail_argument("give --device URL and --upstream URL");
  o.device_key = a.get("--key");
  o.upstream_key = a.get("--upstream-key");
  o.upstream_model = a.get("--upstream-model");
  o.max_tokens = int(a.get_int("--max-tokens", 16, 1, 4096));
  o.prompts = read_prompts(a.get("--prompts"));
  serve::CalibrationReport r;
  try {
    r = serve::calibrate_routing(o);
  } catch (const std::runtime_error& e) {
    fail(StatusCode::io_error, e.what());
  }
  if (a.has("--json")) {
    nlohmann::json j = {{"samples", nlohmann::json::array()}, {"curve", nlohmann::json::array()}};
    for (const auto& s : r.samples)
      j["samples"].push_back({{"prompt", s.prompt}, {"device_text", s.device_text}, {"upstream_text", s.upstream_text},
                              {"mean_entropy", s.mean_entropy}, {"min_logprob", s.min_logprob}, {"similarity", s.similarity},
                              {"device_ms", s.device_ms}, {"upstream_ms", s.upstream_ms}});
    for (const auto& p : r.curve)
      j["curve"].push_back({{"signal", p.signal}, {"threshold", p.threshold}, {"upstream_share", p.upstream_share},
                            {"agreement", p.agreement}, {"mean_ms", p.mean_ms}});
    std::puts(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  double sim = 0;
  for (const auto& s : r.samples) sim += s.similarity;
  std::printf("%zu prompts, %d tokens each: device answers agree %.3f with the upstream's on average (1 = same text)\n\n",
              r.samples.size(), o.max_tokens, sim / double(r.samples.size()));
  std::printf("| signal | unsure when | threshold | sent upstream | agreement | mean ms |\n|---|---|---|---|---|---|\n");
  for (const auto& p : r.curve)
    std::printf("| %s | %s | %.4f | %.0f%% | %.3f | %.1f |\n", p.signal.c_str(), p.signal == "mean_entropy" ? "above" : "below", p.threshold,
                p.upstream_share * 100, p.agreement, p.mean_ms);
  std::printf("\nserve with: --confidence-tokens %d and --max-entropy T or --min-logprob T from a row above\n", o.max_tokens);
  return 0;
}

}  // namespace pareto::tools
