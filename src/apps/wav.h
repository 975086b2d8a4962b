// WAV (RIFF) reading for the audio pipelines: PCM 8/16/24/32-bit and IEEE
// float 32/64, any channel count (averaged to mono), bounds-checked; a
// truncated or malformed file is refused with the file name and offset.
#pragma once
#include <string>
#include <vector>

namespace pareto::apps {

struct Audio {
  int sample_rate = 0;
  std::vector<float> samples;  // mono, [-1, 1]
  double seconds() const { return sample_rate ? double(samples.size()) / sample_rate : 0; }
};

Audio load_wav(const std::string& path);

// Linear-interpolation resampling (after a box low-pass when shrinking), for
// rates the model does not take natively.
std::vector<float> resample_linear(const std::vector<float>& x, int from_rate, int to_rate);

}  // namespace pareto::apps
