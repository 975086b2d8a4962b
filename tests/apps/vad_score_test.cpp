// The VAD set's boundary error (vad::score_segments, vad::score_set): the
// matching rule on hand-made segments (every cost known), then a set of
// synthesized speech scored with the shipped model (both utterances found,
// within 150 ms) and the truth files it refuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "scratch_dir.h"
#include "vad_cases.h"

using pareto::vad::Segment;
using pareto::vad::SetScore;

TEST(VadScore, MatchesByOverlapAndChargesWhatIsMissedOrExtra) {
  SetScore s;
  // Truth 1-2 s and 3-4 s; found 1.1-2.05 s (matched: 100 + 50 ms), 5-6 s (extra); 3-4 s missed.
  pareto::vad::score_segments({{1, 2}, {3, 4}}, {{1.1, 2.05}, {5, 6}}, s);
  EXPECT_EQ(s.segments, 2);
  EXPECT_EQ(s.matched, 1);
  EXPECT_EQ(s.missed, 1);
  EXPECT_EQ(s.extra, 1);
  EXPECT_NEAR(s.total_error_ms, 150 + 2 * pareto::vad::kUnmatchedSegmentMs, 1e-9);
  EXPECT_NEAR(s.boundary_error_ms(), s.total_error_ms / 4, 1e-12);
  // One found segment spanning two true ones matches the first only.
  SetScore t;
  pareto::vad::score_segments({{1, 2}, {2.5, 3}}, {{0.9, 3.1}}, t);
  EXPECT_EQ(t.matched, 1);
  EXPECT_EQ(t.missed, 1);
  EXPECT_NEAR(t.total_error_ms, 100 + 1100 + pareto::vad::kUnmatchedSegmentMs, 1e-9);
  // Touching is not overlapping.
  SetScore u;
  pareto::vad::score_segments({{1, 2}}, {{2, 3}}, u);
  EXPECT_EQ(u.matched, 0);
  // A match costs no more than a miss.
  SetScore w;
  pareto::vad::score_segments({{1, 2}}, {{0, 10}}, w);
  EXPECT_EQ(w.matched, 1);
  EXPECT_NEAR(w.total_error_ms, pareto::vad::kUnmatchedSegmentMs, 1e-9);
}

TEST(VadScore, SynthesizedSetAndRefusedTruth) {
  if (!std::ifstream(vad_cases::model())) GTEST_SKIP() << "silero model not found in models/silero (run scripts/fetch-models.sh)";
  if (!vad_cases::have("espeak-ng") || !vad_cases::have("sox")) GTEST_SKIP() << "espeak-ng or sox not installed (scripts/setup.sh)";
  const std::string dir = pareto::testing::scratch_dir("vad_score");
  vad_cases::sh("rm -rf " + dir + " && mkdir -p " + dir);
  const vad_cases::Mix mix = vad_cases::synthesize_mix(dir, "s", {"the weather is nice today", "please send the report before the meeting"});
  ASSERT_FALSE(mix.wav.empty());
  auto truth_of = [&](double shift) {
    std::string j = "[{\"file\": \"smix.wav\", \"segments\": [";
    for (size_t i = 0; i < mix.truth.size(); ++i)
      j += (i ? "," : "") + std::string("[") + std::to_string(mix.truth[i].start + shift) + "," + std::to_string(mix.truth[i].end + shift) + "]";
    return j + "]}]";
  };
  auto det = pareto::vad::Detector::open(vad_cases::model());
  ASSERT_TRUE(det.ok()) << det.status().to_string();
  auto score = [&](const std::string& truth) {
    std::ofstream(dir + "/truth.json") << truth;
    return pareto::vad::score_set(*det.value(), dir);
  };
  auto s = score(truth_of(0));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s.value().files, 1);
  EXPECT_EQ(s.value().matched, 2);
  EXPECT_EQ(s.value().missed + s.value().extra, 0);
  EXPECT_LT(s.value().boundary_error_ms(), 150);
  // Truth moved 0.4 s later: still overlapping, each start and end further off.
  auto later = score(truth_of(0.4));
  ASSERT_TRUE(later.ok());
  EXPECT_GT(later.value().boundary_error_ms(), s.value().boundary_error_ms() + 200);
  for (const char* bad : {"{}", "[{\"file\": \"smix.wav\", \"segments\": [[2, 1]]}]", "[{\"file\": \"smix.wav\", \"segments\": [[1, 3], [2, 4]]}]",
                          "[{\"file\": \"smix.wav\", \"segments\": []}]", "[1,"}) {
    auto r = score(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  // Recordings outside the set are refused even where they exist and would run.
  const std::string outside = pareto::testing::scratch_dir("vad_score_outside");
  vad_cases::sh("mkdir -p " + outside + " && cp " + mix.wav + " " + outside + "/x.wav");
  const std::string up = "../" + std::filesystem::path(outside).filename().string() + "/x.wav";
  std::filesystem::create_symlink(outside + "/x.wav", dir + "/link.wav");
  for (const std::string& file : {up, outside + "/x.wav", std::string("link.wav")}) {
    auto r = score("[{\"file\": \"" + file + "\", \"segments\": [[1, 2]]}]");
    ASSERT_FALSE(r.ok()) << file;
    EXPECT_NE(r.status().message.find("not a path inside the set"), std::string::npos) << r.status().message;
  }
}
