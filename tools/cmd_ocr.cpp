// pareto ocr IMAGE... [--json | --jsonl] [--profile] [--models DIR]
// [--threads N] [--warmup N]: text lines with boxes and confidences, in
// reading order. With several images the models are opened once and each
// image is read in turn. --jsonl: one JSON object per image and line, then
// one with the peak RSS (--json does the same for several images).
// --warmup N: the first image is read N times first, untimed and unprinted.
// --det/--cls/--rec FILE: that model instead of the model folder's.
// --score SET_DIR [--every N]: reads the labelled set (truth.json) and prints
// its character error rate (ocr::score_set) instead of text.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/models.hpp"
#include "pareto/ocr.hpp"

namespace pareto::tools {

namespace {

nlohmann::json profile_json(const ocr::StageTimes& t, double open_seconds) {
  return {{"load_models", open_seconds * 1e3}, {"decode", t.decode * 1e3},       {"detect", t.detect * 1e3},
          {"det_model", t.det_model * 1e3},   {"crop", t.crop * 1e3},           {"classify", t.classify * 1e3},
          {"cls_model", t.cls_model * 1e3},   {"recognize", t.recognize * 1e3}, {"rec_model", t.rec_model * 1e3},
          {"rec_prepare", t.rec_prepare * 1e3}, {"rec_runs", t.rec_runs}, {"rec_padded_fraction", t.rec_padded_fraction},
          {"total", t.total * 1e3}};
}

nlohmann::json result_json(const std::string& image, const ocr::OcrResult& res) {
  nlohmann::json j;
  j["image"] = image;
  j["width"] = res.width;
  j["height"] = res.height;
  j["lines"] = nlohmann::json::array();
  for (const auto& l : res.lines) j["lines"].push_back({{"text", l.text}, {"confidence", l.confidence}, {"box", l.box}, {"flipped", l.flipped}});
  j["ms"] = res.times.total * 1e3;
  return j;
}

void print_text(const ocr::OcrResult& res, bool profile, double open_seconds) {
  const ocr::StageTimes& t = res.times;
  for (const auto& l : res.lines)
    std::printf("%s\t%.3f\t[%.0f,%.0f %.0f,%.0f %.0f,%.0f %.0f,%.0f]%s\n", l.text.c_str(), double(l.confidence), double(l.box[0][0]),
                double(l.box[0][1]), double(l.box[1][0]), double(l.box[1][1]), double(l.box[2][0]), double(l.box[2][1]), double(l.box[3][0]),
                double(l.box[3][1]), l.flipped ? "\t(flipped)" : "");
  std::fprintf(stderr, "%zu lines from %dx%d in %.1f ms\n", res.lines.size(), res.width, res.height, t.total * 1e3);
  if (!profile) return;
  std::fprintf(stderr, "  load models %8.1f ms\n  decode      %8.1f ms\n  detect      %8.1f ms (model %.1f)\n  crop        %8.1f ms\n",
               open_seconds * 1e3, t.decode * 1e3, t.detect * 1e3, t.det_model * 1e3, t.crop * 1e3);
  std::fprintf(stderr, "  classify    %8.1f ms (model %.1f)\n", t.classify * 1e3, t.cls_model * 1e3);
  std::fprintf(stderr, "  recognize   %8.1f ms (%d lines; summed over them: model %.1f, prepare %.1f; %.0f%% of input columns padding)\n",
               t.recognize * 1e3, t.rec_runs, t.rec_model * 1e3, t.rec_prepare * 1e3, 100 * t.rec_padded_fraction);
  std::fprintf(stderr, "  total       %8.1f ms (peak RSS %s)\n", t.total * 1e3, format_bytes(peak_rss_bytes()).c_str());
}

}  // namespace

int cmd_ocr(const Args& a) {
  if (a.positional.empty() && !a.has("--score")) fail_argument("usage: pareto ocr IMAGE... [--json] [--profile] [--models DIR] [--threads N]");
  ocr::Options o;
  o.threads = a.get_threads();
  o.det_limit_side = int(a.get_int("--limit-side", o.det_limit_side, 32, 1 << 14));
  const std::string limit_type = a.get("--limit-type", "max");
  if (limit_type != "max" && limit_type != "min") fail_argument("--limit-type expects max or min, got '" + limit_type + "'");
  o.det_limit_min = limit_type == "min";
  o.unclip_ratio = float(a.get_double("--unclip-ratio", o.unclip_ratio, 0, 10));
  o.rec_min_width = int(a.get_int("--rec-min-width", o.rec_min_width, 0, 1 << 14));
  o.merge_lines = !a.has("--no-merge-lines");
  o.dump_inputs = a.get("--dump-inputs", "");
  o.conv_precision = a.get("--precision", "fp32");
  if (o.conv_precision != "fp32" && o.conv_precision != "bf16" && o.conv_precision != "f16")
    fail_argument("--precision '" + o.conv_precision + "' (fp32, bf16 or f16)");
  o.rec_enlarge_bicubic = !a.has("--rec-bilinear");
  o.det_model = a.get("--det", "");
  o.cls_model = a.get("--cls", "");
  o.rec_model = a.get("--rec", "");
  auto dir = find_model_dir(ocr_models(), a.get("--models"));
  if (!dir.ok()) throw Error(dir.status().code, "OCR models: " + dir.status().message);
  const double t_open = now_seconds();
  auto p = ocr::Pipeline::open(dir.value(), o);
  if (!p.ok())
    throw Error(p.status().code, p.status().message + " (a model missing from " + dir.value() +
                                     "? fetch them with `bash scripts/fetch-models.sh` from the pareto checkout)");
  const double open_seconds = now_seconds() - t_open;
  if (a.has("--score") && !a.positional.empty()) fail_argument("--score reads the set's own images: give no images beside it");
  if (a.has("--every") && !a.has("--score")) fail_argument("--every goes with --score");
  if (a.has("--score")) {
    auto s = ocr::score_set(*p.value(), a.get("--score"), int(a.get_int("--every", 1, 1, 1 << 20)));
    if (!s.ok()) throw Error(s.status().code, s.status().message);
    const ocr::SetScore& r = s.value();
    std::printf("%s\n", nlohmann::json{{"images", r.images}, {"lines", r.lines}, {"exact_lines", r.exact_lines}, {"chars", r.chars},
                                        {"errors", r.errors}, {"cer", r.cer()}}.dump().c_str());
    return 0;
  }
  const bool lines_json = a.has("--jsonl") || (a.has("--json") && a.positional.size() > 1);
  const bool json = a.has("--json") || lines_json, profile = a.has("--profile"), many = a.positional.size() > 1;
  for (int64_t i = 0, n = a.get_int("--warmup", 0, 0, 1000000); i < n; ++i) {
    auto r = p.value()->run_file(a.positional[0]);
    if (!r.ok()) throw Error(r.status().code, r.status().message);
  }
  for (const std::string& image : a.positional) {
    auto r = p.value()->run_file(image);
    if (!r.ok()) throw Error(r.status().code, r.status().message);
    if (json) {
      nlohmann::json j = result_json(image, r.value());
      if (profile) j["profile_ms"] = profile_json(r.value().times, open_seconds);
      std::printf("%s\n", j.dump(lines_json ? -1 : 2).c_str());
    } else {
      if (many) std::printf("== %s\n", image.c_str());
      print_text(r.value(), profile, open_seconds);
    }
  }
  if (lines_json) std::printf("%s\n", nlohmann::json{{"peak_rss_kb", peak_rss_bytes() / 1024}}.dump().c_str());
  return 0;
}

}  // namespace pareto::tools
