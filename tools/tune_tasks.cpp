#include "tune_tasks.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pareto/models.hpp"
#include "pareto/ocr.hpp"
#include "pareto/vad.hpp"

namespace pareto::tools {

namespace {

// A file as the cache key sees it: absolute path, size and modification time.
std::string identity(const std::filesystem::path& p) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  const auto time = fs::last_write_time(p, ec).time_since_epoch().count();
  return fs::absolute(p, ec).string() + ":" + std::to_string(static_cast<unsigned long long>(size)) + ":" + std::to_string(static_cast<long long>(time));
}

// truth.json and every file it lists (a set recorded again under the same truth is another set).
std::string set_identity(const std::filesystem::path& set) {
  std::string key = identity(set / "truth.json");
  std::ifstream truth(set / "truth.json");
  const nlohmann::json t = nlohmann::json::parse(truth, nullptr, false);
  if (t.is_array())
    for (const auto& e : t)
      if (e.is_object() && e.contains("file") && e["file"].is_string()) key += "|" + identity(set / e["file"].get<std::string>());
  return key;
}

// The OCR set's character error rate with the candidate as the pipeline's
// det, cls or rec (the other two as shipped): pareto tune's task metric.
std::function<double(const std::string&)> ocr_task_metric(const Args& a, int threads) {
  const std::string role = a.get("--ocr-role", "");
  if (role != "det" && role != "cls" && role != "rec") fail_argument("--ocr-set needs --ocr-role det, cls or rec (which model is tuned)");
  auto dir = find_model_dir(ocr_models(), a.get("--ocr-models"));
  if (!dir.ok()) throw Error(dir.status().code, "OCR models: " + dir.status().message);
  const std::string set = a.get("--ocr-set"), models = dir.value();
  const int every = int(a.get_int("--ocr-every", 1, 1, 1 << 20));
  return [=](const std::string& model) {
    ocr::Options o;
    o.threads = threads;
    (role == "det" ? o.det_model : role == "cls" ? o.cls_model : o.rec_model) = model;
    auto p = take(ocr::Pipeline::open(models, o));
    return take(ocr::score_set(*p, set, every)).cer();
  };
}

// What the OCR task metric reads, for tune's cache: the set (truth.json and
// every image it lists), the role, the sampling and the models (each file by
// absolute path, size and time), so a changed set or model is measured again.
std::string ocr_task_key(const Args& a) {
  namespace fs = std::filesystem;
  std::string key = set_identity(a.get("--ocr-set")) + "|" + a.get("--ocr-role") + "|" + a.get("--ocr-every", "1");
  auto dir = find_model_dir(ocr_models(), a.get("--ocr-models"));
  if (dir.ok())
    for (const auto& e : fs::directory_iterator(dir.value())) key += "|" + identity(e.path());
  return key;
}

// The VAD set's boundary error (ms per true boundary, vad::score_set) with
// the candidate as the detector's model.
std::function<double(const std::string&)> vad_task_metric(const Args& a, int threads) {
  const std::string set = a.get("--vad-set");
  // Checked now, not after the first minutes of the search.
  std::ifstream f(set + "/truth.json");
  if (!f) fail(StatusCode::io_error, "--vad-set: cannot open " + set + "/truth.json");
  const nlohmann::json t = nlohmann::json::parse(f, nullptr, false);
  if (!t.is_array() || t.empty()) fail_argument("--vad-set: " + set + "/truth.json is not a non-empty array of {file, segments}");
  return [=](const std::string& model) {
    vad::Options o;
    o.threads = threads;
    auto d = take(vad::Detector::open(model, o));
    return take(vad::score_set(*d, set)).boundary_error_ms();
  };
}

}  // namespace

void set_task_metric(const Args& a, int threads, OnnxTuneOptions& o) {
  if (a.has("--ocr-set") && a.has("--vad-set")) fail_argument("one task metric at a time: --ocr-set or --vad-set");
  if (a.has("--ocr-set")) {
    o.task_metric = ocr_task_metric(a, threads);
    o.task_metric_name = "OCR CER";
    o.task_metric_key = ocr_task_key(a);
  } else if (a.has("--ocr-role") || a.has("--ocr-models") || a.has("--ocr-every")) {
    fail_argument("--ocr-role, --ocr-models and --ocr-every go with --ocr-set");
  }
  if (a.has("--vad-set")) {
    o.task_metric = vad_task_metric(a, threads);
    o.task_metric_name = "VAD boundary error (ms)";
    o.task_metric_key = "vad|" + set_identity(a.get("--vad-set"));
  }
}

}  // namespace pareto::tools
