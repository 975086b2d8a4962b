// PP-OCR pipeline: the pre- and post-processing conventions follow
// PaddleOCR's inference defaults (BGR input, ImageNet normalization for
// detection, (x/255 - 0.5)/0.5 for the classifier and recognizer, height 48,
// CTC with blank 0 and a trailing space character) and PaddleX's OCR
// pipeline settings for PP-OCRv4 (see Options).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <fstream>
#include <cstdio>
#include <mutex>

#include <sys/stat.h>

#include "pareto/guarded.hpp"
#include "pareto/tensor_io.hpp"
#include "apps/image.h"
#include "apps/ocr/db_postprocess.h"
#include "apps/ocr/text_lines.h"
#include "pareto/thread_pool.hpp"
#include "pareto/ocr.hpp"

namespace pareto::ocr {

using apps::Image;
using apps::PointF;

namespace {

std::unique_ptr<Session> open_model(const std::string& path, int threads, const std::string& precision) {
  SessionOptions so;
  so.threads = threads;
  so.optimize = true;  // folding and fusion; input sizes vary per image, so no shape binding
  so.conv_precision = precision;
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
    for (int y = 0; y < img.height; ++y) {
      const uint8_t* row = img.at(0, y);
      float* dst = out + (size_t(c) * size_t(plane_h) + size_t(y)) * size_t(plane_w);
      for (int x = 0; x < img.width; ++x) dst[x] = float(row[size_t(x) * 3 + size_t(src_c)]) * scale - shift;
    }
  }
}

// The classifier's and recognizer's normalization: x / 255 * 2 - 1.
constexpr float kHalf[3] = {0.5f, 0.5f, 0.5f};

// Width a line of aspect w/h gets at height 48 (at least 1, at most `cap`).
int width_at_48(const Image& c, int cap) { return std::clamp(int(std::ceil(48.f * float(c.width) / float(c.height))), 1, cap); }

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

// Greedy CTC over one line's [steps, classes] scores: the best class per
// step, repeats merged, blanks (class 0) dropped; confidence is the mean
// score of the kept steps.
void ctc_decode(const float* p, int64_t steps, int64_t classes, const std::vector<std::string>& keys, TextLine& line) {
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

// The quad's crop, straightened; tall crops (vertical text) turned to read
// sideways, as PaddleOCR does.
Image crop_line(const Image& img, const apps::ocr::Quad& q) {
  auto len = [](const PointF& a, const PointF& b) { return std::hypot(a.x - b.x, a.y - b.y); };
  const int w = std::max(1, int(std::max(len(q[0], q[1]), len(q[2], q[3]))));
  const int h = std::max(1, int(std::max(len(q[0], q[3]), len(q[1], q[2]))));
  const PointF quad[4] = {q[0], q[1], q[2], q[3]};
  Image crop = apps::warp_quad(img, quad, w, h);
  if (float(h) / float(w) >= 1.5f) crop = apps::rotate_90_ccw(crop);
  return crop;
}

}  // namespace

struct Pipeline::Impl {
  Options options;
  std::unique_ptr<Session> det, cls;
  // One recognizer session per thread: with several lines each thread
  // reads its own lines (one session is not run by two threads at once).
  std::vector<std::unique_ptr<Session>> rec;
  std::vector<std::string> keys;
  // The pipeline's own threads for reading lines in parallel (each session
  // has its own pool for the work inside one model run).
  std::unique_ptr<ThreadPool> line_pool;
  std::atomic<int> dumped{0};

  // Options::dump_inputs: the model input as DIR/TAG/NNNNNN.npy.
  void dump(const char* tag, const Tensor& x) {
    if (options.dump_inputs.empty()) return;
    const std::string dir = options.dump_inputs + "/" + tag;
    ::mkdir(options.dump_inputs.c_str(), 0755);
    ::mkdir(dir.c_str(), 0755);
    char name[32];
    std::snprintf(name, sizeof name, "/%06d.npy", dumped.fetch_add(1));
    const Status st = write_npy(dir + name, x);
    if (!st.ok()) throw Error(st.code, st.message);
  }

  std::vector<apps::ocr::DetectedBox> detect(const Image& img, StageTimes& t) {
    const int limit = std::max(32, options.det_limit_side);
    const int longer = std::max(img.width, img.height), shorter = std::min(img.width, img.height);
    float ratio = longer > limit ? float(limit) / float(longer) : 1.f;
    if (options.det_limit_min) {
      ratio = shorter < limit ? float(limit) / float(shorter) : 1.f;
      if (float(longer) * ratio > float(options.det_max_side)) ratio = float(options.det_max_side) / float(longer);
    }
    const int rh = std::max(32, int(std::lround(float(img.height) * ratio / 32.f)) * 32);
    const int rw = std::max(32, int(std::lround(float(img.width) * ratio / 32.f)) * 32);
    const Image resized = apps::resize_bilinear(img, rw, rh);
    Tensor x = Tensor::zeros(DType::f32, {1, 3, rh, rw});
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
    to_chw(resized, mean, stdev, x.data<float>(), rw, rh);
    dump("det", x);
    Tensor prob = run_one(*det, std::move(x), &t.det_model);
    if (prob.shape().size() != 4 || prob.shape()[2] != rh || prob.shape()[3] != rw)
      fail_model("detection model: expected a [1,1," + std::to_string(rh) + "," + std::to_string(rw) + "] probability map");
    apps::ocr::DbOptions db;
    db.thresh = options.det_thresh;
    db.box_thresh = options.box_thresh;
    db.unclip_ratio = options.unclip_ratio;
    return apps::ocr::db_boxes(prob.data<float>(), rw, rh, img.width, img.height, db);
  }

  // Crops resized to height 48 (width by aspect, at most `width`),
  // normalized, zero-padded on the right to `width`. Lines shorter than 48
  // pixels are enlarged bicubically unless options say otherwise (see
  // Options::rec_enlarge_bicubic); shrinking is bilinear, as in PaddleOCR.
  Tensor batch_tensor(const std::vector<const Image*>& crops, int width) {
    Tensor x = Tensor::zeros(DType::f32, {int64_t(crops.size()), 3, 48, width});
    for (size_t i = 0; i < crops.size(); ++i) {
      const Image& c = *crops[i];
      const int w = width_at_48(c, width);
      const Image resized = c.height < 48 && options.rec_enlarge_bicubic ? apps::resize_bicubic(c, w, 48) : apps::resize_bilinear(c, w, 48);
      to_chw(resized, kHalf, kHalf, x.data<float>() + i * 3 * 48 * size_t(width), width, 48);
    }
    return x;
  }

  // Lines in order of aspect ratio, as PaddleOCR batches them (less padding).
  static std::vector<size_t> by_aspect(const std::vector<Image>& crops) {
    std::vector<size_t> order(crops.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return float(crops[a].width) / float(crops[a].height) < float(crops[b].width) / float(crops[b].height);
    });
    return order;
  }

  void classify(std::vector<Image>& crops, std::vector<bool>& flipped, StageTimes& t) {
    const std::vector<size_t> order = by_aspect(crops);
    const size_t batch = size_t(std::max(1, options.cls_batch));
    for (size_t b = 0; b < order.size(); b += batch) {
      std::vector<const Image*> group;
      for (size_t i = b; i < std::min(order.size(), b + batch); ++i) group.push_back(&crops[order[i]]);
      Tensor in = batch_tensor(group, 192);
      dump("cls", in);
      Tensor out = run_one(*cls, std::move(in), &t.cls_model);
      if (out.shape().size() != 2 || out.shape()[0] != int64_t(group.size()) || out.shape()[1] != 2)
        fail_model("angle classifier: expected [N,2] output");
      const float* p = out.data<float>();
      for (size_t i = 0; i < group.size(); ++i)
        if (p[2 * i + 1] > p[2 * i] && p[2 * i + 1] > options.cls_thresh) {
          crops[order[b + i]] = apps::rotate_180(crops[order[b + i]]);
          flipped[order[b + i]] = true;
        }
    }
  }

  // One line through one recognizer session at the line's own width (no
  // padding to a batch's widest line). Adds to the per-worker times.
  struct LineTimes {
    double model = 0, prepare = 0;
    int64_t columns = 0, padded = 0;
  };
  void recognize_line(Session& s, const Image& crop, TextLine& line, LineTimes& lt) {
    const double t0 = now_seconds();
    const int own = width_at_48(crop, 48 * 100);  // absurd aspect ratios are squeezed
    const int width = std::max(own, options.rec_min_width);
    Tensor x = batch_tensor({&crop}, width);
    dump("rec", x);
    lt.prepare += now_seconds() - t0;
    lt.columns += width;
    lt.padded += width - own;
    Tensor out = run_one(s, std::move(x), &lt.model);
    if (out.shape().size() != 3 || out.shape()[0] != 1 || out.shape()[2] != int64_t(keys.size()) + 1)
      fail_model("recognition model: expected [1,T," + std::to_string(keys.size() + 1) + "] output (blank + " + std::to_string(keys.size()) +
                 " characters)");
    ctc_decode(out.data<float>(), out.shape()[1], out.shape()[2], keys, line);
  }

  // With several threads and lines, each thread runs whole lines through
  // its own session (lines are independent, and a line at height 48 is too
  // small a convolution to split well over threads); a single line uses
  // every thread inside its convolutions instead.
  void recognize(const std::vector<Image>& crops, std::vector<TextLine>& lines, StageTimes& t) {
    const size_t workers = std::min(rec.size(), crops.size());
    std::vector<LineTimes> per(std::max<size_t>(workers, 1));
    if (workers <= 1) {
      for (size_t i = 0; i < crops.size(); ++i) recognize_line(*rec[0], crops[i], lines[i], per[0]);
    } else {
      const std::vector<size_t> order = by_aspect(crops);
      std::atomic<size_t> next{0};
      std::mutex error_mutex;
      std::exception_ptr error;
      PoolScope scope(line_pool.get());
      parallel_for(int64_t(workers), [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k)
          for (size_t n; (n = next.fetch_add(1)) < order.size();) {
            const size_t i = order[order.size() - 1 - n];  // widest first
            try {
              recognize_line(*rec[size_t(k)], crops[i], lines[i], per[size_t(k)]);
            } catch (...) {  // a pool thread must not throw; rethrown below
              std::lock_guard<std::mutex> lock(error_mutex);
              if (!error) error = std::current_exception();
            }
          }
      });
      if (error) std::rethrow_exception(error);
    }
    int64_t columns = 0, padded = 0;
    for (const LineTimes& lt : per) {
      t.rec_model += lt.model;
      t.rec_prepare += lt.prepare;
      columns += lt.columns;
      padded += lt.padded;
    }
    t.rec_runs = int(crops.size());
    t.rec_padded_fraction = columns ? double(padded) / double(columns) : 0;
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
      crops.push_back(crop_line(img, boxes[i].quad));
      for (size_t k = 0; k < 4; ++k) lines[i].box[k] = {boxes[i].quad[k].x, boxes[i].quad[k].y};
    }
    const double t2 = now_seconds();
    std::vector<bool> flipped(crops.size(), false);
    if (options.use_angle_cls && !crops.empty()) classify(crops, flipped, r.times);
    const double t3 = now_seconds();
    if (!crops.empty()) recognize(crops, lines, r.times);
    const double t4 = now_seconds();
    std::vector<TextLine> kept;
    for (size_t i = 0; i < lines.size(); ++i) {
      lines[i].flipped = flipped[i];
      if (lines[i].confidence >= options.drop_score && !lines[i].text.empty()) kept.push_back(std::move(lines[i]));
    }
    r.lines = options.merge_lines ? apps::ocr::merge_visual_lines(std::move(kept)) : std::move(kept);
    r.times.detect = t1 - t0;
    r.times.crop = t2 - t1;
    r.times.classify = t3 - t2;
    r.times.recognize = t4 - t3;
    r.times.total = decode_seconds + (now_seconds() - t0);
    return r;
  }
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

pareto::Result<std::unique_ptr<Pipeline>> Pipeline::open(const std::string& model_dir, const Options& options) {
  return api::guarded([&] {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    LimitsScope limits(options.limits);  // the sessions' options take these
    auto path = [&](const std::string& given, const char* shipped) { return given.empty() ? model_dir + "/" + shipped : given; };
    impl->det = open_model(path(options.det_model, "ch_PP-OCRv4_det_infer.onnx"), options.threads, options.conv_precision);
    impl->cls = open_model(path(options.cls_model, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), options.threads, options.conv_precision);
    for (int i = 0; i < std::max(1, options.threads); ++i)
      impl->rec.push_back(open_model(path(options.rec_model, "ch_PP-OCRv4_rec_infer.onnx"), options.threads, options.conv_precision));
    impl->line_pool = std::make_unique<ThreadPool>(std::max(1, options.threads));
    impl->keys = read_keys(model_dir + "/ppocr_keys_v1.txt");
    return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
  });
}

pareto::Result<OcrResult> Pipeline::run_file(const std::string& image_path) {
  return api::guarded([&] {
    LimitsScope limits(impl_->options.limits);
    const double t0 = now_seconds();
    Image img = apps::load_image(image_path);
    return impl_->run(img, now_seconds() - t0);
  });
}

pareto::Result<OcrResult> Pipeline::run(const uint8_t* rgb, int width, int height) {
  return api::guarded([&] {
    LimitsScope limits(impl_->options.limits);
    if (!rgb || width <= 0 || height <= 0) fail_argument("ocr: bad image size " + std::to_string(width) + "x" + std::to_string(height));
    check_limit("ocr: an image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels", uint64_t(width) * uint64_t(height),
                "image-pixels");
    Image img;
    img.width = width;
    img.height = height;
    img.rgb.assign(rgb, rgb + size_t(width) * size_t(height) * 3);
    return impl_->run(img, 0);
  });
}

}  // namespace pareto::ocr
