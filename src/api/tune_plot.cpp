// pareto tune's frontier page: an SVG scatter drawn here (no script, so the
// page shows the same everywhere and a Content-Security-Policy can forbid
// everything), the front joined by a line, the chosen point ringed, and a
// table of the points. Every string from outside (labels, file names) is
// escaped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "pareto/tune.hpp"

namespace pareto {

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string tick_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double px0 = 0, px1 = 1;  // pixel range
  double value(double v) const { return log ? std::log10(std::max(v, 1e-12)) : v; }
  double to_px(double v) const { return px0 + (value(v) - lo) / (hi - lo) * (px1 - px0); }
};

Axis make_axis(const std::vector<double>& vals, bool log, double px0, double px1) {
  Axis a;
  a.log = log, a.px0 = px0, a.px1 = px1;
  a.lo = 1e300, a.hi = -1e300;
  for (double v : vals) a.lo = std::min(a.lo, a.value(v)), a.hi = std::max(a.hi, a.value(v));
  if (vals.empty()) a.lo = 0, a.hi = 1;
  const double pad = a.hi > a.lo ? (a.hi - a.lo) * 0.06 : 0.5;
  a.lo -= pad, a.hi += pad;
  return a;
}

std::string ticks(const Axis& a, bool horizontal, double cross) {
  std::string s;
  for (int k = 0; k <= 5; ++k) {
    const double v = a.lo + (a.hi - a.lo) * k / 5.0, shown = a.log ? std::pow(10.0, v) : v, px = a.px0 + (a.px1 - a.px0) * k / 5.0;
    if (horizontal)
      s += "<text x=\"" + num(px) + "\" y=\"" + num(cross + 16) + "\" text-anchor=\"middle\">" + tick_text(shown) + "</text>";
    else
      s += "<text x=\"" + num(cross - 6) + "\" y=\"" + num(px + 4) + "\" text-anchor=\"end\">" + tick_text(shown) + "</text>";
  }
  return s;
}

}  // namespace

std::string render_tune_plot(const std::string& title, const std::string& x_label, const std::string& y_label, bool log_y,
                             const std::vector<TunePlotPoint>& all_points, const std::vector<std::vector<std::string>>& table) {
  // A point with no finite place (a candidate whose logits overflowed) stays in the table only.
  std::vector<TunePlotPoint> points;
  for (const TunePlotPoint& p : all_points)
    if (std::isfinite(p.x) && std::isfinite(p.y) && (!log_y || p.y > 0)) points.push_back(p);
  const double W = 900, H = 520, L = 80, R = 220, T = 30, B = 50;
  std::vector<double> xs, ys;
  for (const TunePlotPoint& p : points) xs.push_back(p.x), ys.push_back(p.y);
  const Axis ax = make_axis(xs, false, L, W - R), ay = make_axis(ys, log_y, H - B, T);
  std::string svg = "<svg id=\"frontier\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) + "\" font-size=\"12\">";
  svg += "<rect x=\"" + num(L) + "\" y=\"" + num(T) + "\" width=\"" + num(W - L - R) + "\" height=\"" + num(H - T - B) + "\" fill=\"#fafafa\" stroke=\"#999\"/>";
  svg += ticks(ax, true, H - B) + ticks(ay, false, L);
  svg += "<text x=\"" + num((L + W - R) / 2) + "\" y=\"" + num(H - 10) + "\" text-anchor=\"middle\">" + esc(x_label) + "</text>";
  svg += "<text transform=\"translate(18," + num((T + H - B) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" + esc(y_label) + (log_y ? " (log)" : "") + "</text>";
  // The front as a line, by x.
  std::vector<const TunePlotPoint*> front;
  for (const TunePlotPoint& p : points)
    if (p.kind == "front") front.push_back(&p);
  std::sort(front.begin(), front.end(), [](const TunePlotPoint* a, const TunePlotPoint* b) { return a->x < b->x; });
  if (front.size() > 1) {
    svg += "<polyline class=\"front\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"";
    for (const TunePlotPoint* p : front) svg += num(ax.to_px(p->x)) + "," + num(ay.to_px(p->y)) + " ";
    svg += "\"/>";
  }
  for (const TunePlotPoint& p : points) {
    const std::string color = p.kind == "front" ? "#d62728" : p.kind == "anchor" ? "#1f77b4" : "#aaaaaa";
    const std::string cx = num(ax.to_px(p.x)), cy = num(ay.to_px(p.y));
    if (p.kind == "anchor")
      svg += "<rect class=\"point anchor\" x=\"" + num(ax.to_px(p.x) - 5) + "\" y=\"" + num(ay.to_px(p.y) - 5) + "\" width=\"10\" height=\"10\" fill=\"" + color + "\"><title>" +
             esc(p.label) + "</title></rect>";
    else
      svg += "<circle class=\"point " + esc(p.kind) + "\" cx=\"" + cx + "\" cy=\"" + cy + "\" r=\"4\" fill=\"" + color + "\"><title>" + esc(p.label) + "</title></circle>";
    if (p.chosen) svg += "<circle class=\"chosen\" cx=\"" + cx + "\" cy=\"" + cy + "\" r=\"10\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2.5\"/>";
  }
  // Legend.
  const double lx = W - R + 20;
  svg += "<circle cx=\"" + num(lx) + "\" cy=\"50\" r=\"4\" fill=\"#d62728\"/><text x=\"" + num(lx + 10) + "\" y=\"54\">on the front</text>";
  svg += "<circle cx=\"" + num(lx) + "\" cy=\"72\" r=\"4\" fill=\"#aaaaaa\"/><text x=\"" + num(lx + 10) + "\" y=\"76\">measured, dominated</text>";
  svg += "<rect x=\"" + num(lx - 5) + "\" y=\"89\" width=\"10\" height=\"10\" fill=\"#1f77b4\"/><text x=\"" + num(lx + 10) + "\" y=\"98\">anchor (made elsewhere)</text>";
  svg += "<circle cx=\"" + num(lx) + "\" cy=\"116\" r=\"10\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2.5\"/><text x=\"" + num(lx + 14) + "\" y=\"120\">chosen</text>";
  svg += "</svg>";

  std::string html =
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
      "<title>" + esc(title) + "</title><style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse;font-size:12px}"
      "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}</style></head><body>";
  html += "<h2>" + esc(title) + "</h2>" + svg;
  if (!table.empty()) {
    html += "<table id=\"points\">";
    for (size_t r = 0; r < table.size(); ++r) {
      html += "<tr>";
      for (const std::string& c : table[r]) html += (r == 0 ? "<th>" : "<td>") + esc(c) + (r == 0 ? "</th>" : "</td>");
      html += "</tr>";
    }
    html += "</table>";
  }
  return html + "</body></html>\n";
}

}  // namespace pareto
