#include "apps/wav.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "pareto/error.h"
#include "pareto/limits.hpp"

namespace pareto::apps {

namespace {

uint32_t u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

[[noreturn]] void bad(const std::string& path, size_t offset, const std::string& what) {
  fail_argument(path + ": " + what + " (at byte " + std::to_string(offset) + ")");
}

}  // namespace

Audio load_wav(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail(StatusCode::io_error, path + ": cannot open");
  const std::streamoff size = f.tellg();
  if (size < 0) fail(StatusCode::io_error, path + ": cannot read (not a regular file?)");
  constexpr std::streamoff kMaxBytes = std::streamoff(1) << 32;  // 4 GiB: hours of audio
  if (size > kMaxBytes) fail_argument(path + ": file larger than 4 GiB");
  std::vector<uint8_t> b(static_cast<size_t>(size));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(b.data()), size);
  if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) || std::memcmp(b.data() + 8, "WAVE", 4)) bad(path, 0, "not a RIFF/WAVE file");
  int format = 0, channels = 0, rate = 0, bits = 0;
  const uint8_t* data = nullptr;
  size_t data_bytes = 0, data_at = 0;
  for (size_t at = 12; at + 8 <= b.size();) {
    const uint32_t len = u32(b.data() + at + 4);
    const size_t body = at + 8;
    if (len > b.size() - body) {
      if (!std::memcmp(b.data() + at, "data", 4))
        bad(path, at, "truncated: data chunk declares " + std::to_string(len) + " bytes, " + std::to_string(b.size() - body) + " present");
      bad(path, at, "chunk '" + std::string(reinterpret_cast<const char*>(b.data() + at), 4) + "' runs past the end of the file");
    }
    if (!std::memcmp(b.data() + at, "fmt ", 4)) {
      if (len < 16) bad(path, at, "fmt chunk too short");
      format = u16(b.data() + body);
      channels = u16(b.data() + body + 2);
      rate = int(u32(b.data() + body + 4));
      bits = u16(b.data() + body + 14);
      if (format == 0xFFFE && len >= 26) format = u16(b.data() + body + 24);  // WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
    } else if (!std::memcmp(b.data() + at, "data", 4)) {
      data = b.data() + body;
      data_bytes = len;
      data_at = body;
    }
    at = body + len + (len & 1);  // chunks are word-aligned
  }
  if (!format) bad(path, 12, "no fmt chunk");
  if (!data) bad(path, 12, "no data chunk");
  const bool pcm = format == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
  const bool flt = format == 3 && (bits == 32 || bits == 64);
  if (!pcm && !flt)
    fail_unsupported(path + ": WAV format " + std::to_string(format) + " with " + std::to_string(bits) +
                     "-bit samples (supported: PCM 8/16/24/32-bit, float 32/64-bit)");
  if (channels < 1 || channels > 64) bad(path, data_at, "channel count " + std::to_string(channels));
  if (rate < 1000 || rate > 384000) bad(path, data_at, "sample rate " + std::to_string(rate) + " Hz");
  const size_t width = size_t(bits / 8), frame = width * size_t(channels), frames = data_bytes / frame;
  check_limit(path + ": audio of " + std::to_string(frames) + " frames at " + std::to_string(rate) + " Hz (seconds)",
              uint64_t(frames / size_t(rate)), "audio-seconds");
  Audio a;
  a.sample_rate = rate;
  a.samples.resize(frames);
  for (size_t i = 0; i < frames; ++i) {
    double sum = 0;
    for (int c = 0; c < channels; ++c) {
      const uint8_t* p = data + i * frame + size_t(c) * width;
      double v = 0;
      if (flt && bits == 32) {
        float x;
        std::memcpy(&x, p, 4);
        v = x;
      } else if (flt) {
        std::memcpy(&v, p, 8);
      } else if (bits == 8) {
        v = (double(p[0]) - 128.0) / 128.0;
      } else if (bits == 16) {
        v = double(int16_t(u16(p))) / 32768.0;
      } else if (bits == 24) {
        v = double(int32_t(uint32_t(p[0]) << 8 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 24) >> 8) / 8388608.0;
      } else {
        v = double(int32_t(u32(p))) / 2147483648.0;
      }
      sum += std::isfinite(v) ? v : 0.0;
    }
    a.samples[i] = float(std::clamp(sum / channels, -1.0, 1.0));
  }
  return a;
}

std::vector<float> resample_linear(const std::vector<float>& x, int from_rate, int to_rate) {
  if (from_rate == to_rate || x.empty()) return x;
  std::vector<float> src = x;
  if (from_rate > to_rate) {  // box filter over one output period against aliasing
    const int k = std::max(1, from_rate / to_rate);
    for (size_t i = 0; i < x.size(); ++i) {
      double s = 0;
      int n = 0;
      for (int j = -k / 2; j <= k / 2; ++j) {
        const int64_t idx = int64_t(i) + j;
        if (idx >= 0 && idx < int64_t(x.size())) {
          s += x[size_t(idx)];
          ++n;
        }
      }
      src[i] = float(s / n);
    }
  }
  const size_t n = size_t(double(x.size()) * to_rate / from_rate);
  std::vector<float> y(n);
  for (size_t i = 0; i < n; ++i) {
    const double pos = double(i) * from_rate / to_rate;
    const size_t i0 = std::min(size_t(pos), src.size() - 1), i1 = std::min(i0 + 1, src.size() - 1);
    const double w = pos - double(i0);
    y[i] = float(src[i0] * (1 - w) + src[i1] * w);
  }
  return y;
}

}  // namespace pareto::apps
