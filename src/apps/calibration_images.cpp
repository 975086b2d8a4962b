#include "pareto/calibration_images.hpp"

#include <dirent.h>

#include <algorithm>
#include <cctype>

#include "pareto/guarded.hpp"
#include "apps/image.h"

namespace pareto {

namespace {

std::string lower_extension(const std::string& name) {
  const size_t dot = name.rfind('.');
  std::string e = dot == std::string::npos ? "" : name.substr(dot + 1);
  for (char& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

std::vector<std::string> files_with(const std::string& dir, const std::vector<std::string>& extensions) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) fail(StatusCode::io_error, dir + ": cannot open the calibration folder");
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    if (std::find(extensions.begin(), extensions.end(), lower_extension(name)) != extensions.end()) out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool folder_has_images(const std::string& dir) {
  try {
    return !files_with(dir, {"png", "jpg", "jpeg"}).empty() && files_with(dir, {"npy"}).empty();
  } catch (const Error&) {
    return false;
  }
}

Result<std::vector<CalibrationSample>> load_calibration_images(const std::string& dir, const std::string& input_name, const ImageCalibration& how,
                                                               int limit) {
  return api::guarded([&] {
    const Shape& s = how.shape;
    if (s.size() != 4 || s[0] != 1 || (s[1] != 3 && s[1] != 1) || s[2] < 1 || s[3] < 1 || s[2] > 16384 || s[3] > 16384)
      fail_argument("image calibration needs an input shape 1x3xHxW or 1x1xHxW (H, W up to 16384), got " + shape_to_string(s));
    for (int c = 0; c < 3; ++c)
      if (!(how.std[size_t(c)] > 0.f)) fail_argument("image calibration: std must be positive");
    const int64_t channels = s[1], h = s[2], w = s[3];
    std::vector<CalibrationSample> samples;
    for (const std::string& name : files_with(dir, {"png", "jpg", "jpeg"})) {
      if (limit > 0 && int(samples.size()) >= limit) break;
      Tensor t = Tensor::empty(DType::f32, s);  // first: it checks the size against the tensor limit
      const apps::Image img = apps::resize_bilinear(apps::load_image(dir + "/" + name), int(w), int(h));
      float* out = t.data<float>();
      for (int64_t c = 0; c < channels; ++c) {
        // The model's channel c reads image channel c (RGB) or 2 - c (BGR); grey averages.
        const int64_t src = how.bgr ? 2 - c : c;
        const float mean = how.mean[size_t(c)], std = how.std[size_t(c)];
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x) {
            const uint8_t* px = img.at(int(x), int(y));
            const float v = channels == 1 ? float(px[0] + px[1] + px[2]) / 3.f : float(px[src]);
            out[(c * h + y) * w + x] = (v / 255.f - mean) / std;
          }
      }
      samples.push_back({{input_name, std::move(t)}});
    }
    if (samples.empty()) fail_argument(dir + ": no calibration images (.png, .jpg, .jpeg)");
    return samples;
  });
}

}  // namespace pareto
