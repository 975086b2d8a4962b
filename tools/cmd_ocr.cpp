// pareto ocr IMAGE [--json] [--profile] [--models DIR] [--threads N]:
// text lines with boxes and confidences, in reading order.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/ocr.hpp"

namespace pareto::tools {

namespace {
std::string default_ocr_models() {
  if (const char* env = std::getenv("PARETO_OCR_MODELS")) return env;
  return "models/ocr";
}
}  // namespace

int cmd_ocr(const Args& a) {
  if (a.positional.size() != 1) fail_argument("usage: pareto ocr IMAGE [--json] [--profile] [--models DIR] [--threads N]");
  ocr::Options o;
  o.threads = a.get_int("--threads", a.get_int("-t", 1));
  o.det_limit_side = a.get_int("--limit-side", o.det_limit_side);
  const std::string dir = a.get("--models", default_ocr_models());
  const double t_open = now_seconds();
  auto p = ocr::Pipeline::open(dir, o);
  if (!p.ok()) throw Error(p.status().code, p.status().message + " (models from --models, $PARETO_OCR_MODELS or models/ocr: run scripts/fetch-models.sh)");
  const double open_seconds = now_seconds() - t_open;
  auto r = p.value()->run_file(a.positional[0]);
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  const ocr::OcrResult& res = r.value();
  const ocr::StageTimes& t = res.times;
  if (a.has("--json")) {
    nlohmann::json j;
    j["image"] = a.positional[0];
    j["width"] = res.width;
    j["height"] = res.height;
    j["lines"] = nlohmann::json::array();
    for (const auto& l : res.lines)
      j["lines"].push_back({{"text", l.text}, {"confidence", l.confidence}, {"box", l.box}, {"flipped", l.flipped}});
    if (a.has("--profile"))
      j["profile_ms"] = {{"load_models", open_seconds * 1e3}, {"decode", t.decode * 1e3},   {"detect", t.detect * 1e3},
                         {"det_model", t.det_model * 1e3},   {"classify", t.classify * 1e3}, {"cls_model", t.cls_model * 1e3},
                         {"recognize", t.recognize * 1e3},   {"rec_model", t.rec_model * 1e3}, {"total", t.total * 1e3}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  for (const auto& l : res.lines)
    std::printf("%s\t%.3f\t[%.0f,%.0f %.0f,%.0f %.0f,%.0f %.0f,%.0f]%s\n", l.text.c_str(), double(l.confidence), double(l.box[0][0]),
                double(l.box[0][1]), double(l.box[1][0]), double(l.box[1][1]), double(l.box[2][0]), double(l.box[2][1]), double(l.box[3][0]),
                double(l.box[3][1]), l.flipped ? "\t(flipped)" : "");
  std::fprintf(stderr, "%zu lines from %dx%d in %.1f ms\n", res.lines.size(), res.width, res.height, t.total * 1e3);
  if (a.has("--profile")) {
    std::fprintf(stderr, "  load models %8.1f ms\n  decode      %8.1f ms\n  detect      %8.1f ms (model %.1f)\n", open_seconds * 1e3, t.decode * 1e3,
                 t.detect * 1e3, t.det_model * 1e3);
    std::fprintf(stderr, "  classify    %8.1f ms (model %.1f)\n  recognize   %8.1f ms (model %.1f)\n  total       %8.1f ms (peak RSS %s)\n",
                 t.classify * 1e3, t.cls_model * 1e3, t.recognize * 1e3, t.rec_model * 1e3, t.total * 1e3, format_bytes(peak_rss_bytes()).c_str());
  }
  return 0;
}

}  // namespace pareto::tools
