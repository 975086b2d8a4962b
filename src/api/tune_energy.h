// Energy per timed point of pareto tune (ONNX and GGUF): the profiler's
// estimate always, and the powercap (RAPL) reading the same profile took
// when the counters are readable. The front and the budgets use one kind
// for all points: measured when every point has a reading, else estimated
// (a mix of the two would compare unlike numbers).
#pragma once
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace pareto::api {

struct PointEnergy {
  double estimated_mj = 0, measured_mj = -1;  // -1: no reading
  std::string note;                           // the profile's powercap note (what was read, or why not)
};

// RAPL counters advance about once a millisecond: a reading over less than
// this is a few counter steps (or none) and is not taken as a measurement.
inline constexpr double kMinMeteredSeconds = 0.05;

// `estimated_mj` is the report's estimate for the unit the tune counts; the
// reading is the report's summary.measured_energy_mj (per the same unit),
// when the meter ran at least kMinMeteredSeconds and the counter moved.
inline PointEnergy energy_of_profile(const nlohmann::json& report, double estimated_mj) {
  PointEnergy e;
  e.estimated_mj = estimated_mj;
  const nlohmann::json& s = report.at("summary");
  if (s.contains("measured_energy_note") && s["measured_energy_note"].is_string()) e.note = s["measured_energy_note"].get<std::string>();
  if (!s.contains("measured_energy_mj") || !s["measured_energy_mj"].is_number()) return e;
  const double seconds = s.value("measured_seconds", 0.0), mj = s["measured_energy_mj"].get<double>();
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f ms", seconds * 1e3);
  if (seconds < kMinMeteredSeconds) {
    e.note = "powercap read over " + std::string(ms) + " only (under " + std::to_string(int(kMinMeteredSeconds * 1e3)) + " ms: not a measurement)";
    return e;
  }
  // A package that ran for this long drew power: a counter that did not move is not being updated.
  if (!(mj > 0)) {
    e.note = "powercap read 0 J over " + std::string(ms) + " (the counter did not advance: not a measurement)";
    return e;
  }
  e.measured_mj = mj;
  return e;
}

// Sets every point's energy_mj (and its two parts) and says which kind it is.
template <class Point>
void settle_energy(std::vector<Point>& points, const std::vector<PointEnergy>& energy, std::string& source) {
  if (points.size() != energy.size()) fail(StatusCode::internal, "tune: an energy figure per timed point expected");
  const PointEnergy* unmeasured = nullptr;  // the first point without a reading says why
  for (const PointEnergy& e : energy)
    if (e.measured_mj < 0 && !unmeasured) unmeasured = &e;
  const bool all_measured = !energy.empty() && !unmeasured;
  for (size_t i = 0; i < points.size(); ++i) {
    points[i].energy_estimated_mj = energy[i].estimated_mj;
    points[i].energy_measured_mj = energy[i].measured_mj;
    points[i].energy_mj = all_measured ? energy[i].measured_mj : energy[i].estimated_mj;
  }
  if (all_measured) source = "measured (" + energy.front().note + ")";
  else source = "estimated (the profiler's device model; " + (!unmeasured || unmeasured->note.empty() ? std::string("no reading") : unmeasured->note) + ")";
}

}  // namespace pareto::api
