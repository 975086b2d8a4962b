#include "profile/report_html.h"

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pareto::profile {
namespace {

// kReportJs: the drawing code. It lives in its own file so the page script
// can be read (and diffed) as JavaScript rather than inside C++ markup.
#include "report_html_js.inc"

// System font stacks only: the page must render identically offline, and a
// web font would be a network fetch.
constexpr std::string_view kCss = R"CSS(
:root { --fg: #1d232b; --muted: #5b6573; --line: #d5dae1; --card: #ffffff; --bg: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
        padding: 12px 18px; margin: 0 0 16px 0; }
h1 { font-size: 20px; margin: 4px 0 10px; word-break: break-all; }
h2 { font-size: 16px; margin: 4px 0 8px; }
.note { color: var(--muted); margin: 4px 0 10px; }
.est { color: #8a4b00; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
figure { margin: 0; overflow-x: auto; }
figcaption { color: var(--muted); margin-top: 4px; }
svg { display: block; font: 11px system-ui, "DejaVu Sans", sans-serif; }
svg .axis { stroke: #444; stroke-width: 1; }
svg .grid { stroke: #e6e9ee; stroke-width: 1; }
svg .tick { fill: #444; }
svg .axis-title { fill: #222; font-size: 12px; }
svg .ceiling { stroke-width: 2; }
svg .slope { stroke: #333; stroke-width: 2; }
svg .op { fill-opacity: 0.75; stroke: #222; stroke-width: 0.6; }
svg .bar { fill-opacity: 0.85; }
svg .energy { fill: #e08a1e; }
svg .area { fill: #9cc3e6; fill-opacity: 0.55; }
svg .line { fill: none; stroke: #1f5f9e; stroke-width: 1.5; }
svg .limit { stroke: #b03030; stroke-dasharray: 5 4; }
svg .empty { fill: var(--muted); font-size: 14px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { word-break: break-all; }
.errors { background: #fde8e8; border: 1px solid #e0a0a0; color: #7a1010; }
)CSS";

// The CSP forbids every fetch, so an injected element could not load
// anything even if escaping were ever wrong; inline script and style are the
// only things the page needs.
constexpr std::string_view kHead = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>pareto profile</title>
<style>)HTML";

constexpr std::string_view kBody = R"HTML(</style>
</head>
<body data-errors="0">
<main>
<div id="errors" class="card errors" hidden></div>
<section id="summary" class="card"></section>
<section class="card">
<h2>Roofline</h2>
<figure>
<svg id="roofline" role="img" aria-label="Roofline: arithmetic intensity against achieved throughput per op"></svg>
<figcaption>Each circle is one op (area grows with its time). Horizontal lines are the multiply-add peaks
measured on this machine per precision, the slope its measured read bandwidth; intensity is operations per byte moved at any
level of the memory hierarchy; log-log axes.</figcaption>
</figure>
</section>
<section class="card">
<h2>Op timeline</h2>
<figure>
<svg id="waterfall" role="img" aria-label="Per-op timeline with estimated energy share"></svg>
<figcaption id="waterfall-caption">Each row is one op in execution order: the bar starts at the op's
cumulative start time and is as long as its time; the thin bar on the right is its share of the
<span class="est">estimated</span> energy.</figcaption>
</figure>
</section>
<section class="card">
<h2>Arena memory over time</h2>
<figure>
<svg id="arena" role="img" aria-label="Live arena memory per op"></svg>
<figcaption>Bytes of the activation arena live while each op runs, in execution order.</figcaption>
</figure>
</section>
<section class="card">
<h2>Top 30 ops by time</h2>
<table id="top-ops">
<thead><tr><th class="num">#</th><th class="num">index</th><th>name</th><th>op</th><th>precision</th>
<th class="num">ms</th><th class="num">% time</th><th class="num">GOP/s</th><th class="num">ops/byte</th>
<th class="num">energy &micro;J (estimated)</th><th class="num">arena live MiB</th></tr></thead>
<tbody></tbody>
</table>
</section>
</main>
<script type="application/json" id="profile-data">)HTML";

constexpr std::string_view kScriptOpen = "</script>\n<script>";
constexpr std::string_view kTail = "</script>\n</body>\n</html>\n";

// Inside <script> the HTML parser ends the element at any "</script" and
// switches to an escaped mode after "<!--"; names from a model file can hold
// either. Both rewrites stay valid JSON: "\/" is a JSON escape, and '<' can
// only occur inside strings, where "\u003c" means the same character.
std::string script_safe_json(const nlohmann::json& report) {
  // ASCII output and replaced invalid UTF-8: a name with bad bytes must not
  // make dump() throw and lose the whole report.
  const std::string raw = report.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(raw.size() + raw.size() / 16);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '<' && i + 1 < raw.size() && raw[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else if (raw.compare(i, 4, "<!--") == 0) {
      out += "\\u003c!--";
      i += 3;
    } else {
      out += raw[i];
    }
  }
  return out;
}

}  // namespace

std::string render_profile_html(const nlohmann::json& report) {
  const std::string data = script_safe_json(report);
  std::string html;
  html.reserve(kHead.size() + kCss.size() + kBody.size() + data.size() + kReportJs.size() + 64);
  html += kHead;
  html += kCss;
  html += kBody;
  html += data;
  html += kScriptOpen;
  html += kReportJs;
  html += kTail;
  return html;
}

}  // namespace pareto::profile
