#include "apps/ocr/db_postprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pareto::apps::ocr {

namespace {

// Mean probability inside the quad over its bounding box.
float box_score(const float* prob, int w, int h, const Quad& q) {
  float x0 = q[0].x, x1 = q[0].x, y0 = q[0].y, y1 = q[0].y;
  for (const PointF& p : q) {
    x0 = std::min(x0, p.x);
    x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y);
    y1 = std::max(y1, p.y);
  }
  const int xa = std::clamp(int(std::floor(x0)), 0, w - 1), xb = std::clamp(int(std::ceil(x1)), 0, w - 1);
  const int ya = std::clamp(int(std::floor(y0)), 0, h - 1), yb = std::clamp(int(std::ceil(y1)), 0, h - 1);
  double sum = 0;
  int64_t n = 0;
  for (int y = ya; y <= yb; ++y)
    for (int x = xa; x <= xb; ++x)
      if (inside_quad(q, float(x), float(y))) {
        sum += prob[size_t(y) * size_t(w) + size_t(x)];
        ++n;
      }
  return n ? float(sum / double(n)) : 0.f;
}

}  // namespace

std::vector<DetectedBox> db_boxes(const float* prob, int w, int h, int img_w, int img_h, const DbOptions& opt) {
  std::vector<DetectedBox> out;
  const size_t n = size_t(w) * size_t(h);
  std::vector<int32_t> label(n, 0);
  std::vector<int32_t> stack;
  // Per region: the leftmost and rightmost pixel of each row it covers are
  // enough for its convex hull.
  std::vector<PointF> extremes;
  int regions = 0;
  for (size_t start = 0; start < n && regions < opt.max_candidates; ++start) {
    if (label[start] || prob[start] <= opt.thresh) continue;
    ++regions;
    label[start] = regions;
    stack.assign(1, int32_t(start));
    std::vector<std::pair<int, int>> rows;  // (min x, max x) per y, keyed by y - ymin
    int ymin = int(start / size_t(w));
    while (!stack.empty()) {
      const int32_t i = stack.back();
      stack.pop_back();
      const int x = i % w, y = i / w;
      if (y - ymin >= int(rows.size())) rows.resize(size_t(y - ymin + 1), {w, -1});
      auto& r = rows[size_t(y - ymin)];
      r.first = std::min(r.first, x);
      r.second = std::max(r.second, x);
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const size_t j = size_t(ny) * size_t(w) + size_t(nx);
          if (label[j] || prob[j] <= opt.thresh) continue;
          label[j] = regions;
          stack.push_back(int32_t(j));
        }
    }
    extremes.clear();
    for (size_t k = 0; k < rows.size(); ++k) {
      if (rows[k].second < 0) continue;
      extremes.push_back({float(rows[k].first), float(ymin + int(k))});
      extremes.push_back({float(rows[k].second), float(ymin + int(k))});
    }
    const RotatedRect rect = min_area_rect(extremes);
    if (rect.short_side() < opt.min_size) continue;
    const Quad quad = rect.corners();
    const float score = box_score(prob, w, h, quad);
    if (score < opt.box_thresh) continue;
    // Offsetting a rectangle outward by d (round joins) and taking the
    // minimum-area rectangle again grows each side by 2d.
    const float d = quad_area(quad) * opt.unclip_ratio / std::max(quad_perimeter(quad), 1e-6f);
    RotatedRect grown = rect;
    grown.width += 2 * d;
    grown.height += 2 * d;
    if (grown.short_side() < opt.min_size + 2) continue;
    DetectedBox box;
    box.score = score;
    box.quad = grown.corners();
    const float sx = float(img_w) / float(w), sy = float(img_h) / float(h);
    for (PointF& p : box.quad) {
      p.x = std::clamp(std::round(p.x * sx), 0.f, float(img_w - 1));
      p.y = std::clamp(std::round(p.y * sy), 0.f, float(img_h - 1));
    }
    const float bw = std::hypot(box.quad[0].x - box.quad[1].x, box.quad[0].y - box.quad[1].y);
    const float bh = std::hypot(box.quad[0].x - box.quad[3].x, box.quad[0].y - box.quad[3].y);
    if (bw <= 3 || bh <= 3) continue;
    out.push_back(box);
  }
  sort_reading_order(out);
  return out;
}

void sort_reading_order(std::vector<DetectedBox>& boxes) {
  std::sort(boxes.begin(), boxes.end(), [](const DetectedBox& a, const DetectedBox& b) {
    return a.quad[0].y < b.quad[0].y || (a.quad[0].y == b.quad[0].y && a.quad[0].x < b.quad[0].x);
  });
  // Bubble boxes on one line into left-to-right order.
  for (size_t i = 0; i + 1 < boxes.size(); ++i)
    for (size_t j = i + 1; j-- > 0;) {
      if (std::fabs(boxes[j + 1].quad[0].y - boxes[j].quad[0].y) < 10 && boxes[j + 1].quad[0].x < boxes[j].quad[0].x)
        std::swap(boxes[j], boxes[j + 1]);
      else
        break;
    }
}

}  // namespace pareto::apps::ocr
