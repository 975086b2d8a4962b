// silero VAD v5 conventions: 512-sample windows at 16 kHz (256 at 8 kHz),
// each prefixed by the last 64 (32) samples of the previous one, state
// [2, 1, 128] carried across windows; segment rules as in silero's
// get_speech_timestamps.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "pareto/guarded.hpp"
#include "apps/wav.h"
#include "pareto/tensor_io.hpp"
#include "pareto/vad.hpp"

namespace pareto::vad {

struct Detector::Impl {
  Options options;
  std::string model_path;
  std::map<int, std::unique_ptr<Session>> sessions;  // per sample rate
  Session* session = nullptr;
  int rate = 16000;
  // false for a model specialized at 16 kHz (pareto quantize --const
  // sr=16000 folds the rate away): it runs every input at 16 kHz.
  bool has_sr = true;
  std::vector<float> context, state, pending;
  double model_seconds = 0;
  int dumped = 0;

  int window() const { return rate == 8000 ? 256 : 512; }
  int context_size() const { return rate == 8000 ? 32 : 64; }

  Session* open_for(int sample_rate) {
    auto& s = sessions[sample_rate];
    if (!s) {
      SessionOptions so;
      so.threads = options.threads;
      if (options.optimize) {
        so.optimize = true;
        const int64_t w = sample_rate == 8000 ? 256 + 32 : 512 + 64;
        so.shapes = {{"input", {1, w}}, {"state", {2, 1, 128}}};
        if (has_sr) so.constant_inputs = {{"sr", Tensor::scalar<int64_t>(sample_rate)}};
      }
      auto opened = Session::open(model_path, so);
      if (!opened.ok()) throw Error(opened.status().code, opened.status().message);
      s = std::move(opened.value());
    }
    return s.get();
  }

  void reset(int sample_rate) {
    session = open_for(sample_rate);
    rate = sample_rate;
    context.assign(size_t(context_size()), 0.f);
    state.assign(2 * 128, 0.f);
    pending.clear();
  }

  float step(const float* samples) {
    const int w = window(), c = context_size();
    Tensor input = Tensor::empty(DType::f32, {1, w + c});
    std::memcpy(input.data<float>(), context.data(), sizeof(float) * size_t(c));
    std::memcpy(input.data<float>() + c, samples, sizeof(float) * size_t(w));
    std::map<std::string, Tensor> feeds{{"input", std::move(input)}, {"state", Tensor::from_vector(state, {2, 1, 128})}};
    if (has_sr) feeds["sr"] = Tensor::scalar<int64_t>(rate);
    dump(feeds);
    const double t0 = now_seconds();
    auto out = session->run(feeds);
    if (!out.ok()) throw Error(out.status().code, "silero VAD: " + out.status().message);
    model_seconds += now_seconds() - t0;
    const Tensor& prob = out.value()[0];
    const Tensor& next = out.value()[1];
    if (prob.numel() != 1 || next.numel() != 256) fail_model("silero VAD: expected outputs [1,1] and [2,1,128]");
    std::memcpy(state.data(), next.data<float>(), sizeof(float) * 256);
    std::memcpy(context.data(), samples + w - c, sizeof(float) * size_t(c));
    return prob.data<float>()[0];
  }

  // Options::dump_inputs: each window's model inputs as DIR/NNNNNN/NAME.npy
  // (calibration samples for pareto quantize).
  void dump(const std::map<std::string, Tensor>& feeds) {
    if (options.dump_inputs.empty()) return;
    char sub[32];
    std::snprintf(sub, sizeof sub, "/%06d", dumped++);
    const std::string dir = options.dump_inputs + sub;
    ::mkdir(options.dump_inputs.c_str(), 0755);
    ::mkdir(dir.c_str(), 0755);
    for (const auto& [name, t] : feeds) {
      const Status st = write_npy(dir + "/" + name + ".npy", t);
      if (!st.ok()) throw Error(st.code, st.message);
    }
  }

  std::vector<float> push(const float* samples, size_t n) {
    pending.insert(pending.end(), samples, samples + n);
    std::vector<float> probs;
    const size_t w = size_t(window());
    size_t used = 0;
    for (; used + w <= pending.size(); used += w) probs.push_back(step(pending.data() + used));
    pending.erase(pending.begin(), pending.begin() + std::ptrdiff_t(used));
    return probs;
  }

  VadResult run(std::vector<float> samples, int sample_rate, double decode_seconds) {
    const double t0 = now_seconds();
    VadResult r;
    r.audio_seconds = double(samples.size()) / sample_rate;
    if (sample_rate != 16000 && (sample_rate != 8000 || !has_sr)) {
      samples = apps::resample_linear(samples, sample_rate, 16000);
      sample_rate = 16000;
    }
    reset(sample_rate);
    model_seconds = 0;
    const size_t w = size_t(window());
    // A last partial window is zero-padded, as silero's own helper does.
    std::vector<float> padded = samples;
    padded.resize((samples.size() + w - 1) / w * w, 0.f);
    r.probabilities = push(padded.data(), padded.size());
    r.sample_rate = sample_rate;
    r.window_seconds = double(w) / sample_rate;
    r.segments = speech_segments(r.probabilities, int(w), sample_rate, samples.size(), options);
    r.decode_seconds = decode_seconds;
    r.model_seconds = model_seconds;
    r.total_seconds = decode_seconds + (now_seconds() - t0);
    reset(16000);
    return r;
  }
};

std::vector<Segment> speech_segments(const std::vector<float>& probs, int window, int rate, size_t total, const Options& o) {
  const float neg = o.neg_threshold >= 0 ? o.neg_threshold : std::max(o.threshold - 0.15f, 0.01f);
  const int64_t min_speech = int64_t(rate) * o.min_speech_ms / 1000, min_silence = int64_t(rate) * o.min_silence_ms / 1000;
  const int64_t pad = int64_t(rate) * o.speech_pad_ms / 1000;
  struct Raw {
    int64_t start, end;
  };
  std::vector<Raw> raw;
  bool triggered = false;
  int64_t start = 0, temp_end = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const int64_t cur = int64_t(i) * window;
    if (probs[i] >= o.threshold && temp_end) temp_end = 0;
    if (probs[i] >= o.threshold && !triggered) {
      triggered = true;
      start = cur;
      continue;
    }
    if (probs[i] < neg && triggered) {
      if (!temp_end) temp_end = cur;
      if (cur - temp_end < min_silence) continue;
      if (temp_end - start > min_speech) raw.push_back({start, temp_end});
      triggered = false;
      temp_end = 0;
    }
  }
  if (triggered && int64_t(total) - start > min_speech) raw.push_back({start, int64_t(total)});
  // Padding; pauses shorter than two pads are split between their neighbours.
  for (size_t i = 0; i < raw.size(); ++i) {
    if (i == 0) raw[i].start = std::max<int64_t>(0, raw[i].start - pad);
    if (i + 1 < raw.size()) {
      const int64_t gap = raw[i + 1].start - raw[i].end;
      if (gap < 2 * pad) {
        raw[i].end += gap / 2;
        raw[i + 1].start = std::max<int64_t>(0, raw[i + 1].start - gap / 2);
      } else {
        raw[i].end = std::min<int64_t>(int64_t(total), raw[i].end + pad);
        raw[i + 1].start = std::max<int64_t>(0, raw[i + 1].start - pad);
      }
    } else {
      raw[i].end = std::min<int64_t>(int64_t(total), raw[i].end + pad);
    }
  }
  std::vector<Segment> out;
  for (const Raw& s : raw) out.push_back({double(s.start) / rate, double(s.end) / rate});
  return out;
}

Detector::Detector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Detector::~Detector() = default;

pareto::Result<std::unique_ptr<Detector>> Detector::open(const std::string& model_path, const Options& options) {
  return api::guarded([&] {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    LimitsScope limits(options.limits);  // the session's options take these
    impl->model_path = model_path;
    {  // check the interface on the plain model first: a clear message for a wrong file
      auto s = Session::open(model_path, SessionOptions{});
      if (!s.ok()) throw Error(s.status().code, s.status().message);
      bool has_state = false, has_sr = false;
      for (const auto& in : s.value()->inputs()) {
        has_state |= in.name == "state";
        has_sr |= in.name == "sr";
      }
      if (!has_state) fail_model(model_path + ": not a silero VAD v5 model (inputs input, state and sr, or sr bound to 16000)");
      impl->has_sr = has_sr;
    }
    impl->reset(16000);
    return std::unique_ptr<Detector>(new Detector(std::move(impl)));
  });
}

pareto::Result<VadResult> Detector::run_file(const std::string& wav_path) {
  return api::guarded([&] {
    LimitsScope limits(impl_->options.limits);
    const double t0 = now_seconds();
    apps::Audio a = apps::load_wav(wav_path);
    const double decode = now_seconds() - t0;
    return impl_->run(std::move(a.samples), a.sample_rate, decode);
  });
}

pareto::Result<VadResult> Detector::run(const float* samples, size_t n, int sample_rate) {
  return api::guarded([&] {
    if (sample_rate < 1000 || sample_rate > 384000) fail_argument("vad: sample rate " + std::to_string(sample_rate) + " Hz");
    LimitsScope limits(impl_->options.limits);
    check_limit("vad: audio of " + std::to_string(n) + " samples at " + std::to_string(sample_rate) + " Hz (seconds)",
                uint64_t(n) / uint64_t(sample_rate), "audio-seconds");
    return impl_->run(std::vector<float>(samples, samples + n), sample_rate, 0);
  });
}

pareto::Result<std::vector<float>> Detector::push(const float* samples, size_t n) {
  return api::guarded([&] { return impl_->push(samples, n); });
}

void Detector::reset() { impl_->reset(16000); }

}  // namespace pareto::vad
