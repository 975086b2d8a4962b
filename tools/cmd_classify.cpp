// pareto classify IMAGE... --model M.tflite|M.onnx [--labels L] [--top K]
// [--mean R,G,B --std R,G,B] [--json] [--threads N] [--dump-inputs DIR]: top-K classes per image.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/classify.hpp"

namespace pareto::tools {

namespace {

void read_triple(const Args& a, const char* key, float out[3]) {
  if (!a.has(key)) return;
  const std::string text = a.get(key);
  float v[3];
  char extra = 0;
  if (std::sscanf(text.c_str(), "%f,%f,%f%c", &v[0], &v[1], &v[2], &extra) != 3)
    fail_argument(std::string(key) + " takes three comma-separated numbers (R,G,B), not '" + text + "'");
  for (int i = 0; i < 3; ++i) out[i] = v[i];
}

}  // namespace

int cmd_classify(const Args& a) {
  if (a.positional.empty() || !a.has("--model"))
    fail_argument("usage: pareto classify IMAGE... --model M.tflite|M.onnx [--labels L] [--top 5] [--json] [--mean R,G,B --std R,G,B]");
  classify::Options o;
  o.top_k = int(a.get_int("--top", 5, 1, 100000));
  o.threads = a.get_threads();
  o.labels_path = a.get("--labels", "");
  o.dump_inputs = a.get("--dump-inputs", "");
  read_triple(a, "--mean", o.mean);
  read_triple(a, "--std", o.std);
  for (float s : o.std)
    if (!(s != 0)) fail_argument("--std values must not be 0");
  auto c = classify::Classifier::open(a.get("--model"), o);
  if (!c.ok()) throw Error(c.status().code, c.status().message);
  const bool json = a.has("--json");
  for (const std::string& image : a.positional) {
    auto r = c.value()->run_file(image);
    if (!r.ok()) throw Error(r.status().code, r.status().message);
    if (json) {
      nlohmann::json j = {{"image", image}, {"classes", nlohmann::json::array()},
                          {"timings", {{"preprocess_ms", r.value().preprocess_seconds * 1e3}, {"model_ms", r.value().model_seconds * 1e3}}}};
      for (const classify::Class& k : r.value().top) j["classes"].push_back({{"index", k.index}, {"label", k.label}, {"score", k.score}});
      std::printf("%s\n", j.dump().c_str());
      continue;
    }
    std::printf("%s\n", image.c_str());
    for (const classify::Class& k : r.value().top) std::printf("  %.4f  %d  %s\n", double(k.score), k.index, k.label.c_str());
    std::fprintf(stderr, "  %dx%d input, preprocess %.2f ms, model %.2f ms\n", r.value().input_width, r.value().input_height,
                 r.value().preprocess_seconds * 1e3, r.value().model_seconds * 1e3);
  }
  return 0;
}

}  // namespace pareto::tools
