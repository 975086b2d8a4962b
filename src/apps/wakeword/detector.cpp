// openWakeWord's streaming pipeline (see pareto/wakeword.hpp). The models were
// trained on 16-bit PCM values, not [-1, 1] floats, so samples are scaled by
// 32768 before the melspectrogram. A new stream starts from the state long
// silence leaves (mel frames and embeddings of digital silence), so the first
// chunks are scored on real context instead of the ones/noise openWakeWord
// seeds its buffers with (which made alexa fire at 0.68 on the first chunks
// of a silent file in our check).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "apps/wav.h"
#include "pareto/guarded.hpp"
#include "pareto/vad.hpp"
#include "pareto/wakeword.hpp"

namespace pareto::wakeword {

namespace {

constexpr int kChunk = 1280;       // 80 ms at 16 kHz
constexpr int kContext = 480;      // 30 ms before each chunk: its first mel frames need them
constexpr int kMelBins = 32;
constexpr int kMelFramesPerChunk = 8;
constexpr int kMelWindow = 76;     // mel frames per embedding
constexpr int kEmbedding = 96;
constexpr int kMaxHeadWindow = 1024;

// Compiled; `input` bound to `shape` unless input is empty (the model declares it).
std::unique_ptr<Session> open_session(const std::string& path, const std::string& input, const Shape& shape, int threads) {
  SessionOptions so;
  so.threads = threads;
  so.optimize = true;
  if (!input.empty()) so.shapes = {{input, shape}};
  auto s = Session::open(path, so);
  if (!s.ok()) throw Error(s.status().code, s.status().message);
  return std::move(s.value());
}

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A keyword's head: a path to an .onnx file, else a name in models_dir.
std::string head_path(const std::string& models_dir, const std::string& keyword) {
  if (keyword.empty()) fail_argument("wakeword: an empty keyword");
  if (keyword.find('/') != std::string::npos || (keyword.size() > 5 && keyword.ends_with(".onnx"))) {
    if (!is_file(keyword)) fail_argument("wakeword: head model " + keyword + " not found");
    return keyword;
  }
  for (const std::string& f : {models_dir + "/" + keyword + "_v0.1.onnx", models_dir + "/" + keyword + ".onnx"})
    if (is_file(f)) return f;
  fail_argument("wakeword: no head for keyword '" + keyword + "' in " + models_dir + " (looked for " + keyword + "_v0.1.onnx and " + keyword +
                ".onnx)");
}

std::string keyword_name(const std::string& keyword) {
  std::string k = keyword.substr(keyword.find_last_of('/') + 1);
  if (k.ends_with(".onnx")) k.resize(k.size() - 5);
  if (k.ends_with("_v0.1")) k.resize(k.size() - 5);
  return k;
}

Tensor run_one(Session& s, const std::string& input, Tensor t, const char* what) {
  auto out = s.run({{input, std::move(t)}});
  if (!out.ok()) throw Error(out.status().code, std::string("wakeword ") + what + ": " + out.status().message);
  return std::move(out.value()[0]);
}

}  // namespace

struct Detector::Impl {
  struct Head {
    std::string name, input;
    int window = 16;
    std::unique_ptr<Session> session;
  };
  Options options;
  std::vector<std::string> names;
  std::unique_ptr<Session> mel, embed;
  std::string mel_input, embed_input;
  std::vector<Head> heads;
  std::unique_ptr<vad::Detector> vad;
  int feature_window = 16;  // the longest head window
  // What long silence leaves: one mel frame and one embedding.
  std::vector<float> silent_frame, silent_embedding;

  // Stream state.
  std::vector<float> context, mel_frames, features, pending;
  std::vector<std::vector<float>> scores;
  int64_t chunks = 0, cooldown_until = 0;
  int hangover = 0;
  bool speech = false;
  double model_seconds = 0;

  // Mel frames (x/10 + 2) of kContext + kChunk samples already scaled to PCM values.
  std::vector<float> mel_of(Tensor pcm) {
    const int64_t samples = pcm.numel();
    Tensor out = run_one(*mel, mel_input, std::move(pcm), "melspectrogram");
    if (out.dtype() != DType::f32 || out.numel() != int64_t(kMelFramesPerChunk) * kMelBins)
      fail_model("wakeword: the melspectrogram model gave " + std::to_string(out.numel()) + " values for " + std::to_string(samples) +
                 " samples, expected " + std::to_string(kMelFramesPerChunk) + " frames of " + std::to_string(kMelBins));
    std::vector<float> v(out.data<float>(), out.data<float>() + out.numel());
    for (float& x : v) x = x / 10.f + 2.f;
    return v;
  }

  std::vector<float> embedding_of(const std::vector<float>& frames) {
    Tensor out = run_one(*embed, embed_input, Tensor::from_vector(frames, {1, kMelWindow, kMelBins, 1}), "embedding");
    if (out.dtype() != DType::f32 || out.numel() != int64_t(kEmbedding))
      fail_model("wakeword: the embedding model gave " + std::to_string(out.numel()) + " values, expected " + std::to_string(kEmbedding));
    return std::vector<float>(out.data<float>(), out.data<float>() + kEmbedding);
  }

  float score_of(Head& h) {
    Tensor window = Tensor::empty(DType::f32, {1, h.window, kEmbedding});  // the last W embeddings
    std::memcpy(window.data<float>(), features.data() + features.size() - size_t(h.window) * kEmbedding, window.nbytes());
    Tensor out = run_one(*h.session, h.input, std::move(window), h.name.c_str());
    if (out.dtype() != DType::f32 || out.numel() < 1) fail_model("wakeword: head " + h.name + " gave no float score");
    return out.data<float>()[0];
  }

  void open_models(const std::string& dir, const std::vector<std::string>& keywords) {
    if (keywords.empty()) fail_argument("wakeword: no keyword given");
    // The heads first: a wrong keyword is refused before the larger models load.
    for (const std::string& k : keywords) {
      Head h;
      h.name = keyword_name(k);
      const std::string path = head_path(dir, k);
      // Opened once, compiled: a head declares its input [1, W, 96] (W, the
      // embeddings per score, is read from it), so nothing needs binding.
      h.session = open_session(path, "", {}, options.threads);
      const auto& ins = h.session->inputs();
      if (ins.size() != 1 || ins[0].dims.size() != 3 || ins[0].dims[2] != kEmbedding || ins[0].dims[1] < 1 || ins[0].dims[1] > kMaxHeadWindow) {
        const std::string why = " is not an openWakeWord head (one input [1, W, 96] with 1 <= W <= " + std::to_string(kMaxHeadWindow) + ")";
        // A name that finds another model is the caller's mistake; a file given by path is a bad model.
        if (path == k) fail_model(path + why);
        fail_argument("wakeword: keyword '" + k + "'" + why);
      }
      h.input = ins[0].name;
      h.window = int(ins[0].dims[1]);
      feature_window = std::max(feature_window, h.window);
      names.push_back(h.name);
      heads.push_back(std::move(h));
    }
    mel = open_session(dir + "/melspectrogram.onnx", "input", {1, kContext + kChunk}, options.threads);
    embed = open_session(dir + "/embedding_model.onnx", "input_1", {1, kMelWindow, kMelBins, 1}, options.threads);
    mel_input = mel->inputs().at(0).name;
    embed_input = embed->inputs().at(0).name;
    if (!options.vad_model.empty()) {
      vad::Options vo;
      vo.threads = options.threads;
      auto v = vad::Detector::open(options.vad_model, vo);
      if (!v.ok()) throw Error(v.status().code, "wakeword VAD: " + v.status().message);
      vad = std::move(v.value());
    }
    const std::vector<float> frames = mel_of(Tensor::zeros(DType::f32, {1, kContext + kChunk}));
    silent_frame.assign(frames.begin(), frames.begin() + kMelBins);
    std::vector<float> window;
    for (int i = 0; i < kMelWindow; ++i) window.insert(window.end(), silent_frame.begin(), silent_frame.end());
    silent_embedding = embedding_of(window);
  }

  void reset() {
    context.assign(kContext, 0.f);
    mel_frames.clear();
    for (int i = 0; i < kMelWindow; ++i) mel_frames.insert(mel_frames.end(), silent_frame.begin(), silent_frame.end());
    features.clear();
    for (int i = 0; i < feature_window; ++i) features.insert(features.end(), silent_embedding.begin(), silent_embedding.end());
    pending.clear();
    scores.assign(heads.size(), {});
    chunks = cooldown_until = 0;
    hangover = 0;
    speech = false;
    model_seconds = 0;
    if (vad) vad->reset();
  }

  // One 80 ms chunk of [-1, 1] samples; appends a detection when one fires.
  void step(const float* samples, std::vector<Detection>& fired) {
    const double t0 = now_seconds();
    Tensor pcm = Tensor::empty(DType::f32, {1, kContext + kChunk});  // the context, then this chunk as PCM values
    float* x = pcm.data<float>();
    std::copy(context.begin(), context.end(), x);
    for (int i = 0; i < kChunk; ++i) x[kContext + i] = samples[i] * 32768.f;
    std::copy(x + kChunk, x + kContext + kChunk, context.begin());
    const std::vector<float> frames = mel_of(std::move(pcm));
    mel_frames.erase(mel_frames.begin(), mel_frames.begin() + kMelFramesPerChunk * kMelBins);
    mel_frames.insert(mel_frames.end(), frames.begin(), frames.end());
    const std::vector<float> e = embedding_of(mel_frames);
    features.erase(features.begin(), features.begin() + kEmbedding);
    features.insert(features.end(), e.begin(), e.end());
    update_speech(samples);
    ++chunks;
    int best = -1;
    for (size_t k = 0; k < heads.size(); ++k) {
      const float s = score_of(heads[k]);
      scores[k].push_back(s);
      if (s > options.threshold && (best < 0 || s > scores[size_t(best)].back())) best = int(k);
    }
    if (best >= 0 && (!vad || speech) && chunks >= cooldown_until) {
      fired.push_back({heads[size_t(best)].name, double(chunks) * kChunk / 16000.0, scores[size_t(best)].back()});
      // The next chunk that may fire: cooldown_ms later (rounded up to whole chunks).
      cooldown_until = chunks + (int64_t(options.cooldown_ms) * 16 + kChunk - 1) / kChunk;
    }
    model_seconds += now_seconds() - t0;
  }

  // The package's gate: speech heard in this chunk opens it; it closes on
  // the vad_hangover_chunks-th chunk in a row without speech (so it stays
  // open for that chunk and the hangover - 1 after it, as the package does).
  void update_speech(const float* samples) {
    if (!vad) return;
    auto probs = vad->push(samples, kChunk);
    if (!probs.ok()) throw Error(probs.status().code, "wakeword VAD: " + probs.status().message);
    const bool heard = std::any_of(probs.value().begin(), probs.value().end(), [&](float p) { return p > options.vad_threshold; });
    if (heard) {
      speech = true;
      hangover = options.vad_hangover_chunks;
    } else if (speech && --hangover <= 0) {
      speech = false;
    }
  }

  std::vector<Detection> push(const float* samples, size_t n) {
    pending.insert(pending.end(), samples, samples + n);
    std::vector<Detection> fired;
    size_t used = 0;
    for (; used + kChunk <= pending.size(); used += kChunk) step(pending.data() + used, fired);
    pending.erase(pending.begin(), pending.begin() + std::ptrdiff_t(used));
    return fired;
  }

  // A last partial chunk, padded with silence.
  std::vector<Detection> finish() {
    if (pending.empty()) return {};
    pending.resize(kChunk, 0.f);
    return push(nullptr, 0);
  }

  WakeWordResult run(std::vector<float> samples, int sample_rate, double decode_seconds) {
    const double t0 = now_seconds();
    WakeWordResult r;
    r.audio_seconds = double(samples.size()) / sample_rate;
    if (sample_rate != 16000) samples = apps::resample_linear(samples, sample_rate, 16000);
    samples.resize((samples.size() + kChunk - 1) / kChunk * kChunk, 0.f);
    reset();
    r.detections = push(samples.data(), samples.size());
    r.keywords = names;
    r.scores = scores;
    r.decode_seconds = decode_seconds;
    r.model_seconds = model_seconds;
    r.total_seconds = decode_seconds + (now_seconds() - t0);
    reset();
    return r;
  }
};

Detector::Detector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Detector::~Detector() = default;

pareto::Result<std::unique_ptr<Detector>> Detector::open(const std::string& models_dir, const std::vector<std::string>& keywords,
                                                         const Options& options) {
  return guarded([&] {
    if (!(options.threshold >= 0 && options.threshold <= 1)) fail_argument("wakeword: threshold must be in [0, 1]");
    if (options.cooldown_ms < 0 || options.vad_hangover_chunks < 0) fail_argument("wakeword: negative cool-down or hangover");
    LimitsScope limits(options.limits);
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->open_models(models_dir, keywords);
    impl->reset();
    return std::unique_ptr<Detector>(new Detector(std::move(impl)));
  });
}

const std::vector<std::string>& Detector::keywords() const { return impl_->names; }
const std::vector<std::vector<float>>& Detector::scores() const { return impl_->scores; }

pareto::Result<WakeWordResult> Detector::run_file(const std::string& wav_path) {
  return guarded([&] {
    LimitsScope limits(impl_->options.limits);
    const double t0 = now_seconds();
    apps::Audio a = apps::load_wav(wav_path);
    return impl_->run(std::move(a.samples), a.sample_rate, now_seconds() - t0);
  });
}

pareto::Result<WakeWordResult> Detector::run(const float* samples, size_t n, int sample_rate) {
  return guarded([&] {
    if (sample_rate < 1000 || sample_rate > 384000) fail_argument("wakeword: sample rate " + std::to_string(sample_rate) + " Hz");
    LimitsScope limits(impl_->options.limits);
    check_limit("wakeword: audio of " + std::to_string(n) + " samples at " + std::to_string(sample_rate) + " Hz (seconds)",
                uint64_t(n) / uint64_t(sample_rate), "audio-seconds");
    return impl_->run(std::vector<float>(samples, samples + n), sample_rate, 0);
  });
}

pareto::Result<std::vector<Detection>> Detector::push(const float* samples, size_t n) {
  return guarded([&] { return impl_->push(samples, n); });
}

pareto::Result<std::vector<Detection>> Detector::finish() {
  return guarded([&] { return impl_->finish(); });
}

std::vector<std::string> split_keywords(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (true) {
    const size_t comma = text.find(',', at);
    out.push_back(text.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) return out;
    at = comma + 1;
  }
}

void Detector::reset() { impl_->reset(); }

}  // namespace pareto::wakeword
