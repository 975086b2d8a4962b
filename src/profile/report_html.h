// Turns a profile report (the JSON the profiler writes) into one HTML page
// that opens offline: the charts are drawn in the browser from the JSON
// embedded in the page, so the C++ side never formats numbers twice and the
// same JSON stays inspectable in the saved file.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace pareto::profile {

// A self-contained HTML5 document (inline CSS and JavaScript, no network).
// Any JSON value is accepted: missing or malformed fields render as "n/a"
// rather than failing, because reports come from partial or failed runs too.
// Strings in the report (node names from model files) are untrusted; they
// are escaped so they cannot end the embedding <script> element, and the
// page only ever inserts them as text.
std::string render_profile_html(const nlohmann::json& report);

}  // namespace pareto::profile
