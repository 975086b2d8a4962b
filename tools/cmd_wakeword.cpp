// pareto wakeword AUDIO.wav | --stream [--keyword hey_jarvis[,alexa...]]
// [--models DIR] [--threshold 0.5] [--cooldown-ms 2000] [--vad-model F |
// --no-vad] [--json] [--scores] [--profile] [--threads N]: openWakeWord
// detections with time stamps. --stream reads 16 kHz mono 16-bit PCM from
// standard input and prints each detection as its chunk completes.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/models.hpp"
#include "pareto/wakeword.hpp"

namespace pareto::tools {

namespace {

void print_detection(const wakeword::Detection& d, bool json) {
  if (json) std::printf("%s\n", nlohmann::json{{"keyword", d.keyword}, {"time", d.time}, {"score", d.score}}.dump().c_str());
  else std::printf("%.2f\t%s\t%.3f\n", d.time, d.keyword.c_str(), double(d.score));
  std::fflush(stdout);
}

// 16-bit little-endian PCM from standard input, a chunk at a time.
int stream_stdin(wakeword::Detector& d, bool json) {
  std::vector<int16_t> raw(1280);
  std::vector<float> x;
  size_t n;
  while ((n = std::fread(raw.data(), sizeof(int16_t), raw.size(), stdin)) > 0) {
    x.resize(n);
    for (size_t i = 0; i < n; ++i) x[i] = float(raw[i]) / 32768.f;
    auto fired = d.push(x.data(), n);
    if (!fired.ok()) throw Error(fired.status().code, fired.status().message);
    for (const auto& det : fired.value()) print_detection(det, json);
  }
  auto last = d.finish();  // the partial chunk at the end, padded as a file's is
  if (!last.ok()) throw Error(last.status().code, last.status().message);
  for (const auto& det : last.value()) print_detection(det, json);
  return 0;
}

}  // namespace

int cmd_wakeword(const Args& a) {
  const bool stream = a.has("--stream");
  if (a.positional.size() != (stream ? 0u : 1u))
    fail_argument("usage: pareto wakeword AUDIO.wav | --stream [--keyword hey_jarvis[,alexa]] [--models DIR] [--threshold 0.5] [--json]");
  wakeword::Options o;
  o.threshold = float(a.get_double("--threshold", o.threshold, 0, 1));
  o.cooldown_ms = int(a.get_int("--cooldown-ms", o.cooldown_ms, 0, 1 << 24));
  o.threads = a.get_threads();
  if (!a.has("--no-vad")) {
    auto vad = find_model_file(vad_models(), a.get("--vad-model"));
    if (!vad.ok()) throw Error(vad.status().code, "VAD model (the detection gate; --no-vad runs without it): " + vad.status().message);
    o.vad_model = vad.value();
  }
  auto dir = find_model_dir(wakeword_models(), a.get("--models"));
  if (!dir.ok()) throw Error(dir.status().code, "wake-word models: " + dir.status().message);
  auto d = wakeword::Detector::open(dir.value(), wakeword::split_keywords(a.get("--keyword", "hey_jarvis")), o);
  if (!d.ok()) throw Error(d.status().code, d.status().message);
  const bool json = a.has("--json");
  if (stream) return stream_stdin(*d.value(), json);
  auto r = d.value()->run_file(a.positional[0]);
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  const wakeword::WakeWordResult& w = r.value();
  if (a.has("--scores"))  // one line per chunk: its end time and each keyword's score
    for (size_t c = 0; c < (w.scores.empty() ? 0 : w.scores[0].size()); ++c) {
      std::printf("# %.2f", double(c + 1) * w.chunk_seconds);
      for (const auto& s : w.scores) std::printf("\t%.6f", double(s[c]));
      std::printf("\n");
    }
  if (json) {
    nlohmann::json j;
    j["audio"] = a.positional[0];
    j["audio_seconds"] = w.audio_seconds;
    j["keywords"] = w.keywords;
    j["detections"] = nlohmann::json::array();
    for (const auto& det : w.detections) j["detections"].push_back({{"keyword", det.keyword}, {"time", det.time}, {"score", det.score}});
    if (a.has("--profile"))
      j["profile"] = {{"chunks", w.scores.empty() ? 0 : w.scores[0].size()}, {"decode_ms", w.decode_seconds * 1e3},
                      {"model_ms", w.model_seconds * 1e3}, {"total_ms", w.total_seconds * 1e3}, {"real_time_factor", w.real_time_factor()}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  for (const auto& det : w.detections) print_detection(det, false);
  std::fprintf(stderr, "%zu detections in %.2f s of audio\n", w.detections.size(), w.audio_seconds);
  if (a.has("--profile")) {
    const size_t chunks = w.scores.empty() ? 0 : w.scores[0].size();
    std::fprintf(stderr, "  %zu chunks of 80 ms | decode %.1f ms | models %.1f ms (%.3f ms per chunk) | total %.1f ms | real-time factor %.4f\n",
                 chunks, w.decode_seconds * 1e3, w.model_seconds * 1e3, chunks ? w.model_seconds * 1e3 / double(chunks) : 0.0,
                 w.total_seconds * 1e3, w.real_time_factor());
  }
  return 0;
}

}  // namespace pareto::tools
