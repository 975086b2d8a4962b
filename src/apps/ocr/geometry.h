// Plane geometry for text boxes: convex hull, minimum-area rotated
// rectangle, corner ordering, point-in-quad.
#pragma once
#include <array>
#include <vector>

#include "apps/image.h"

namespace pareto::apps::ocr {

using Quad = std::array<PointF, 4>;  // top-left, top-right, bottom-right, bottom-left

std::vector<PointF> convex_hull(std::vector<PointF> points);

struct RotatedRect {
  PointF center;
  float width = 0, height = 0;  // along `axis` and across it
  PointF axis{1, 0};            // unit vector of the `width` side
  Quad corners() const;         // ordered like order_quad
  float short_side() const { return width < height ? width : height; }
};
// Rotating calipers over the hull's edges (points: any set, hull computed inside).
RotatedRect min_area_rect(const std::vector<PointF>& points);

// Orders four corners: of the two leftmost points the upper is top-left and
// the lower bottom-left; likewise on the right.
Quad order_quad(Quad q);

bool inside_quad(const Quad& q, float x, float y);
float quad_area(const Quad& q);
float quad_perimeter(const Quad& q);

}  // namespace pareto::apps::ocr
