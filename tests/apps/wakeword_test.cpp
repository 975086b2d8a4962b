// Wake-word detection end to end on openWakeWord's models: phrases spoken by
// espeak-ng (trimmed with sox, so where they are is known) between silences,
// in silence and under pink noise; sentences without the wake word. Plus the
// streaming, cool-down and threshold rules and refusals of wrong models.
// Skips without the models (scripts/fetch-models.sh), espeak-ng or sox.
// Rates over many voices are measured by bench/wakeword_rates.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "pareto/models.hpp"
#include "pareto/wakeword.hpp"
#include "vad_cases.h"
#include "scratch_dir.h"

namespace {

using pareto::wakeword::Detection;
using pareto::wakeword::Detector;
using pareto::wakeword::Options;

std::string models_dir() { return std::string(PARETO_SOURCE_DIR) + "/models/openwakeword"; }
std::string vad_model() { return std::string(PARETO_SOURCE_DIR) + "/models/silero/silero_vad.onnx"; }
bool have_models() {
  return bool(std::ifstream(models_dir() + "/embedding_model.onnx")) && bool(std::ifstream(models_dir() + "/hey_jarvis_v0.1.onnx")) &&
         bool(std::ifstream(vad_model()));
}

#define REQUIRE_WAKEWORD_INPUTS()                                                                                                     \
  do {                                                                                                                                \
    if (!have_models()) GTEST_SKIP() << "openWakeWord or silero models not found in models/ (run scripts/fetch-models.sh)";           \
    if (!vad_cases::have("espeak-ng") || !vad_cases::have("sox")) GTEST_SKIP() << "espeak-ng or sox not installed (scripts/setup.sh)"; \
  } while (0)

struct Clip {
  std::vector<float> samples;  // 16 kHz
  double start = 0, end = 0;   // where the utterance is, seconds
};

// 1.5 s of silence (or pink noise at about 10 dB below the speech), the
// utterance, 2.5 s more.
Clip speak(const std::string& text, const std::string& voice, bool noise) {
  const std::string dir = pareto::testing::scratch_dir("wakeword"), raw = dir + "/raw.wav", cut = dir + "/cut.wav", mix = dir + "/mix.wav";
  Clip c;
  if (!vad_cases::sh("mkdir -p " + dir) || !vad_cases::sh("espeak-ng -v " + voice + " -s 150 -w " + raw + " '" + text + "'") ||
      !vad_cases::sh("sox -R " + raw + " -r 16000 -c 1 -b 16 " + cut + " silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 1.5 2.5"))
    return c;
  c.samples = pareto::apps::load_wav(cut).samples;
  if (c.samples.size() < 4 * 16000) {  // 1.5 s + 2.5 s of padding at least
    ADD_FAILURE() << "the trimmed clip " << cut << " is too short: " << c.samples.size() << " samples";
    c.samples.clear();
    return c;
  }
  if (noise) {
    const std::string n = dir + "/noise.wav";
    // The length in samples from the clip as read (sox's synth without a length
    // never ends); -R: the same noise every run.
    if (!vad_cases::sh("sox -R -n -r 16000 -c 1 -b 16 " + n + " synth " + std::to_string(c.samples.size()) + "s pinknoise vol 0.03") ||
        !vad_cases::sh("sox -R -m " + cut + " " + n + " " + mix)) {
      c.samples.clear();
      return c;
    }
    c.samples = pareto::apps::load_wav(mix).samples;
  }
  c.start = 1.5;
  c.end = double(c.samples.size()) / 16000 - 2.5;
  return c;
}

std::unique_ptr<Detector> open(const std::vector<std::string>& keywords, Options o = {}) {
  auto d = Detector::open(models_dir(), keywords, o);
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  return d.ok() ? std::move(d.value()) : nullptr;
}

Options with_vad() {
  Options o;
  o.vad_model = vad_model();
  return o;
}

}  // namespace

TEST(WakeWord, DetectsThePhraseWhereItIsSpokenInSilenceAndNoise) {
  REQUIRE_WAKEWORD_INPUTS();
  auto d = open({"hey_jarvis", "alexa"}, with_vad());
  ASSERT_TRUE(d);
  struct Case {
    std::string text, voice, keyword;
    bool noise;
  };
  const Case cases[] = {{"hey jarvis, what time is it", "en-us", "hey_jarvis", false},
                        {"hey jarvis, what time is it", "en-us", "hey_jarvis", true},
                        {"alexa, play some music", "en-us", "alexa", false},
                        {"alexa, play some music", "en-gb", "alexa", true}};
  for (const Case& c : cases) {
    const Clip clip = speak(c.text, c.voice, c.noise);
    ASSERT_FALSE(clip.samples.empty());
    auto r = d->run(clip.samples.data(), clip.samples.size(), 16000);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    const auto& got = r.value().detections;
    std::printf("[wakeword] '%s' (%s%s): %zu detections", c.text.c_str(), c.voice.c_str(), c.noise ? ", pink noise" : "", got.size());
    for (const Detection& x : got) std::printf(" [%s %.2f s %.3f]", x.keyword.c_str(), x.time, double(x.score));
    std::printf(", spoken %.2f-%.2f s\n", clip.start, clip.end);
    ASSERT_EQ(got.size(), 1u) << c.text;
    EXPECT_EQ(got[0].keyword, c.keyword);
    EXPECT_GE(got[0].time, clip.start) << "fired before the phrase began";
    EXPECT_LE(got[0].time, clip.end + 1.0) << "fired more than 1 s after the phrase ended";
  }
}

TEST(WakeWord, SentencesWithoutTheWakeWordDoNotFire) {
  REQUIRE_WAKEWORD_INPUTS();
  auto d = open({"hey_jarvis", "alexa"}, with_vad());
  ASSERT_TRUE(d);
  for (const char* text : {"the quick brown fox jumps over the lazy dog", "hey travis, are you coming to dinner",
                           "please send me the report by friday afternoon"})
    for (bool noise : {false, true}) {
      const Clip clip = speak(text, "en-us", noise);
      ASSERT_FALSE(clip.samples.empty());
      auto r = d->run(clip.samples.data(), clip.samples.size(), 16000);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_TRUE(r.value().detections.empty()) << text << (noise ? " (noise)" : "") << ": fired " << r.value().detections[0].keyword << " at "
                                                << r.value().detections[0].time << " s";
    }
}

TEST(WakeWord, StreamingInUnevenPiecesGivesTheWholeRunsScores) {
  REQUIRE_WAKEWORD_INPUTS();
  auto d = open({"hey_jarvis", "hey_mycroft"}, with_vad());
  ASSERT_TRUE(d);
  Clip clip = speak("hey jarvis, turn off the lights", "en-gb", true);
  ASSERT_FALSE(clip.samples.empty());
  // End the clip 10 ms after the wake phrase, mid-chunk: the stream's finish()
  // must score that partial chunk as the whole run pads it.
  clip.samples.resize(size_t((clip.end + 0.01) * 16000));
  ASSERT_NE(clip.samples.size() % 1280, 0u);
  auto whole = d->run(clip.samples.data(), clip.samples.size(), 16000);
  ASSERT_TRUE(whole.ok());
  d->reset();
  std::vector<Detection> streamed;
  const size_t pieces[] = {1, 333, 1280, 4001, 17};
  for (size_t at = 0, i = 0; at < clip.samples.size(); ++i) {
    const size_t n = std::min(pieces[i % 5], clip.samples.size() - at);
    auto fired = d->push(clip.samples.data() + at, n);
    ASSERT_TRUE(fired.ok());
    streamed.insert(streamed.end(), fired.value().begin(), fired.value().end());
    at += n;
  }
  const size_t before_finish = d->scores()[0].size();
  auto last = d->finish();
  ASSERT_TRUE(last.ok());
  streamed.insert(streamed.end(), last.value().begin(), last.value().end());
  EXPECT_EQ(d->scores()[0].size(), before_finish + 1);
  EXPECT_EQ(d->scores(), whole.value().scores);  // bit for bit: the same computation
  ASSERT_EQ(streamed.size(), whole.value().detections.size());
  for (size_t i = 0; i < streamed.size(); ++i) EXPECT_EQ(streamed[i].time, whole.value().detections[i].time);
  EXPECT_FALSE(streamed.empty());
}

TEST(WakeWord, ThresholdAndCooldownRules) {
  REQUIRE_WAKEWORD_INPUTS();
  Clip clip = speak("hey jarvis, hey jarvis, hey jarvis", "en-us", false);
  ASSERT_FALSE(clip.samples.empty());
  Options every;  // no gate, no cool-down: every chunk above the threshold fires
  every.cooldown_ms = 0;
  auto d = open({"hey_jarvis"}, every);
  ASSERT_TRUE(d);
  auto r = d->run(clip.samples.data(), clip.samples.size(), 16000);
  ASSERT_TRUE(r.ok());
  const std::vector<float> s = r.value().scores.at(0);  // a copy: r is reused below
  const size_t above = size_t(std::count_if(s.begin(), s.end(), [](float v) { return v > 0.5f; }));
  EXPECT_GE(above, 2u) << "the clip should hold the wake word for several chunks";
  EXPECT_EQ(r.value().detections.size(), above);

  Options spaced;
  spaced.cooldown_ms = 2000;
  d = open({"hey_jarvis"}, spaced);
  ASSERT_TRUE(d);
  r = d->run(clip.samples.data(), clip.samples.size(), 16000);
  ASSERT_TRUE(r.ok());
  const auto& got = r.value().detections;
  ASSERT_FALSE(got.empty());
  EXPECT_LT(got.size(), above);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i].time - got[i - 1].time, 2.0 - 1e-9);
  // The first chunk after the cool-down may fire again: with every chunk above the
  // threshold spaced exactly 2.0 s (25 chunks) apart where the scores allow.
  for (size_t i = 1; i < got.size(); ++i) {
    const size_t chunk = size_t(std::lround(got[i].time / 0.08)) - 1, prev = size_t(std::lround(got[i - 1].time / 0.08)) - 1;
    bool earlier_eligible = false;  // a chunk after the cool-down and before this one that was above the threshold
    for (size_t c = prev + 25; c < chunk; ++c) earlier_eligible |= s[c] > 0.5f;
    EXPECT_FALSE(earlier_eligible) << "detection " << i << " waited longer than the cool-down";
  }

  Options never;
  never.threshold = 1.0f;  // a sigmoid never exceeds 1
  d = open({"hey_jarvis"}, never);
  ASSERT_TRUE(d);
  r = d->run(clip.samples.data(), clip.samples.size(), 16000);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().detections.empty());
}

TEST(WakeWord, RefusesWrongModelsNamingThem) {
  if (!have_models()) GTEST_SKIP() << "openWakeWord models not found in models/openwakeword (run scripts/fetch-models.sh)";
  auto missing = Detector::open(models_dir(), {"hey_nobody"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message.find("hey_nobody"), std::string::npos) << missing.status().message;
  auto not_a_head = Detector::open(models_dir(), {models_dir() + "/melspectrogram.onnx"});
  ASSERT_FALSE(not_a_head.ok());
  EXPECT_NE(not_a_head.status().message.find("not an openWakeWord head"), std::string::npos) << not_a_head.status().message;
  auto no_dir = Detector::open("/nonexistent", {"hey_jarvis"});
  ASSERT_FALSE(no_dir.ok());
  EXPECT_NE(no_dir.status().message.find("hey_jarvis"), std::string::npos) << no_dir.status().message;
  // A name that finds a model that is no head is the caller's mistake.
  auto vad_as_head = Detector::open(models_dir(), {"silero_vad"});
  ASSERT_FALSE(vad_as_head.ok());
  EXPECT_EQ(vad_as_head.status().code, pareto::StatusCode::invalid_argument) << vad_as_head.status().message;
  EXPECT_FALSE(Detector::open(models_dir(), {"hey_jarvis", ""}).ok());
  auto none = Detector::open(models_dir(), {});
  ASSERT_FALSE(none.ok());
  Options bad;
  bad.threshold = 2;
  EXPECT_FALSE(Detector::open(models_dir(), {"hey_jarvis"}, bad).ok());
}
