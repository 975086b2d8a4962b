// Image classification with any single-input classifier pareto runs (TFLite
// or ONNX): the image is resized to the model's input and converted to its
// input type, the scores are read back (dequantized when the output is
// quantized) and ranked.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"

namespace pareto::classify {

struct Options {
  int top_k = 5;
  int threads = 1;
  // Float inputs get (pixel - mean) / std per channel (RGB); MobileNet's
  // [-1, 1] by default. Integer inputs get the pixels as they are (uint8) or
  // shifted by -128 (int8), the convention of quantized image models.
  float mean[3] = {127.5f, 127.5f, 127.5f};
  float std[3] = {127.5f, 127.5f, 127.5f};
  std::string labels_path;  // one label per line (index = line); empty: indices only
  // Each image's model input written as DIR/<image file name>.npy (empty:
  // none): to run the same input elsewhere, or to calibrate with.
  std::string dump_inputs;
};

struct Class {
  int index = 0;
  std::string label;
  float score = 0;
};

struct Result {
  std::vector<Class> top;
  int input_width = 0, input_height = 0;
  double preprocess_seconds = 0, model_seconds = 0;
};

class Classifier {
 public:
  static pareto::Result<std::unique_ptr<Classifier>> open(const std::string& model_path, const Options& options = {});
  ~Classifier();
  // PNG, JPEG or BMP.
  pareto::Result<Result> run_file(const std::string& image_path);

 private:
  struct Impl;
  explicit Classifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pareto::classify
