// pareto::classify: image -> the model's input tensor -> ranked scores.
#include "pareto/classify.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "apps/image.h"
#include "pareto/error.h"
#include "pareto/guarded.hpp"
#include "pareto/limits.hpp"
#include "pareto/tensor_io.hpp"

namespace pareto::classify {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> read_labels(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(StatusCode::io_error, path + ": cannot open the labels file");
  std::vector<std::string> labels;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  return labels;
}

// Bilinear resize as TFLite's RESIZE_BILINEAR does it by default (corners
// not aligned, no half-pixel centres: source = output x scale), in float,
// truncated to 8 bits: how Coral's classification tests prepare images (the
// scores these models are known by come from that input).
apps::Image resize_like_tflite(const apps::Image& src, int width, int height) {
  apps::Image out;
  out.width = width, out.height = height;
  out.rgb.resize(size_t(width) * size_t(height) * 3);
  const float sy = float(src.height) / float(height), sx = float(src.width) / float(width);
  for (int y = 0; y < height; ++y) {
    const float fy = float(y) * sy;
    const int y0 = std::max(int(std::floor(fy)), 0), y1 = std::min(int(std::ceil(fy)), src.height - 1);
    const float wy = fy - float(y0);
    for (int x = 0; x < width; ++x) {
      const float fx = float(x) * sx;
      const int x0 = std::max(int(std::floor(fx)), 0), x1 = std::min(int(std::ceil(fx)), src.width - 1);
      const float wx = fx - float(x0);
      for (int ch = 0; ch < 3; ++ch) {
        const float v = float(src.at(x0, y0)[ch]) * (1 - wy) * (1 - wx) + float(src.at(x0, y1)[ch]) * wy * (1 - wx) +
                        float(src.at(x1, y0)[ch]) * (1 - wy) * wx + float(src.at(x1, y1)[ch]) * wy * wx;
        out.rgb[(size_t(y) * size_t(width) + size_t(x)) * 3 + size_t(ch)] = uint8_t(std::clamp(v, 0.0f, 255.0f));
      }
    }
  }
  return out;
}

// The score of class i: dequantized when the file declares quantization.
float score_of(const Tensor& t, const TensorInfo& info, int64_t i) {
  const double v = t.as_double(i);
  if (info.quant_scale.size() == 1) return float(double(info.quant_scale[0]) * (v - double(info.quant_zero[0])));
  return float(v);
}

}  // namespace

struct Classifier::Impl {
  Options options;
  std::unique_ptr<Session> session;
  TensorInfo input, output;
  bool nchw = false;
  int channels = 3;  // 1: a grayscale input (1 x H x W, 1 x H x W x 1 or 1 x 1 x H x W)
  int width = 0, height = 0;
  std::vector<std::string> labels;

  Tensor input_tensor(const apps::Image& img) const;
};

Tensor Classifier::Impl::input_tensor(const apps::Image& img) const {
  const Shape shape = input.dims;
  Tensor t = Tensor::empty(input.dtype, shape);
  const size_t plane = size_t(width) * size_t(height);
  for (size_t p = 0; p < plane; ++p)
    for (size_t ch = 0; ch < size_t(channels); ++ch) {
      const uint8_t* rgb = &img.rgb[p * 3];
      // Grayscale as PIL's convert('L') makes it (ITU-R 601-2 luma, rounded
      // in 16-bit fixed point): how such models' images are usually prepared.
      const uint8_t pixel = channels == 3 ? rgb[ch] : uint8_t((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
      const size_t at = nchw ? ch * plane + p : p * size_t(channels) + ch;
      switch (input.dtype) {
        case DType::u8: t.data<uint8_t>()[at] = pixel; break;
        case DType::i8: t.data<int8_t>()[at] = int8_t(int(pixel) - 128); break;
        default: t.data<float>()[at] = (float(pixel) - options.mean[ch]) / options.std[ch]; break;
      }
    }
  return t;
}

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Classifier::~Classifier() = default;

pareto::Result<std::unique_ptr<Classifier>> Classifier::open(const std::string& model_path, const Options& options) {
  return guarded([&] {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    SessionOptions so;
    so.threads = std::max(1, options.threads);
    auto s = Session::open(model_path, so);
    if (!s.ok()) throw Error(s.status().code, s.status().message);
    impl->session = std::move(s.value());
    if (impl->session->inputs().size() != 1) fail_argument(model_path + ": a classifier has one input (an image)");
    impl->input = impl->session->inputs()[0];
    impl->output = impl->session->outputs().at(0);
    Shape d = impl->input.dims;
    if (d.size() == 3 && d[0] == 1) d.push_back(1);  // 1 x H x W: one grayscale image
    if (d.size() != 4 || d[0] != 1)
      fail_argument(model_path + ": the input " + impl->input.to_string() + " is not one image (1 x H x W x C or 1 x C x H x W, C = 3 or 1)");
    impl->nchw = (d[1] == 3 || d[1] == 1) && d[3] != 3 && d[3] != 1;
    impl->channels = int(impl->nchw ? d[1] : d[3]);
    if (impl->channels != 3 && impl->channels != 1)
      fail_argument(model_path + ": the input " + impl->input.to_string() + " has neither 3 colour channels nor 1 gray one");
    impl->height = int(impl->nchw ? d[2] : d[1]), impl->width = int(impl->nchw ? d[3] : d[2]);
    if (impl->width < 1 || impl->height < 1) fail_argument(model_path + ": the input's size is not fixed");
    if (int64_t(impl->width) * impl->height > current_limits().image_pixels)
      fail_argument(model_path + ": an input of " + std::to_string(impl->width) + " x " + std::to_string(impl->height) + " pixels exceeds the image-pixels limit");
    const DType t = impl->input.dtype;
    if (t != DType::u8 && t != DType::i8 && t != DType::f32) fail_unsupported(model_path + ": input type " + dtype_name(t));
    if (!options.labels_path.empty()) impl->labels = read_labels(options.labels_path);
    return std::unique_ptr<Classifier>(new Classifier(std::move(impl)));
  });
}

pareto::Result<Result> Classifier::run_file(const std::string& image_path) {
  return guarded([&] {
    Impl& m = *impl_;
    const auto t0 = std::chrono::steady_clock::now();
    const apps::Image img = resize_like_tflite(apps::load_image(image_path), m.width, m.height);
    Tensor x = m.input_tensor(img);
    if (!m.options.dump_inputs.empty()) {
      const std::string name = image_path.substr(image_path.find_last_of('/') + 1);
      const Status st = write_npy(m.options.dump_inputs + "/" + name + ".npy", x);
      if (!st.ok()) throw Error(st.code, st.message);
    }
    Result r;
    r.preprocess_seconds = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    auto out = m.session->run({{m.input.name, x}});
    if (!out.ok()) throw Error(out.status().code, out.status().message);
    r.model_seconds = seconds_since(t1);
    const Tensor& scores = out.value().at(0);
    std::vector<Class> all(size_t(scores.numel()));
    for (int64_t i = 0; i < scores.numel(); ++i) {
      all[size_t(i)].index = int(i);
      all[size_t(i)].score = score_of(scores, m.output, i);
      if (size_t(i) < m.labels.size()) all[size_t(i)].label = m.labels[size_t(i)];
    }
    const size_t k = std::min(all.size(), size_t(std::max(1, m.options.top_k)));
    std::partial_sort(all.begin(), all.begin() + long(k), all.end(),
                      [](const Class& a, const Class& b) { return a.score != b.score ? a.score > b.score : a.index < b.index; });
    all.resize(k);
    r.top = std::move(all);
    r.input_width = m.width, r.input_height = m.height;
    return r;
  });
}

}  // namespace pareto::classify
