// libFuzzer target for WAV (RIFF) files: chunk walking, every PCM and float
// sample format, channel averaging, then resampling to the VAD's 16 kHz.
#include "apps/wav.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pareto::fuzz::MemFile file("fuzz.wav");
  const std::string& path = file.write(data, size);
  pareto::fuzz::expect_clean_refusal([&] {
    pareto::apps::Audio a = pareto::apps::load_wav(path);
    if (a.sample_rate != 16000 && a.samples.size() < (size_t(1) << 16))
      pareto::apps::resample_linear(a.samples, a.sample_rate, 16000);
  });
  return 0;
}
