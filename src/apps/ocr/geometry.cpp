#include "apps/ocr/geometry.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pareto::apps::ocr {

namespace {
float cross(const PointF& o, const PointF& a, const PointF& b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }
float dist(const PointF& a, const PointF& b) { return std::hypot(a.x - b.x, a.y - b.y); }
}  // namespace

std::vector<PointF> convex_hull(std::vector<PointF> p) {
  std::sort(p.begin(), p.end(), [](const PointF& a, const PointF& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  p.erase(std::unique(p.begin(), p.end(), [](const PointF& a, const PointF& b) { return a.x == b.x && a.y == b.y; }), p.end());
  if (p.size() < 3) return p;
  std::vector<PointF> h(2 * p.size());
  size_t k = 0;
  for (size_t i = 0; i < p.size(); ++i) {  // lower chain
    while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  for (size_t i = p.size() - 1, t = k + 1; i-- > 0;) {  // upper chain
    while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  h.resize(k - 1);
  return h;
}

RotatedRect min_area_rect(const std::vector<PointF>& points) {
  RotatedRect best;
  const std::vector<PointF> h = convex_hull(points);
  if (h.empty()) return best;
  if (h.size() == 1) {
    best.center = h[0];
    return best;
  }
  float best_area = std::numeric_limits<float>::max();
  for (size_t i = 0; i < h.size(); ++i) {
    const PointF& a = h[i];
    const PointF& b = h[(i + 1) % h.size()];
    const float len = dist(a, b);
    if (len == 0) continue;
    const PointF u{(b.x - a.x) / len, (b.y - a.y) / len};
    float lo_u = std::numeric_limits<float>::max(), hi_u = -lo_u, lo_n = lo_u, hi_n = -lo_u;
    for (const PointF& p : h) {
      const float pu = p.x * u.x + p.y * u.y, pn = -p.x * u.y + p.y * u.x;
      lo_u = std::min(lo_u, pu);
      hi_u = std::max(hi_u, pu);
      lo_n = std::min(lo_n, pn);
      hi_n = std::max(hi_n, pn);
    }
    const float area = (hi_u - lo_u) * (hi_n - lo_n);
    if (area < best_area) {
      best_area = area;
      const float cu = (lo_u + hi_u) / 2, cn = (lo_n + hi_n) / 2;
      best.center = {cu * u.x - cn * u.y, cu * u.y + cn * u.x};
      best.width = hi_u - lo_u;
      best.height = hi_n - lo_n;
      best.axis = u;
    }
  }
  return best;
}

Quad RotatedRect::corners() const {
  const PointF n{-axis.y, axis.x};
  const float hw = width / 2, hh = height / 2;
  Quad q;
  const float su[4] = {-1, 1, 1, -1}, sn[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; ++i) q[size_t(i)] = {center.x + su[i] * hw * axis.x + sn[i] * hh * n.x, center.y + su[i] * hw * axis.y + sn[i] * hh * n.y};
  return order_quad(q);
}

Quad order_quad(Quad q) {
  std::sort(q.begin(), q.end(), [](const PointF& a, const PointF& b) { return a.x < b.x; });
  const PointF tl = q[0].y <= q[1].y ? q[0] : q[1], bl = q[0].y <= q[1].y ? q[1] : q[0];
  const PointF tr = q[2].y <= q[3].y ? q[2] : q[3], br = q[2].y <= q[3].y ? q[3] : q[2];
  return {tl, tr, br, bl};
}

bool inside_quad(const Quad& q, float x, float y) {
  // Same side of every edge (the quad is convex; either winding).
  bool pos = false, neg = false;
  for (size_t i = 0; i < 4; ++i) {
    const float c = cross(q[i], q[(i + 1) % 4], PointF{x, y});
    pos |= c > 0;
    neg |= c < 0;
  }
  return !(pos && neg);
}

float quad_area(const Quad& q) {
  float a = 0;
  for (size_t i = 0; i < 4; ++i) a += q[i].x * q[(i + 1) % 4].y - q[(i + 1) % 4].x * q[i].y;
  return std::fabs(a) / 2;
}

float quad_perimeter(const Quad& q) {
  float p = 0;
  for (size_t i = 0; i < 4; ++i) p += dist(q[i], q[(i + 1) % 4]);
  return p;
}

}  // namespace pareto::apps::ocr
