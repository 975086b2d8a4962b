// Calibration samples for pareto quantize from a folder of images (PNG or
// JPEG), for image models whose preprocessing is a resize and a per-channel
// normalization: each image is resized (bilinear) to the input's H x W and
// becomes (v / 255 - mean[c]) / std[c] in NCHW. Part of libpareto_apps (it
// needs the image codecs).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "pareto/quantize_onnx.hpp"

namespace pareto {

struct ImageCalibration {
  Shape shape;                              // [1, 3, H, W] or [1, 1, H, W] (grey)
  std::array<float, 3> mean{0.f, 0.f, 0.f}; // on values scaled to [0, 1], in the model's channel order
  std::array<float, 3> std{1.f, 1.f, 1.f};
  bool bgr = false;                         // the model takes blue, green, red
};

// Every *.png, *.jpg, *.jpeg in DIR (name order, at most `limit`; 0: all)
// as a sample of the model input `input_name`.
Result<std::vector<CalibrationSample>> load_calibration_images(const std::string& dir, const std::string& input_name, const ImageCalibration& how,
                                                               int limit = 0);

// Whether DIR holds images (and no .npy files): which loader the CLI uses.
bool folder_has_images(const std::string& dir);

}  // namespace pareto
