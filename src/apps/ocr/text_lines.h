// Joins the pieces the detector found on one visual line into one text
// line, the way a person reads it: a long line with wide gaps (monospaced
// text, a receipt's item and price columns) often comes back from DB as
// several boxes, and a reader expects one line with spaces between them.
#pragma once
#include <vector>

#include "pareto/ocr.hpp"

namespace pareto::apps::ocr {

// Pieces belong to one line when their vertical centres differ by less than
// half the smaller height and they overlap horizontally by less than half
// the smaller height. Each merged line's text is its pieces' texts, left to
// right, joined by single spaces; its box spans them (top-left of the first,
// top-right and bottom-right of the last, bottom-left of the first); its
// confidence is the pieces' mean weighted by characters. Lines come back in
// reading order: top to bottom, then left to right. Spaces at either end of
// a piece's text (CTC reads some at a crop's edges) are dropped first.
std::vector<pareto::ocr::TextLine> merge_visual_lines(std::vector<pareto::ocr::TextLine> pieces);

}  // namespace pareto::apps::ocr
