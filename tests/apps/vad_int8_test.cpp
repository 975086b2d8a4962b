// silero VAD with int8 convolutions: the model is calibrated on one
// synthesized recording (its windows dumped by the detector), quantized
// with sr bound to 16 kHz (its convs live inside If branches until then),
// and must find the same speech segments as the float model on another
// recording, with other sentences and another voice: same count, every
// boundary within one 32 ms window (with GPTQ's weights, every boundary the
// same). Skips without the model, espeak-ng or sox.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "pareto/quantize_onnx.hpp"
#include "vad_cases.h"
#include "scratch_dir.h"

using vad_cases::model;

namespace {

void quantize_and_compare(const std::string& tag, bool dynamic, bool gptq, int* unchanged_out) {
  if (!std::ifstream(model())) GTEST_SKIP() << "silero model not found in models/silero (run scripts/fetch-models.sh)";
  if (!vad_cases::have("espeak-ng") || !vad_cases::have("sox")) GTEST_SKIP() << "espeak-ng or sox not installed (scripts/setup.sh)";
  const std::string dir = pareto::testing::scratch_dir(std::string(dynamic ? "vad_int8_dynamic" : "vad_int8") + (gptq ? "_gptq" : ""));
  vad_cases::sh("rm -rf " + dir);
  const vad_cases::Mix calib = vad_cases::synthesize_mix(
      dir, "calib", {"the quick brown fox jumps over the lazy dog", "numbers like seven hundred and forty two are hard to say quickly",
                     "turn left at the second light and park behind the blue car"},
      "en-us");
  const vad_cases::Mix test = vad_cases::synthesize_mix(
      dir, "test", {"the weather is nice today and we will go outside", "please send the report before the meeting starts",
                    "my phone number has changed since last year"});
  ASSERT_FALSE(calib.wav.empty() || test.wav.empty());

  pareto::vad::Options dumping;
  dumping.dump_inputs = dir + "/calib-npy";
  auto fp32 = pareto::vad::Detector::open(model(), dumping);
  ASSERT_TRUE(fp32.ok()) << fp32.status().to_string();
  ASSERT_TRUE(fp32.value()->run_file(calib.wav).ok());
  auto samples = pareto::load_calibration_npy(dumping.dump_inputs, {"input", "state"});
  ASSERT_TRUE(samples.ok()) << samples.status().to_string();

  pareto::OnnxQuantizeOptions q;
  q.method = "percentile";
  q.dynamic = dynamic;
  q.gptq = gptq;
  q.constant_inputs = {{"sr", pareto::Tensor::scalar<int64_t>(16000)}};
  const std::string int8_model = dir + "/silero_int8.onnx";
  auto report = pareto::quantize_onnx_model(model(), int8_model, samples.value(), q);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  for (const pareto::OnnxLayerReport& l : report.value().layers)
    std::printf("[vad %s] %s: %s\n", tag.c_str(), l.node.c_str(), l.quantized ? "int8" : ("float, " + l.kept_because).c_str());
  EXPECT_EQ(report.value().quantized, 4) << "the four encoder convs run int8 (the STFT and decoder convs stay float)";
  std::printf("[vad %s] %d convs int8, %d float, %d calibration windows, output error %.3e\n", tag.c_str(), report.value().quantized, report.value().kept,
              report.value().samples, report.value().output_error);

  auto plain = pareto::vad::Detector::open(model());
  auto int8 = pareto::vad::Detector::open(int8_model);
  ASSERT_TRUE(plain.ok() && int8.ok()) << int8.status().to_string();
  auto a = plain.value()->run_file(test.wav);
  auto b = int8.value()->run_file(test.wav);
  ASSERT_TRUE(a.ok() && b.ok()) << b.status().to_string();
  const auto &fs = a.value().segments, &is = b.value().segments;
  ASSERT_EQ(fs.size(), test.truth.size());
  ASSERT_EQ(is.size(), fs.size()) << "int8 finds the same number of segments";
  const double window = a.value().window_seconds;
  int unchanged = 0;
  double prob_diff = 0;
  for (size_t i = 0; i < a.value().probabilities.size(); ++i)
    prob_diff = std::max(prob_diff, double(std::fabs(a.value().probabilities[i] - b.value().probabilities[i])));
  for (size_t i = 0; i < fs.size(); ++i) {
    std::printf("[vad %s] segment %zu: float %.3f-%.3f s, int8 %.3f-%.3f s\n", tag.c_str(), i, fs[i].start, fs[i].end, is[i].start, is[i].end);
    for (auto [f, q8] : {std::pair{fs[i].start, is[i].start}, std::pair{fs[i].end, is[i].end}}) {
      EXPECT_LE(std::fabs(f - q8), window + 1e-9) << "segment " << i;
      unchanged += std::fabs(f - q8) < 1e-9;
    }
  }
  std::printf("[vad %s] %d of %zu boundaries unchanged; largest speech-probability difference %.3f\n", tag.c_str(), unchanged, 2 * fs.size(), prob_diff);
  *unchanged_out = unchanged;
}

}  // namespace

TEST(VadInt8, SegmentsMatchTheFloatModel) {
  int unchanged = -1;
  quantize_and_compare("int8", false, false, &unchanged);
}

TEST(VadInt8, DynamicRangesSegmentsMatchTheFloatModel) {
  int unchanged = -1;
  quantize_and_compare("int8 dynamic", true, false, &unchanged);
  if (::testing::Test::IsSkipped()) return;
  // Static ranges keep 3 of the 6 (the quiet ends of utterances lose most);
  // per-run ranges keep their precision there.
  EXPECT_GE(unchanged, 5) << "per-run ranges keep at least 5 of the 6 boundaries";
}

// Weights rounded by GPTQ on the calibration windows (--weights gptq): with
// either kind of range, GPTQ's codes keep every boundary of this recording
// (rounded to nearest: 3 and 5 of 6). A pin of this recording's result, not
// a proof for others: README "int8 models" gives the tune_vad set's too.
TEST(VadInt8, GptqWeightsSegmentsMatchTheFloatModel) {
  int unchanged = -1;
  quantize_and_compare("int8 gptq", false, true, &unchanged);
  if (::testing::Test::IsSkipped()) return;
  EXPECT_EQ(unchanged, 6) << "every boundary unchanged";
}

TEST(VadInt8, GptqWeightsDynamicRangesSegmentsMatchTheFloatModel) {
  int unchanged = -1;
  quantize_and_compare("int8 dynamic gptq", true, true, &unchanged);
  if (::testing::Test::IsSkipped()) return;
  EXPECT_EQ(unchanged, 6) << "every boundary unchanged";
}
