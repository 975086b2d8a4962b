#include "apps/ocr/text_lines.h"

#include <algorithm>
#include <cmath>

namespace pareto::apps::ocr {

using pareto::ocr::TextLine;

namespace {

struct Extent {
  float left, right, top, bottom;
  float centre_y() const { return (top + bottom) / 2; }
  float height() const { return bottom - top; }
};

Extent extent(const TextLine& l) {
  Extent e{l.box[0][0], l.box[0][0], l.box[0][1], l.box[0][1]};
  for (const auto& p : l.box) {
    e.left = std::min(e.left, p[0]);
    e.right = std::max(e.right, p[0]);
    e.top = std::min(e.top, p[1]);
    e.bottom = std::max(e.bottom, p[1]);
  }
  return e;
}

// a is left of b (by left edge). Vertical text (a box more than 1.5 times
// as tall as wide) is never joined.
bool same_line(const Extent& a, const Extent& b) {
  const float h = std::min(a.height(), b.height());
  const float overlap = std::min(a.right, b.right) - std::max(a.left, b.left);
  const float gap = b.left - a.right;
  const bool upright = a.height() <= 1.5f * (a.right - a.left) && b.height() <= 1.5f * (b.right - b.left);
  return upright && std::fabs(a.centre_y() - b.centre_y()) < h / 2 && overlap < h / 2 && gap < 2 * h;
}

// A line's text without the spaces CTC sometimes emits at a crop's ends.
std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

size_t characters(const std::string& utf8) {
  size_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::vector<TextLine> merge_visual_lines(std::vector<TextLine> pieces) {
  for (TextLine& p : pieces) p.text = trimmed(p.text);
  std::erase_if(pieces, [](const TextLine& p) { return p.text.empty(); });
  std::vector<Extent> ext;
  for (const TextLine& p : pieces) ext.push_back(extent(p));
  std::vector<size_t> order(pieces.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ext[a].left < ext[b].left; });
  // Greedy, left to right: each piece joins the line whose last piece it
  // continues, else starts one.
  std::vector<std::vector<size_t>> groups;
  for (size_t i : order) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const std::vector<size_t>& grp) { return same_line(ext[grp.back()], ext[i]); });
    if (g == groups.end()) groups.push_back({i});
    else g->push_back(i);
  }
  // Pieces the classifier turned upside down read right to left in the image.
  for (auto& grp : groups)
    if (std::all_of(grp.begin(), grp.end(), [&](size_t i) { return pieces[i].flipped; })) std::reverse(grp.begin(), grp.end());
  std::vector<TextLine> lines;
  std::vector<Extent> line_ext;
  for (const auto& grp : groups) {
    TextLine line = pieces[grp.front()];
    // The box spans the pieces in the image, whatever order they read in.
    const auto [lo, hi] = std::minmax_element(grp.begin(), grp.end(), [&](size_t a, size_t b) { return ext[a].left < ext[b].left; });
    const TextLine &left = pieces[*lo], &right = pieces[*hi];
    double weighted = double(line.confidence) * double(characters(line.text));
    size_t chars = characters(line.text);
    for (size_t k = 1; k < grp.size(); ++k) {
      const TextLine& p = pieces[grp[k]];
      line.text += " " + p.text;
      weighted += double(p.confidence) * double(characters(p.text));
      chars += characters(p.text);
      line.flipped = line.flipped || p.flipped;
    }
    line.box = {left.box[0], right.box[1], right.box[2], left.box[3]};
    if (chars) line.confidence = float(weighted / double(chars));
    line_ext.push_back(extent(line));
    lines.push_back(std::move(line));
  }
  // By centre, then pieces of one line left to right (an insertion pass:
  // "on one line" is not transitive, so no std::sort with it).
  std::vector<size_t> reading(lines.size());
  for (size_t i = 0; i < reading.size(); ++i) reading[i] = i;
  std::stable_sort(reading.begin(), reading.end(), [&](size_t a, size_t b) { return line_ext[a].centre_y() < line_ext[b].centre_y(); });
  for (size_t i = 1; i < reading.size(); ++i)
    for (size_t j = i; j > 0; --j) {
      const Extent &prev = line_ext[reading[j - 1]], &cur = line_ext[reading[j]];
      const bool one_line = std::fabs(prev.centre_y() - cur.centre_y()) < std::min(prev.height(), cur.height()) / 2;
      if (!one_line || prev.left <= cur.left) break;
      std::swap(reading[j - 1], reading[j]);
    }
  std::vector<TextLine> out;
  for (size_t i : reading) out.push_back(std::move(lines[i]));
  return out;
}

}  // namespace pareto::apps::ocr
