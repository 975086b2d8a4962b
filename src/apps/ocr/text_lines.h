// Joins the pieces the detector found on one visual line into one text
// line, the way a person reads it: a long line with wide gaps (monospaced
// text, a receipt's item and price columns) often comes back from DB as
// several boxes, and a reader expects one line with spaces between them.
#pragma once
#include <vector>

#include "pareto/ocr.hpp"

namespace pareto::apps::ocr {

// Pieces belong to one line when their vertical centres differ by less than
// half the smaller height, they overlap horizontally by less than half the
// smaller height and the gap between them is under twice it (columns
// further apart stay separate); vertical text (boxes more than 1.5 times as
// tall as wide) is never joined. Each merged line's text is its pieces'
// texts, left to right (right to left when the classifier turned them all
// upside down), joined by single spaces; its box spans them (left corners
// of the leftmost piece, right corners of the rightmost); its confidence is the pieces' mean weighted by characters. Lines
// come back in reading order: top to bottom, then left to right. Spaces at
// either end of a piece's text (CTC reads some at a crop's edges) are
// dropped first, and pieces left empty with them.
std::vector<pareto::ocr::TextLine> merge_visual_lines(std::vector<pareto::ocr::TextLine> pieces);

}  // namespace pareto::apps::ocr
