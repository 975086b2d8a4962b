// PP-OCR pipeline: the pre- and post-processing conventions follow
// PaddleOCR's inference defaults (BGR input, ImageNet normalization for
// detection, (x/255 - 0.5)/0.5 for the classifier and recognizer, height 48,
// CTC with blank 0 and a trailing space character).
#include <algorithm>
#include <cmath>
#include <fstream>

#include "api/guarded.h"
#include "apps/image.h"
#include "apps/ocr/db_postprocess.h"
#include "pareto/ocr.hpp"

namespace pareto::ocr {

using apps::Image;
using apps::PointF;

namespace {

std::unique_ptr<Session> open_model(const std::string& path, int threads) {
  SessionOptions so;
  so.threads = threads;
  so.optimize = true;  // folding and fusion; input sizes vary per image, so no shape binding
  auto s = Session::open(path, so);
  if (!s.ok()) throw Error(s.status().code, s.status().message);
  return std::move(s.value());
}

Tensor run_one(Session& s, Tensor input, double* seconds) {
  const double t0 = now_seconds();
  auto out = s.run({{s.inputs()[0].name, std::move(input)}});
  if (!out.ok()) throw Error(out.status().code, out.status().message);
  *seconds += now_seconds() - t0;
  return std::move(out.value()[0]);
}

// Writes img (BGR channel order, per-channel mean/std) into a CHW float
// plane set at `out`, `plane_w` wide (the image may be narrower: the rest
// stays as it was, zero padding).
void to_chw(const Image& img, const float mean[3], const float stdev[3], float* out, int plane_w, int plane_h) {
  for (int c = 0; c < 3; ++c) {
    const int src_c = 2 - c;  // BGR
    const float scale = 1.f / (255.f * stdev[c]), shift = mean[c] / stdev[c];
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x)
        out[(size_t(c) * size_t(plane_h) + size_t(y)) * size_t(plane_w) + size_t(x)] = float(img.at(x, y)[src_c]) * scale - shift;
  }
}

std::vector<std::string> read_keys(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(StatusCode::io_error, path + ": cannot open the character list");
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    keys.push_back(line);
  }
  if (keys.empty()) fail_argument(path + ": empty character list");
  keys.push_back(" ");  // PP-OCR models are trained with a space as the last class
  return keys;
}

}  // namespace

struct Pipeline::Impl {
  Options options;
  std::unique_ptr<Session> det, cls, rec;
  std::vector<std::string> keys;

  std::vector<apps::ocr::DetectedBox> detect(const Image& img, StageTimes& t) {
    const int limit = std::max(32, options.det_limit_side);
    const float ratio = std::max(img.width, img.height) > limit ? float(limit) / float(std::max(img.width, img.height)) : 1.f;
    const int rh = std::max(32, int(std::lround(float(img.height) * ratio / 32.f)) * 32);
    const int rw = std::max(32, int(std::lround(float(img.width) * ratio / 32.f)) * 32);
    const Image resized = apps::resize_bilinear(img, rw, rh);
    Tensor x = Tensor::zeros(DType::f32, {1, 3, rh, rw});
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
    to_chw(resized, mean, stdev, x.data<float>(), rw, rh);
    Tensor prob = run_one(*det, std::move(x), &t.det_model);
    if (prob.shape().size() != 4 || prob.shape()[2] != rh || prob.shape()[3] != rw)
      fail_model("detection model: expected a [1,1," + std::to_string(rh) + "," + std::to_string(rw) + "] probability map");
    apps::ocr::DbOptions db;
    db.thresh = options.det_thresh;
    db.box_thresh = options.box_thresh;
    db.unclip_ratio = options.unclip_ratio;
    return apps::ocr::db_boxes(prob.data<float>(), rw, rh, img.width, img.height, db);
  }

  // Resizes crops to height 48 (width by aspect, at most max_w), normalized,
  // zero-padded on the right to a common width.
  Tensor batch_tensor(const std::vector<const Image*>& crops, int width) {
    Tensor x = Tensor::zeros(DType::f32, {int64_t(crops.size()), 3, 48, width});
    const float mean[3] = {0.5f, 0.5f, 0.5f}, stdev[3] = {0.5f, 0.5f, 0.5f};
    for (size_t i = 0; i < crops.size(); ++i) {
      const Image& c = *crops[i];
      const int w = std::clamp(int(std::ceil(48.f * float(c.width) / float(c.height))), 1, width);
      to_chw(apps::resize_bilinear(c, w, 48), mean, stdev, x.data<float>() + i * 3 * 48 * size_t(width), width, 48);
    }
    return x;
  }

  // Batches in order of aspect ratio, as PaddleOCR does (less padding).
  std::vector<size_t> by_aspect(const std::vector<Image>& crops) {
    std::vector<size_t> order(crops.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return float(crops[a].width) / float(crops[a].height) < float(crops[b].width) / float(crops[b].height);
    });
    return order;
  }

  void classify(std::vector<Image>& crops, std::vector<bool>& flipped, StageTimes& t) {
    const std::vector<size_t> order = by_aspect(crops);
    const size_t batch = size_t(std::max(1, options.rec_batch));
    for (size_t b = 0; b < order.size(); b += batch) {
      std::vector<const Image*> group;
      for (size_t i = b; i < std::min(order.size(), b + batch); ++i) group.push_back(&crops[order[i]]);
      Tensor out = run_one(*cls, batch_tensor(group, 192), &t.cls_model);
      if (out.shape().size() != 2 || out.shape()[1] != 2) fail_model("angle classifier: expected [N,2] output");
      const float* p = out.data<float>();
      for (size_t i = 0; i < group.size(); ++i)
        if (p[2 * i + 1] > p[2 * i] && p[2 * i + 1] > options.cls_thresh) {
          crops[order[b + i]] = apps::rotate_180(crops[order[b + i]]);
          flipped[order[b + i]] = true;
        }
    }
  }

  void recognize(const std::vector<Image>& crops, std::vector<TextLine>& lines, StageTimes& t) {
    const std::vector<size_t> order = by_aspect(crops);
    const size_t batch = size_t(std::max(1, options.rec_batch));
    for (size_t b = 0; b < order.size(); b += batch) {
      std::vector<const Image*> group;
      float max_ratio = 320.f / 48.f;
      for (size_t i = b; i < std::min(order.size(), b + batch); ++i) {
        group.push_back(&crops[order[i]]);
        max_ratio = std::max(max_ratio, float(crops[order[i]].width) / float(crops[order[i]].height));
      }
      const int width = std::min(int(48.f * max_ratio), 48 * 100);  // absurd aspect ratios are squeezed
      Tensor out = run_one(*rec, batch_tensor(group, width), &t.rec_model);
      if (out.shape().size() != 3 || out.shape()[2] != int64_t(keys.size()) + 1)
        fail_model("recognition model: expected [N,T," + std::to_string(keys.size() + 1) + "] output (blank + " + std::to_string(keys.size()) +
                   " characters)");
      const int64_t steps = out.shape()[1], classes = out.shape()[2];
      for (size_t i = 0; i < group.size(); ++i) {
        const float* p = out.data<float>() + i * size_t(steps * classes);
        TextLine& line = lines[order[b + i]];
        int64_t prev = -1;
        double conf = 0;
        int kept = 0;
        for (int64_t s = 0; s < steps; ++s) {
          const float* row = p + s * classes;
          const int64_t best = std::max_element(row, row + classes) - row;
          if (best != 0 && best != prev) {
            line.text += keys[size_t(best - 1)];
            conf += row[best];
            ++kept;
          }
          prev = best;
        }
        line.confidence = kept ? float(conf / kept) : 0.f;
      }
    }
  }

  OcrResult run(const Image& img, double decode_seconds) {
    OcrResult r;
    const double t0 = now_seconds();
    r.width = img.width;
    r.height = img.height;
    r.times.decode = decode_seconds;
    const auto boxes = detect(img, r.times);
    const double t1 = now_seconds();
    std::vector<Image> crops;
    std::vector<TextLine> lines(boxes.size());
    for (size_t i = 0; i < boxes.size(); ++i) {
      const auto& q = boxes[i].quad;
      auto len = [](const PointF& a, const PointF& b) { return std::hypot(a.x - b.x, a.y - b.y); };
      const int w = std::max(1, int(std::max(len(q[0], q[1]), len(q[2], q[3]))));
      const int h = std::max(1, int(std::max(len(q[0], q[3]), len(q[1], q[2]))));
      const PointF quad[4] = {q[0], q[1], q[2], q[3]};
      Image crop = apps::warp_quad(img, quad, w, h);
      if (float(h) / float(w) >= 1.5f) crop = apps::rotate_90_ccw(crop);  // vertical text: read it sideways
      crops.push_back(std::move(crop));
      for (size_t k = 0; k < 4; ++k) lines[i].box[k] = {q[k].x, q[k].y};
    }
    std::vector<bool> flipped(crops.size(), false);
    if (options.use_angle_cls && !crops.empty()) classify(crops, flipped, r.times);
    const double t2 = now_seconds();
    if (!crops.empty()) recognize(crops, lines, r.times);
    const double t3 = now_seconds();
    for (size_t i = 0; i < lines.size(); ++i) {
      lines[i].flipped = flipped[i];
      if (lines[i].confidence >= options.drop_score && !lines[i].text.empty()) r.lines.push_back(std::move(lines[i]));
    }
    r.times.detect = t1 - t0;
    r.times.classify = t2 - t1;
    r.times.recognize = t3 - t2;
    r.times.total = decode_seconds + (t3 - t0);
    return r;
  }
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

pareto::Result<std::unique_ptr<Pipeline>> Pipeline::open(const std::string& model_dir, const Options& options) {
  return api::guarded([&] {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->det = open_model(model_dir + "/ch_PP-OCRv4_det_infer.onnx", options.threads);
    impl->cls = open_model(model_dir + "/ch_ppocr_mobile_v2.0_cls_infer.onnx", options.threads);
    impl->rec = open_model(model_dir + "/ch_PP-OCRv4_rec_infer.onnx", options.threads);
    impl->keys = read_keys(model_dir + "/ppocr_keys_v1.txt");
    return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
  });
}

pareto::Result<OcrResult> Pipeline::run_file(const std::string& image_path) {
  return api::guarded([&] {
    const double t0 = now_seconds();
    Image img = apps::load_image(image_path);
    return impl_->run(img, now_seconds() - t0);
  });
}

pareto::Result<OcrResult> Pipeline::run(const uint8_t* rgb, int width, int height) {
  return api::guarded([&] {
    if (!rgb || width <= 0 || height <= 0 || int64_t(width) * height > (int64_t(1) << 27)) fail_argument("ocr: bad image size");
    Image img;
    img.width = width;
    img.height = height;
    img.rgb.assign(rgb, rgb + size_t(width) * size_t(height) * 3);
    return impl_->run(img, 0);
  });
}

}  // namespace pareto::ocr
