// /v1/ocr (an image: text lines with boxes and confidences), /v1/vad (a
// WAV file: speech segments), /v1/classify (an image: the top classes) and
// /v1/wakeword (a WAV file: wake-word detections with times). The upload is
// the request body or the multipart field "file"; the body limit applies.
// Each app is opened on first use and serves one request at a time.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "pareto/classify.hpp"
#include "pareto/models.hpp"
#include "pareto/ocr.hpp"
#include "pareto/vad.hpp"
#include "pareto/wakeword.hpp"
#include "serve/server_impl.h"

namespace pareto::serve {

using nlohmann::json;

struct Server::Impl::Apps {
  std::mutex ocr_mu, vad_mu, classify_mu, wakeword_mu;
  std::unique_ptr<ocr::Pipeline> ocr;
  std::unique_ptr<vad::Detector> vad;
  std::unique_ptr<classify::Classifier> classifier;
  std::map<std::string, std::unique_ptr<wakeword::Detector>> wakeword;  // by keyword list
};

namespace {
constexpr int kMaxTop = 100;  // classes one /v1/classify answer may list
constexpr size_t kMaxKeywordSets = 8;       // wake-word detectors kept open
constexpr size_t kMaxKeywordsPerRequest = 8;

// ?keyword=hey_jarvis,alexa: head names only (letters, digits, '_'), never
// paths; sorted and deduplicated, so one set of heads is one cache entry.
std::vector<std::string> keywords_of(const httplib::Request& req) {
  std::vector<std::string> out = wakeword::split_keywords(req.has_param("keyword") ? req.get_param_value("keyword") : "hey_jarvis");
  for (const std::string& k : out)
    if (k.empty() || k.size() > 64 || k.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      bad_request("keyword must be a comma-separated list of wake-word names (lower-case letters, digits, '_')", "keyword");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > kMaxKeywordsPerRequest) bad_request("at most " + std::to_string(kMaxKeywordsPerRequest) + " keywords per request", "keyword");
  return out;
}
}  // namespace

namespace {

std::string upload_of(const httplib::Request& req) {
  std::string data = req.is_multipart_form_data() ? req.get_file_value("file").content : req.body;
  if (data.empty()) bad_request("no file: send it as the request body or as the multipart field \"file\"", "file");
  return data;
}

// The upload as a temporary file (the apps read files), removed on scope exit.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& data, const char* suffix) {
    std::string pattern = (std::filesystem::temp_directory_path() / "pareto-upload-XXXXXX").string() + suffix;
    const int fd = ::mkstemps(pattern.data(), int(std::strlen(suffix)));
    if (fd < 0) throw ApiError(500, "server_error", "cannot create a temporary file for the upload");
    path = pattern;
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    ::close(fd);
    if (done != data.size()) {
      std::remove(path.c_str());  // the destructor does not run for a constructor that throws
      throw ApiError(500, "server_error", "cannot write the upload to a temporary file");
    }
  }
  ~TempFile() { std::remove(path.c_str()); }
};

// Bad input (an image or WAV that does not decode) is the client's error.
// The temporary file's name is not the client's business: cut it from the message.
[[noreturn]] void fail_with(const Status& status, const std::string& what, const std::string& temp_path) {
  Status s = status;
  for (size_t at; (at = s.message.find(temp_path + ": ")) != std::string::npos;) s.message.erase(at, temp_path.size() + 2);
  if (s.code == StatusCode::invalid_argument || s.code == StatusCode::invalid_model || s.code == StatusCode::unsupported)
    bad_request(what + ": " + s.message, "file");
  throw ApiError(500, "server_error", what + ": " + s.message);
}

}  // namespace

void Server::Impl::app_routes() {
  apps = std::make_shared<Apps>();
  post("/v1/ocr", [this](const httplib::Request& req, httplib::Response& res) {
    const double t0 = now_s();
    if (!admitted(req, res, false)) return;
    LimitsScope limits(options.engine.llm.limits);  // --limit holds on this worker thread too
    try {
      const std::string data = upload_of(req);
      std::lock_guard lock(apps->ocr_mu);
      if (!apps->ocr) {
        auto dir = find_model_dir(ocr_models(), options.ocr_models);
        if (!dir.ok()) throw ApiError(503, "unavailable_error", "OCR models: " + dir.status().message, "", "models_missing");
        ocr::Options o;
        o.threads = std::max(1, options.engine.llm.threads);
        auto p = ocr::Pipeline::open(dir.value(), o);
        if (!p.ok()) throw ApiError(503, "unavailable_error", "OCR models: " + p.status().message, "", "models_missing");
        apps->ocr = std::move(p.value());
      }
      TempFile file(data, ".img");
      auto r = apps->ocr->run_file(file.path);
      if (!r.ok()) fail_with(r.status(), "the image", file.path);
      json lines = json::array();
      for (const ocr::TextLine& l : r.value().lines)
        lines.push_back({{"text", l.text}, {"confidence", l.confidence}, {"box", l.box}, {"flipped", l.flipped}});
      const ocr::StageTimes& t = r.value().times;
      res.set_content(to_text({{"object", "ocr.result"}, {"lines", lines},
                               {"timings", {{"total_ms", t.total * 1e3}, {"detect_ms", t.detect * 1e3}, {"recognize_ms", t.recognize * 1e3}}}}),
                      "application/json");
      metrics.request("/v1/ocr", 200, now_s() - t0);
    } catch (const ApiError& e) {
      send_error(res, e);
      metrics.request("/v1/ocr", e.status, now_s() - t0);
    }
  });
  post("/v1/vad", [this](const httplib::Request& req, httplib::Response& res) {
    const double t0 = now_s();
    if (!admitted(req, res, false)) return;
    LimitsScope limits(options.engine.llm.limits);
    try {
      const std::string data = upload_of(req);
      std::lock_guard lock(apps->vad_mu);
      if (!apps->vad) {
        auto model = find_model_file(vad_models(), options.vad_model);
        if (!model.ok()) throw ApiError(503, "unavailable_error", "VAD model: " + model.status().message, "", "models_missing");
        auto d = vad::Detector::open(model.value());
        if (!d.ok()) throw ApiError(503, "unavailable_error", "VAD model: " + d.status().message, "", "models_missing");
        apps->vad = std::move(d.value());
      }
      TempFile file(data, ".wav");
      apps->vad->reset();  // each upload is a stream of its own
      auto r = apps->vad->run_file(file.path);
      if (!r.ok()) fail_with(r.status(), "the audio", file.path);
      json segments = json::array();
      for (const vad::Segment& s : r.value().segments) segments.push_back({{"start", s.start}, {"end", s.end}});
      const vad::VadResult& v = r.value();
      res.set_content(to_text({{"object", "vad.result"}, {"segments", segments}, {"audio_seconds", v.audio_seconds},
                               {"sample_rate", v.sample_rate}, {"real_time_factor", v.real_time_factor()}}),
                      "application/json");
      metrics.request("/v1/vad", 200, now_s() - t0);
    } catch (const ApiError& e) {
      send_error(res, e);
      metrics.request("/v1/vad", e.status, now_s() - t0);
    }
  });
  post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) {
    const double t0 = now_s();
    if (!admitted(req, res, false)) return;
    LimitsScope limits(options.engine.llm.limits);
    try {
      int top = 5;
      if (req.has_param("top")) {
        const std::string v = req.get_param_value("top");
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n < 1 || n > kMaxTop) bad_request("top must be a whole number 1.." + std::to_string(kMaxTop), "top");
        top = int(n);
      }
      const std::string data = upload_of(req);
      std::lock_guard lock(apps->classify_mu);
      if (!apps->classifier) {
        if (options.classify_model.empty())
          throw ApiError(503, "unavailable_error", "no classifier: start the server with --classify-model M.tflite|M.onnx", "", "models_missing");
        classify::Options o;
        o.top_k = kMaxTop;
        o.threads = std::max(1, options.engine.llm.threads);
        o.labels_path = options.classify_labels;
        auto c = classify::Classifier::open(options.classify_model, o);
        if (!c.ok()) throw ApiError(503, "unavailable_error", "classifier: " + c.status().message, "", "models_missing");
        apps->classifier = std::move(c.value());
      }
      TempFile file(data, ".img");
      auto r = apps->classifier->run_file(file.path);
      if (!r.ok()) fail_with(r.status(), "the image", file.path);
      json classes = json::array();
      for (size_t i = 0; i < r.value().top.size() && int(i) < top; ++i) {
        const classify::Class& k = r.value().top[i];
        classes.push_back({{"index", k.index}, {"label", k.label}, {"score", k.score}});
      }
      res.set_content(to_text({{"object", "classify.result"}, {"classes", classes},
                               {"timings", {{"preprocess_ms", r.value().preprocess_seconds * 1e3}, {"model_ms", r.value().model_seconds * 1e3}}}}),
                      "application/json");
      metrics.request("/v1/classify", 200, now_s() - t0);
    } catch (const ApiError& e) {
      send_error(res, e);
      metrics.request("/v1/classify", e.status, now_s() - t0);
    }
  });
  post("/v1/wakeword", [this](const httplib::Request& req, httplib::Response& res) {
    const double t0 = now_s();
    if (!admitted(req, res, false)) return;
    LimitsScope limits(options.engine.llm.limits);
    try {
      const std::vector<std::string> keywords = keywords_of(req);
      std::string key;
      for (const std::string& k : keywords) key += k + ",";
      const std::string data = upload_of(req);
      std::lock_guard lock(apps->wakeword_mu);
      if (!apps->wakeword.count(key)) {
        auto dir = find_model_dir(wakeword_models(), options.wakeword_models);
        if (!dir.ok()) throw ApiError(503, "unavailable_error", "wake-word models: " + dir.status().message, "", "models_missing");
        auto vad_model = find_model_file(vad_models(), options.vad_model);
        if (!vad_model.ok()) throw ApiError(503, "unavailable_error", "VAD model (the wake-word gate): " + vad_model.status().message, "", "models_missing");
        wakeword::Options o;
        o.vad_model = vad_model.value();
        o.threads = std::max(1, options.engine.llm.threads);
        auto d = wakeword::Detector::open(dir.value(), keywords, o);
        if (!d.ok()) {
          std::string message = d.status().message;  // the server's folders are not the client's business
          for (size_t at; (at = message.find(dir.value())) != std::string::npos;) message.replace(at, dir.value().size(), "the models folder");
          if (d.status().code == StatusCode::invalid_argument) bad_request(message, "keyword");
          throw ApiError(503, "unavailable_error", "wake-word models: " + message, "", "models_missing");
        }
        if (apps->wakeword.size() >= kMaxKeywordSets) apps->wakeword.clear();  // bounded: many distinct lists reopen
        apps->wakeword[key] = std::move(d.value());
      }
      wakeword::Detector& d = *apps->wakeword[key];
      TempFile file(data, ".wav");
      auto r = d.run_file(file.path);
      if (!r.ok()) fail_with(r.status(), "the audio", file.path);
      json detections = json::array();
      for (const wakeword::Detection& x : r.value().detections)
        detections.push_back({{"keyword", x.keyword}, {"time", x.time}, {"score", x.score}});
      res.set_content(to_text({{"object", "wakeword.result"}, {"keywords", r.value().keywords}, {"detections", detections},
                               {"audio_seconds", r.value().audio_seconds}, {"real_time_factor", r.value().real_time_factor()}}),
                      "application/json");
      metrics.request("/v1/wakeword", 200, now_s() - t0);
    } catch (const ApiError& e) {
      send_error(res, e);
      metrics.request("/v1/wakeword", e.status, now_s() - t0);
    }
  });
}

}  // namespace pareto::serve
