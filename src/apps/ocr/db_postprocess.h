// Differentiable-binarization (DB) post-processing of a text probability
// map into boxes: binarize, connected regions, minimum-area rectangles,
// scoring, expansion by the DB unclip ratio, scaling to the image.
#pragma once
#include <vector>

#include "apps/ocr/geometry.h"

namespace pareto::apps::ocr {

struct DbOptions {
  float thresh = 0.3f;        // probability that makes a pixel "text"
  float box_thresh = 0.6f;    // mean probability a box needs to be kept
  float unclip_ratio = 1.5f;  // expansion distance = area * ratio / perimeter
  int max_candidates = 1000;
  float min_size = 3.f;       // shorter side in map pixels
};

struct DetectedBox {
  Quad quad;  // image coordinates, clipped to the image
  float score = 0;
};

// prob: map_h x map_w; boxes come back in the image's coordinates
// (img_w x img_h), sorted top-to-bottom then left-to-right.
std::vector<DetectedBox> db_boxes(const float* prob, int map_w, int map_h, int img_w, int img_h, const DbOptions& opt);

// Reading order: by top edge, and boxes whose tops lie within 10 pixels of
// each other from left to right.
void sort_reading_order(std::vector<DetectedBox>& boxes);

}  // namespace pareto::apps::ocr
