// libFuzzer target for PNG and JPEG files as the OCR app reads them: decoding
// (libpng, libjpeg) under a pixel limit, then the whole OCR pipeline
// (detect, classify, recognize) on what decodes, when the OCR models are
// installed (scripts/fetch-models.sh); decoding alone otherwise.
#include "apps/image.h"
#include "fuzz_support.h"
#include "pareto/models.hpp"
#include "pareto/ocr.hpp"

namespace {

pareto::ocr::Pipeline* pipeline() {
  static std::unique_ptr<pareto::ocr::Pipeline> p = [] {
    std::unique_ptr<pareto::ocr::Pipeline> out;
    auto dir = pareto::find_model_dir(pareto::ocr_models());
    if (!dir.ok()) {
      std::fprintf(stderr, "image_fuzz: OCR models not found (scripts/fetch-models.sh), fuzzing the decoders only\n");
      return out;
    }
    auto r = pareto::ocr::Pipeline::open(dir.value());
    if (!r.ok()) {
      std::fprintf(stderr, "image_fuzz: the OCR pipeline does not open: %s\n", r.status().message.c_str());
      std::abort();  // models present but unusable: the harness would silently fuzz less
    }
    out = std::move(r.value());
    return out;
  }();
  return p.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pareto::fuzz::MemFile file("fuzz.img");
  const std::string& path = file.write(data, size);
  pareto::fuzz::expect_clean_refusal([&] {
    // A small pixel limit keeps each run short; the limit check itself is what gets fuzzed.
    pareto::apps::Image img = pareto::apps::load_image(path, 64 * 64);
    // The models cost ~50 ms a run against ~0.1 ms to decode: one decoded
    // input in 16 (chosen by content, so a replay takes the same path) goes on
    // through detection, classification and recognition.
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
    if (pareto::ocr::Pipeline* p = (h & 15) == 0 ? pipeline() : nullptr) {
      auto r = p->run(img.rgb.data(), img.width, img.height);
      // The API turns escaped exceptions into a Status: internal errors and a
      // bare std::bad_alloc ("out of memory", not a limit) are findings here.
      if (!r.ok() && (r.status().code == pareto::StatusCode::internal ||
                      (r.status().code == pareto::StatusCode::out_of_memory && r.status().message == "out of memory"))) {
        std::fprintf(stderr, "fuzz: the OCR pipeline failed: %s\n", r.status().message.c_str());
        std::abort();
      }
    }
  });
  return 0;
}
