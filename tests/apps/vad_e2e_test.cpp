// Voice activity end to end: speech synthesized with espeak-ng (silence
// trimmed with sox so the true boundaries are known), joined with silences
// and low white noise; every detected segment must lie within 150 ms of a
// true one and none may appear in silence or noise. Skips without the model
// (scripts/fetch-models.sh), espeak-ng or sox.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include "vad_cases.h"
#include "scratch_dir.h"

using vad_cases::model;

TEST(VadEndToEnd, SynthesizedSpeechBoundaries) {
  if (!std::ifstream(model())) GTEST_SKIP() << "silero model not found in models/silero (run scripts/fetch-models.sh)";
  if (!vad_cases::have("espeak-ng") || !vad_cases::have("sox")) GTEST_SKIP() << "espeak-ng or sox not installed (scripts/setup.sh)";
  const vad_cases::Mix mix = vad_cases::synthesize_mix(pareto::testing::scratch_dir("vad"), "e2e",
                                                       {"the weather is nice today and we will go outside",
                                                        "please send the report before the meeting starts", "my phone number has changed since last year"});
  ASSERT_FALSE(mix.wav.empty());
  const auto& truth = mix.truth;
  auto det = pareto::vad::Detector::open(model());
  ASSERT_TRUE(det.ok()) << det.status().to_string();
  auto r = det.value()->run_file(mix.wav);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto& got = r.value().segments;
  ASSERT_EQ(got.size(), truth.size()) << "one detected segment per utterance, none in silence or noise";
  double worst = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double ds = got[i].start - truth[i].start, de = got[i].end - truth[i].end;
    std::printf("[vad] utterance %zu: true %.3f-%.3f s, detected %.3f-%.3f s (start %+.0f ms, end %+.0f ms)\n", i, truth[i].start, truth[i].end,
                got[i].start, got[i].end, ds * 1e3, de * 1e3);
    EXPECT_LE(std::fabs(ds), 0.150) << "utterance " << i << " start";
    EXPECT_LE(std::fabs(de), 0.150) << "utterance " << i << " end";
    worst = std::max({worst, std::fabs(ds), std::fabs(de)});
  }
  std::printf("[vad] %.2f s of audio, real-time factor %.4f, worst boundary error %.0f ms\n", r.value().audio_seconds, r.value().real_time_factor(),
              worst * 1e3);
}

TEST(VadEndToEnd, StreamingMatchesWholeFile) {
  if (!std::ifstream(model())) GTEST_SKIP() << "silero model not found in models/silero (run scripts/fetch-models.sh)";
  auto det = pareto::vad::Detector::open(model());
  ASSERT_TRUE(det.ok()) << det.status().to_string();
  std::vector<float> audio(16000 * 2);
  for (size_t i = 0; i < audio.size(); ++i)  // a tone with a varying envelope: some windows score, some not
    audio[i] = float(0.3 * std::sin(double(i) * 0.05) * std::sin(double(i) * 0.0004));
  auto whole = det.value()->run(audio.data(), audio.size(), 16000);
  ASSERT_TRUE(whole.ok());
  det.value()->reset();
  std::vector<float> streamed;
  for (size_t at = 0; at < audio.size(); at += 700) {  // chunks that do not line up with windows
    auto p = det.value()->push(audio.data() + at, std::min<size_t>(700, audio.size() - at));
    ASSERT_TRUE(p.ok());
    streamed.insert(streamed.end(), p.value().begin(), p.value().end());
  }
  // The whole-file run zero-pads the last partial window; the stream keeps it pending.
  ASSERT_EQ(streamed.size() + 1, whole.value().probabilities.size());
  for (size_t i = 0; i < streamed.size(); ++i) EXPECT_NEAR(streamed[i], whole.value().probabilities[i], 1e-6f) << i;
}

TEST(VadEndToEnd, HysteresisRules) {
  pareto::vad::Options o;  // 0.5 / 0.35, 250 ms speech, 100 ms silence, 30 ms pad; 32 ms windows at 16 kHz
  auto seg = [&](std::vector<float> p) { return pareto::vad::speech_segments(p, 512, 16000, p.size() * 512, o); };
  EXPECT_TRUE(seg(std::vector<float>(50, 0.2f)).empty()) << "silence";
  EXPECT_TRUE(seg({0, 0, 0.9f, 0.9f, 0.9f, 0, 0, 0, 0, 0, 0, 0}).empty()) << "96 ms burst is below the minimum speech";
  std::vector<float> p(40, 0.f);
  for (int i = 5; i < 15; ++i) p[size_t(i)] = 0.9f;
  p[9] = 0.1f;  // one 32 ms dip: not a pause
  for (int i = 25; i < 35; ++i) p[size_t(i)] = 0.9f;
  auto s = seg(p);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0].start, 5 * 0.032 - 0.030, 1e-9);
  EXPECT_NEAR(s[0].end, 15 * 0.032 + 0.030, 1e-9);
  EXPECT_NEAR(s[1].start, 25 * 0.032 - 0.030, 1e-9);
}

TEST(VadEndToEnd, BadWavFilesGiveClearErrors) {
  const std::string d = pareto::testing::scratch_dir();
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(d + "/" + name, std::ios::binary) << bytes;
    return d + "/" + name;
  };
  // A 44-byte PCM header without its data chunk: 16 kHz mono 16-bit.
  const char header[] = "RIFF\x24\x08\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0";
  const std::string hdr(header, 36);
  struct Bad {
    std::string file, expect;
  };
  for (const Bad& b : {Bad{write("empty.wav", ""), "not a RIFF/WAVE"}, Bad{write("nodata.wav", hdr), "no data chunk"},
                       Bad{write("trunc.wav", hdr + std::string("data\x00\x10\0\0", 8) + std::string(100, '\0')), "truncated"},
                       Bad{write("alaw.wav", std::string(hdr).replace(20, 2, std::string("\x06\0", 2)) + std::string("data\x04\0\0\0\0\0\0\0", 12)),
                           "WAV format 6"}}) {
    try {
      pareto::apps::load_wav(b.file);
      ADD_FAILURE() << b.file << " accepted";
    } catch (const pareto::Error& e) {
      EXPECT_NE(std::string(e.what()).find(b.expect), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(b.file), std::string::npos) << e.what();
    }
  }
}

TEST(VadEndToEnd, CompiledModelMatchesThePlainOne) {
  if (!std::ifstream(model())) GTEST_SKIP() << "silero model not found in models/silero (run scripts/fetch-models.sh)";
  pareto::vad::Options plain;
  plain.optimize = false;
  auto a = pareto::vad::Detector::open(model(), plain);
  auto b = pareto::vad::Detector::open(model());
  ASSERT_TRUE(a.ok() && b.ok());
  for (int rate : {16000, 8000}) {
    std::vector<float> audio(static_cast<size_t>(rate));
    for (size_t i = 0; i < audio.size(); ++i) audio[i] = float(0.4 * std::sin(double(i) * 0.07) * std::sin(double(i) * 0.0011) + 0.01 * std::sin(double(i) * 1.3));
    auto ra = a.value()->run(audio.data(), audio.size(), rate);
    auto rb = b.value()->run(audio.data(), audio.size(), rate);
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra.value().probabilities.size(), rb.value().probabilities.size());
    for (size_t i = 0; i < ra.value().probabilities.size(); ++i)
      EXPECT_NEAR(rb.value().probabilities[i], ra.value().probabilities[i], 1e-5f) << rate << " Hz window " << i;
  }
}
