// The VAD set's boundary error (include/pareto/vad.hpp): pareto tune's task
// metric for silero VAD, and a way to hold any VAD model up to labelled audio.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "apps/labelled_set.h"
#include "pareto/guarded.hpp"
#include "pareto/vad.hpp"

namespace pareto::vad {

namespace {

std::vector<Segment> segments_of(const nlohmann::json& j, const std::string& where) {
  if (!j.is_array()) fail_model(where + ": segments must be an array of [start, end]");
  std::vector<Segment> out;
  for (const auto& s : j) {
    if (!s.is_array() || s.size() != 2 || !s[0].is_number() || !s[1].is_number())
      fail_model(where + ": a segment is not [start, end] in seconds");
    const double a = s[0].get<double>(), b = s[1].get<double>();
    if (!std::isfinite(a) || !std::isfinite(b) || a < 0 || b < a || (!out.empty() && a < out.back().end))
      fail_model(where + ": segments must be finite, start <= end, in order and apart");
    out.push_back({a, b});
  }
  return out;
}

}  // namespace

void score_segments(const std::vector<Segment>& truth, const std::vector<Segment>& found, SetScore& score) {
  std::vector<bool> used(found.size(), false);
  for (const Segment& t : truth) {
    ++score.segments;
    size_t k = 0;
    while (k < found.size() && (used[k] || found[k].end <= t.start || found[k].start >= t.end)) ++k;
    if (k == found.size()) {
      ++score.missed;
      score.total_error_ms += kUnmatchedSegmentMs;
      continue;
    }
    used[k] = true;
    ++score.matched;
    // A match costs no more than a miss: a detected segment spanning minutes is not worse than none.
    score.total_error_ms += std::min(kUnmatchedSegmentMs, 1e3 * (std::fabs(found[k].start - t.start) + std::fabs(found[k].end - t.end)));
  }
  for (bool u : used)
    if (!u) {
      ++score.extra;
      score.total_error_ms += kUnmatchedSegmentMs;
    }
}

pareto::Result<SetScore> score_set(Detector& detector, const std::string& set_dir) {
  return api::guarded([&] {
    const std::string truth_path = set_dir + "/truth.json";
    const nlohmann::json truth = apps::read_truth(set_dir);
    if (!truth.is_array() || truth.empty()) fail_model(truth_path + ": expected a non-empty array of {file, segments}");
    SetScore score;
    for (size_t i = 0; i < truth.size(); ++i) {
      const nlohmann::json& t = truth[i];
      const std::string where = truth_path + ": entry " + std::to_string(i);
      if (!t.is_object() || !t.contains("file") || !t["file"].is_string() || !t.contains("segments")) fail_model(where + " is not {file, segments}");
      const std::string file = t["file"].get<std::string>();
      const std::string path = apps::file_in_set(set_dir, file, where);
      const std::vector<Segment> want = segments_of(t["segments"], where);
      detector.reset();
      auto r = detector.run_file(path);
      if (!r.ok()) fail(r.status().code, r.status().message);
      ++score.files;
      score_segments(want, r.value().segments, score);
    }
    // Boundaries are what is scored: a set of speechless recordings has none to hold detections against.
    if (score.segments == 0) fail_model(truth_path + ": no true segment in the set (the error is per true boundary)");
    return score;
  });
}

}  // namespace pareto::vad
