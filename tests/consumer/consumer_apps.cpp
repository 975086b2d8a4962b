// Uses the installed OCR and VAD API (libpareto_apps): opening a pipeline
// from a folder without models must come back as an error naming it, and a
// detector on a missing model likewise.
#include <cstdio>
#include <string>

#include "pareto/ocr.hpp"
#include "pareto/vad.hpp"

int main() {
  auto ocr = pareto::ocr::Pipeline::open("/nonexistent-models");
  auto vad = pareto::vad::Detector::open("/nonexistent-models/silero.onnx");
  if (ocr.ok() || vad.ok()) {
    std::printf("opened a pipeline without models\n");
    return 1;
  }
  const bool named = ocr.status().message.find("/nonexistent-models") != std::string::npos &&
                     vad.status().message.find("silero.onnx") != std::string::npos;
  std::printf("apps: %s\n", named ? "errors name the missing models" : "errors do not name the models");
  std::printf("  ocr: %s\n  vad: %s\n", ocr.status().to_string().c_str(), vad.status().to_string().c_str());
  return named ? 0 : 1;
}
