// pareto vad AUDIO.wav [--json] [--profile] [--model PATH] [--threshold P]
// [--min-speech-ms N] [--min-silence-ms N] [--pad-ms N] [--dump-inputs DIR]:
// speech segments (and, with --dump-inputs, calibration samples for pareto quantize).
// pareto vad --score SET_DIR [--model PATH]: the labelled set's boundary error
// (vad::score_set, pareto tune's VAD task metric) as JSON.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/models.hpp"
#include "pareto/vad.hpp"

namespace pareto::tools {

int cmd_vad(const Args& a) {
  if (a.positional.size() != (a.has("--score") ? 0u : 1u))
    fail_argument("usage: pareto vad AUDIO.wav [--json] [--profile] [--model silero_vad.onnx] [--threshold 0.5] | pareto vad --score SET_DIR [--model F]");
  vad::Options o;
  o.threshold = float(a.get_double("--threshold", 0.5, 0, 1));
  o.min_speech_ms = int(a.get_int("--min-speech-ms", o.min_speech_ms, 0, 1 << 24));
  o.min_silence_ms = int(a.get_int("--min-silence-ms", o.min_silence_ms, 0, 1 << 24));
  o.speech_pad_ms = int(a.get_int("--pad-ms", o.speech_pad_ms, 0, 1 << 24));
  o.threads = a.get_threads();
  o.optimize = !a.has("--no-optimize");
  o.dump_inputs = a.get("--dump-inputs", "");
  auto model = find_model_file(vad_models(), a.get("--model"));
  if (!model.ok()) throw Error(model.status().code, "VAD model: " + model.status().message);
  auto d = vad::Detector::open(model.value(), o);
  if (!d.ok()) throw Error(d.status().code, d.status().message);
  if (a.has("--score")) {
    for (const char* other : {"--json", "--probs", "--profile", "--dump-inputs"})
      if (a.has(other)) fail_argument(std::string(other) + " does not go with --score (it prints the set's score as JSON)");
    const vad::SetScore sc = take(vad::score_set(*d.value(), a.get("--score")));
    const nlohmann::json j{{"files", sc.files},   {"segments", sc.segments}, {"matched", sc.matched},
                           {"missed", sc.missed}, {"extra", sc.extra},       {"boundary_error_ms", sc.boundary_error_ms()}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  auto r = d.value()->run_file(a.positional[0]);
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  const vad::VadResult& v = r.value();
  if (a.has("--json")) {
    nlohmann::json j;
    j["audio"] = a.positional[0];
    j["audio_seconds"] = v.audio_seconds;
    j["segments"] = nlohmann::json::array();
    for (const auto& s : v.segments) j["segments"].push_back({{"start", s.start}, {"end", s.end}});
    if (a.has("--profile"))
      j["profile"] = {{"windows", v.probabilities.size()}, {"decode_ms", v.decode_seconds * 1e3}, {"model_ms", v.model_seconds * 1e3},
                      {"total_ms", v.total_seconds * 1e3}, {"real_time_factor", v.real_time_factor()}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (a.has("--probs"))  // one line per window: start time and speech probability
    for (size_t i = 0; i < v.probabilities.size(); ++i) std::printf("# %.3f\t%.3f\n", double(i) * v.window_seconds, double(v.probabilities[i]));
  for (const auto& s : v.segments) std::printf("%.3f\t%.3f\n", s.start, s.end);
  std::fprintf(stderr, "%zu speech segments in %.2f s of audio\n", v.segments.size(), v.audio_seconds);
  if (a.has("--profile"))
    std::fprintf(stderr, "  %zu windows of %.0f ms | decode %.1f ms | model %.1f ms (%.3f ms per window) | total %.1f ms | real-time factor %.4f\n",
                 v.probabilities.size(), v.window_seconds * 1e3, v.decode_seconds * 1e3, v.model_seconds * 1e3,
                 v.probabilities.empty() ? 0.0 : v.model_seconds * 1e3 / double(v.probabilities.size()), v.total_seconds * 1e3, v.real_time_factor());
  return 0;
}

}  // namespace pareto::tools
