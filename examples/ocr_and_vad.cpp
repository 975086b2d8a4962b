// Embedding pareto's perception pipelines in an application: text from an
// image and speech segments from a recording, through the C++ API.
//   build/ocr_and_vad_example IMAGE.png [AUDIO.wav]
// Models: found as `pareto ocr` finds them (include/pareto/models.hpp:
// environment, the user's cache folder where scripts/fetch-models.sh puts
// them, beside the binary).
#include <cstdio>

#include "pareto/models.hpp"
#include "pareto/ocr.hpp"
#include "pareto/vad.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IMAGE [AUDIO.wav]\n", argv[0]);
    return 2;
  }
  pareto::ocr::Options ocr_options;
  ocr_options.threads = 2;
  auto ocr_dir = pareto::find_model_dir(pareto::ocr_models());
  if (!ocr_dir.ok()) {
    std::fprintf(stderr, "%s\n", ocr_dir.status().to_string().c_str());
    return 1;
  }
  auto ocr = pareto::ocr::Pipeline::open(ocr_dir.value(), ocr_options);
  if (!ocr.ok()) {
    std::fprintf(stderr, "%s\n", ocr.status().to_string().c_str());
    return 1;
  }
  auto text = ocr.value()->run_file(argv[1]);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", text.status().to_string().c_str());
    return 1;
  }
  for (const auto& line : text.value().lines) std::printf("%s (%.2f)\n", line.text.c_str(), double(line.confidence));
  std::printf("-- %zu lines in %.1f ms\n", text.value().lines.size(), text.value().times.total * 1e3);

  if (argc < 3) return 0;
  auto vad_model = pareto::find_model_file(pareto::vad_models());
  if (!vad_model.ok()) {
    std::fprintf(stderr, "%s\n", vad_model.status().to_string().c_str());
    return 1;
  }
  auto vad = pareto::vad::Detector::open(vad_model.value());
  if (!vad.ok()) {
    std::fprintf(stderr, "%s\n", vad.status().to_string().c_str());
    return 1;
  }
  auto speech = vad.value()->run_file(argv[2]);
  if (!speech.ok()) {
    std::fprintf(stderr, "%s\n", speech.status().to_string().c_str());
    return 1;
  }
  for (const auto& s : speech.value().segments) std::printf("speech %.2f - %.2f s\n", s.start, s.end);
  std::printf("-- real-time factor %.4f\n", speech.value().real_time_factor());
  return 0;
}
