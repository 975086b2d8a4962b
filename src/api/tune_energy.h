// Energy per timed point of pareto tune (ONNX and GGUF): the profiler's
// estimate always, and the powercap (RAPL) reading the same profile took
// when the counters are readable. The front and the budgets use one kind
// for all points: measured when every point has a reading, else estimated
// (a mix of the two would compare unlike numbers).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pareto::api {

struct PointEnergy {
  double estimated_mj = 0, measured_mj = -1;  // -1: no reading
  std::string note;                           // the profile's powercap note (what was read, or why not)
};

// `estimated_mj` is the report's estimate for the unit the tune counts; the
// reading is the report's summary.measured_energy_mj (per the same unit).
inline PointEnergy energy_of_profile(const nlohmann::json& report, double estimated_mj) {
  PointEnergy e;
  e.estimated_mj = estimated_mj;
  const nlohmann::json& s = report.at("summary");
  if (s.contains("measured_energy_mj") && s["measured_energy_mj"].is_number()) e.measured_mj = s["measured_energy_mj"].get<double>();
  if (s.contains("measured_energy_note") && s["measured_energy_note"].is_string()) e.note = s["measured_energy_note"].get<std::string>();
  return e;
}

// Sets every point's energy_mj (and its two parts) and says which kind it is.
template <class Point>
void settle_energy(std::vector<Point>& points, const std::vector<PointEnergy>& energy, std::string& source) {
  bool all_measured = !energy.empty();
  for (const PointEnergy& e : energy) all_measured &= e.measured_mj >= 0;
  for (size_t i = 0; i < points.size() && i < energy.size(); ++i) {
    points[i].energy_estimated_mj = energy[i].estimated_mj;
    points[i].energy_measured_mj = energy[i].measured_mj;
    points[i].energy_mj = all_measured ? energy[i].measured_mj : energy[i].estimated_mj;
  }
  const std::string note = energy.empty() ? std::string("no point profiled") : energy.front().note;
  source = all_measured ? "measured (" + note + ")" : "estimated (the profiler's device model; " + (note.empty() ? std::string("no reading") : note) + ")";
}

}  // namespace pareto::api
