// Recordings for the VAD tests, made with espeak-ng and sox: utterances
// trimmed of their own silence (so the true boundaries are known), joined
// with silences and low white noise.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "apps/wav.h"
#include "pareto/vad.hpp"

namespace vad_cases {

inline std::string model() { return std::string(PARETO_SOURCE_DIR) + "/models/silero/silero_vad.onnx"; }
inline bool have(const char* cmd) { return std::system((std::string("command -v ") + cmd + " >/dev/null 2>&1").c_str()) == 0; }
inline bool sh(const std::string& cmd) {
  const bool ok = std::system(cmd.c_str()) == 0;
  EXPECT_TRUE(ok) << cmd;
  return ok;
}

struct Mix {
  std::string wav;
  std::vector<pareto::vad::Segment> truth;  // where the utterances are
};

// Layout: silence, speech, silence, speech, low noise, speech, silence,
// noise (sentences past the third are appended after more noise).
// `voice` is an espeak-ng voice; `tag` names the files in `dir`.
inline Mix synthesize_mix(const std::string& dir, const std::string& tag, const std::vector<std::string>& sentences,
                          const std::string& voice = "en") {
  Mix m;
  sh("mkdir -p " + dir);
  std::vector<std::string> speech;
  for (size_t i = 0; i < sentences.size(); ++i) {
    const std::string raw = dir + "/" + tag + "raw" + std::to_string(i) + ".wav", cut = dir + "/" + tag + "speech" + std::to_string(i) + ".wav";
    if (!sh("espeak-ng -v " + voice + " -s 150 -w " + raw + " '" + sentences[i] + "'")) return m;
    // Trim leading and trailing silence: the file then starts and ends with speech.
    // -R on every sox call: it dithers at random otherwise, and the recordings would differ from run to run.
    if (!sh("sox -R " + raw + " -r 16000 -c 1 -b 16 " + cut + " silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse")) return m;
    speech.push_back(cut);
  }
  const std::string sil1 = dir + "/sil1.wav", sil15 = dir + "/sil15.wav", noise = dir + "/noise.wav";
  if (!sh("sox -R -n -r 16000 -c 1 -b 16 " + sil1 + " trim 0 1.0") || !sh("sox -R -n -r 16000 -c 1 -b 16 " + sil15 + " trim 0 1.5") ||
      !sh("sox -R -n -r 16000 -c 1 -b 16 " + noise + " synth 1.5 whitenoise vol 0.002"))  // -R: the same noise every run
    return m;
  std::vector<std::pair<std::string, bool>> parts;  // file, is speech
  const std::string gaps[] = {sil1, sil15, noise};
  for (size_t i = 0; i < speech.size(); ++i) {
    parts.push_back({gaps[i % 3], false});
    parts.push_back({speech[i], true});
  }
  parts.push_back({sil1, false});
  parts.push_back({noise, false});
  std::string cmd = "sox -R";
  size_t at = 0;
  for (const auto& [file, is_speech] : parts) {
    cmd += " " + file;
    const size_t n = pareto::apps::load_wav(file).samples.size();
    if (is_speech) m.truth.push_back({double(at) / 16000, double(at + n) / 16000});
    at += n;
  }
  m.wav = dir + "/" + tag + "mix.wav";
  if (!sh(cmd + " " + m.wav)) m.wav.clear();
  return m;
}

}  // namespace vad_cases
