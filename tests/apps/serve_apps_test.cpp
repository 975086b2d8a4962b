// /v1/ocr, /v1/vad, /v1/classify and /v1/wakeword of pareto serve: the answers equal the apps' own on
// the same files (an image rendered here, speech synthesized here), as the
// body or as a multipart upload; bad uploads are 400s naming the file.
// Skips without the models (scripts/fetch-models.sh) or the tools.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "pareto/classify.hpp"
#include "pareto/llm.hpp"
#include "pareto/ocr.hpp"
#include "pareto/serve.hpp"
#include "pareto/vad.hpp"
#include "pareto/wakeword.hpp"
#include "vad_cases.h"

namespace {

using nlohmann::json;
const std::string kModels = std::string(PARETO_SOURCE_DIR) + "/models";
const std::string kCoral = std::string(PARETO_SOURCE_DIR) + "/../shared/models/coral/";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct AppServer {
  static inline int instances = 0;  // two servers at once each get their own folder
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("pareto_serve_apps_" + std::to_string(::getpid()) + "_" + std::to_string(instances++))).string();
  std::unique_ptr<pareto::serve::Server> server;
  int port = 0;
  explicit AppServer(const std::string& classify_model = "") {
    std::filesystem::create_directories(dir);
    pareto::SynthSpec spec;
    spec.preset = "micro", spec.type = "f32";
    EXPECT_TRUE(pareto::synth_llm(spec, dir + "/micro.gguf").ok());
    pareto::serve::ServeOptions o;
    o.model_path = dir + "/micro.gguf";
    o.port = 0;
    o.ocr_models = kModels + "/ocr";
    o.vad_model = kModels + "/silero/silero_vad.onnx";
    o.wakeword_models = kModels + "/openwakeword";
    o.classify_model = classify_model;
    if (!classify_model.empty()) o.classify_labels = kCoral + "imagenet_labels.txt";
    server = std::make_unique<pareto::serve::Server>(o);
    port = server->start();
  }
  ~AppServer() {
    server.reset();
    std::filesystem::remove_all(dir);
  }
  httplib::Client client() const { return httplib::Client("127.0.0.1", port); }
};

TEST(ServeApps, OcrAnswersAsThePipeline) {
  if (!std::ifstream(kModels + "/ocr/ch_PP-OCRv4_rec_infer.onnx")) GTEST_SKIP() << "OCR models not found in models/ocr (run scripts/fetch-models.sh)";
  if (std::system("convert -version 2>/dev/null | grep -q ImageMagick") != 0) GTEST_SKIP() << "ImageMagick not installed (scripts/setup.sh)";
  AppServer s;
  const std::string image = s.dir + "/two_lines.png";
  ASSERT_EQ(std::system(("convert -background white -fill black -font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf -pointsize 30 "
                         "-interline-spacing 16 label:'Serve this text\\nand this line 2026' -bordercolor white -border 24 " + image)
                            .c_str()),
            0);
  auto pipeline = pareto::ocr::Pipeline::open(kModels + "/ocr");
  ASSERT_TRUE(pipeline.ok());
  auto want = pipeline.value()->run_file(image);
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(want.value().lines.size(), 2u);
  auto c = s.client();
  const std::string bytes = read_file(image);
  httplib::MultipartFormDataItems form = {{"file", bytes, "two_lines.png", "image/png"}};
  for (int multipart = 0; multipart < 2; ++multipart) {
    auto r = multipart ? c.Post("/v1/ocr", form) : c.Post("/v1/ocr", bytes, "image/png");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    ASSERT_EQ(j["lines"].size(), want.value().lines.size());
    for (size_t i = 0; i < j["lines"].size(); ++i) {
      EXPECT_EQ(j["lines"][i]["text"], want.value().lines[i].text);
      EXPECT_FLOAT_EQ(j["lines"][i]["confidence"].get<float>(), want.value().lines[i].confidence);
      EXPECT_EQ(j["lines"][i]["box"][2][0].get<float>(), want.value().lines[i].box[2][0]);
    }
  }
  auto bad = c.Post("/v1/ocr", "not an image at all", "image/png");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("not a PNG, JPEG or BMP"), std::string::npos) << bad->body;
  EXPECT_EQ(bad->body.find("pareto-upload"), std::string::npos) << "no temporary file names in errors";
  auto empty = c.Post("/v1/ocr", "", "image/png");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
}

TEST(ServeApps, VadAnswersAsTheDetector) {
  if (!std::ifstream(vad_cases::model())) GTEST_SKIP() << "silero model not found in models/silero (run scripts/fetch-models.sh)";
  if (!vad_cases::have("espeak-ng")) GTEST_SKIP() << "espeak-ng not installed (scripts/setup.sh)";
  AppServer s;
  const std::string wav = s.dir + "/speech.wav";
  ASSERT_TRUE(vad_cases::sh("espeak-ng -w " + wav + " 'the server hears this sentence and then stops'"));
  auto detector = pareto::vad::Detector::open(vad_cases::model());
  ASSERT_TRUE(detector.ok());
  auto want = detector.value()->run_file(wav);
  ASSERT_TRUE(want.ok());
  ASSERT_FALSE(want.value().segments.empty());
  auto c = s.client();
  for (int round = 0; round < 2; ++round) {  // the second upload starts from a fresh state
    auto r = c.Post("/v1/vad", read_file(wav), "audio/wav");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    ASSERT_EQ(j["segments"].size(), want.value().segments.size());
    for (size_t i = 0; i < j["segments"].size(); ++i) {
      EXPECT_EQ(j["segments"][i]["start"].get<double>(), want.value().segments[i].start);
      EXPECT_EQ(j["segments"][i]["end"].get<double>(), want.value().segments[i].end);
    }
  }
  auto bad = c.Post("/v1/vad", "RIFF....WAVEjunk", "audio/wav");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
}

TEST(ServeApps, WakewordAnswersAsTheDetector) {
  if (!std::ifstream(kModels + "/openwakeword/embedding_model.onnx")) GTEST_SKIP() << "openWakeWord models not found (run scripts/fetch-models.sh)";
  if (!std::ifstream(vad_cases::model())) GTEST_SKIP() << "silero model not found in models/silero (run scripts/fetch-models.sh)";
  if (!vad_cases::have("espeak-ng") || !vad_cases::have("sox")) GTEST_SKIP() << "espeak-ng or sox not installed (scripts/setup.sh)";
  AppServer s;
  const std::string raw = s.dir + "/raw.wav", wav = s.dir + "/wake.wav";
  ASSERT_TRUE(vad_cases::sh("espeak-ng -v en-us -w " + raw + " 'hey jarvis, what time is it' && sox -R " + raw + " -r 16000 " + wav + " pad 1 2"));
  pareto::wakeword::Options o;
  o.vad_model = vad_cases::model();
  auto detector = pareto::wakeword::Detector::open(kModels + "/openwakeword", {"hey_jarvis", "alexa"}, o);
  ASSERT_TRUE(detector.ok()) << detector.status().to_string();
  auto want = detector.value()->run_file(wav);
  ASSERT_TRUE(want.ok());
  ASSERT_FALSE(want.value().detections.empty());
  auto c = s.client();
  for (int round = 0; round < 2; ++round) {  // the second upload starts from a fresh stream
    auto r = c.Post("/v1/wakeword?keyword=hey_jarvis,alexa", read_file(wav), "audio/wav");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    ASSERT_EQ(j["detections"].size(), want.value().detections.size()) << r->body;
    for (size_t i = 0; i < j["detections"].size(); ++i) {
      EXPECT_EQ(j["detections"][i]["keyword"], want.value().detections[i].keyword);
      EXPECT_EQ(j["detections"][i]["time"].get<double>(), want.value().detections[i].time);
      EXPECT_EQ(j["detections"][i]["score"].get<float>(), want.value().detections[i].score);
    }
  }
  for (const char* bad_keyword : {"../../etc/passwd", "hey_nobody", "", "a,,b", "silero_vad", "melspectrogram"}) {
    auto r = c.Post(std::string("/v1/wakeword?keyword=") + bad_keyword, read_file(wav), "audio/wav");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad_keyword << ": " << r->body;
    EXPECT_EQ(r->body.find(kModels), std::string::npos) << "the server's folder leaked: " << r->body;
  }
  auto bad = c.Post("/v1/wakeword", "RIFF....WAVEjunk", "audio/wav");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
}

TEST(ServeApps, ClassifyAnswersAsTheClassifier) {
  const std::string model = kCoral + "mobilenet_v1_0.25_128_quant.tflite";
  if (!std::ifstream(model)) GTEST_SKIP() << "../shared/models/coral not found next to the repository";
  pareto::classify::Options o;
  o.labels_path = kCoral + "imagenet_labels.txt";
  auto classifier = pareto::classify::Classifier::open(model, o);
  ASSERT_TRUE(classifier.ok()) << classifier.status().message;
  auto want = classifier.value()->run_file(kCoral + "cat.bmp");
  ASSERT_TRUE(want.ok());
  AppServer s(model);
  auto c = s.client();
  const std::string bytes = read_file(kCoral + "cat.bmp");
  httplib::MultipartFormDataItems form = {{"file", bytes, "cat.bmp", "image/bmp"}};
  for (int multipart = 0; multipart < 2; ++multipart) {
    auto r = multipart ? c.Post("/v1/classify?top=2", form) : c.Post("/v1/classify", bytes, "image/bmp");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    ASSERT_EQ(j["classes"].size(), multipart ? 2u : 5u);
    for (size_t i = 0; i < j["classes"].size(); ++i) {
      EXPECT_EQ(j["classes"][i]["index"], want.value().top[i].index);
      EXPECT_EQ(j["classes"][i]["label"], want.value().top[i].label);
      EXPECT_EQ(j["classes"][i]["score"].get<float>(), want.value().top[i].score);
    }
  }
  auto bad = c.Post("/v1/classify", "not an image at all", "image/png");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  auto bad_top = c.Post("/v1/classify?top=0", bytes, "image/bmp");
  ASSERT_TRUE(bad_top);
  EXPECT_EQ(bad_top->status, 400);
  EXPECT_NE(bad_top->body.find("\"top\""), std::string::npos) << bad_top->body;
  // Without a classifier configured: 503, the server stays up.
  AppServer none;
  auto c2 = none.client();
  auto missing = c2.Post("/v1/classify", bytes, "image/bmp");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 503) << missing->body;
  EXPECT_NE(missing->body.find("--classify-model"), std::string::npos) << missing->body;
}

}  // namespace
