// From timed, counted ops to a profile: where each op's bytes come from in
// the cache hierarchy (by reuse distance), its roofline position and its
// estimated energy, with totals. docs/PROFILE.md and docs/ENERGY.md explain
// the model.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "profile/cost.h"
#include "profile/device_profile.h"
#include "profile/machine.h"

namespace pareto::profile {

struct LevelBytes {
  double l1 = 0, l2 = 0, llc = 0, dram = 0;
  double total() const { return l1 + l2 + llc + dram; }
};

struct Energy {  // microjoules
  double compute = 0, memory = 0, static_ = 0;
  double total() const { return compute + memory + static_; }
};

struct OpAnalysis {
  LevelBytes levels;
  Energy energy;
};

// Assigns every access of `ops` (one pass: an inference, or one decoded
// token) to the smallest cache level that holds all bytes touched since the
// same memory was last touched. Memory first touched in the pass (weights,
// state such as a KV cache) is taken as touched once per pass, so its
// distance is the pass's whole traffic: the steady state of repeated runs.
std::vector<LevelBytes> assign_levels(const std::vector<OpRecord>& ops, const MachineInfo& m);

Energy estimate_energy(const OpRecord& op, const LevelBytes& levels, const DeviceProfile& d, int threads);

// Everything the report says about one pass.
struct PassProfile {
  std::string name;  // "inference", "prefill", "decode"
  std::string per;   // what totals are per: "inference" or "token"
  double units = 1;  // tokens in the pass (totals are divided by it)
  double wall_seconds = 0;
  std::vector<OpRecord> ops;
};

struct ReportInput {
  std::string model, kind;  // kind: onnx or llm
  MachineInfo machine;
  DeviceProfile device;
  std::vector<PassProfile> passes;  // the first is the one the ops table shows
  uint64_t peak_rss_bytes = 0, arena_bytes = 0;
  std::optional<double> measured_energy_j;  // around the timed passes, when the device has counters
  std::string measured_energy_note;
  double measured_seconds = 0;  // the time the measured energy covers
  double measured_units = 1;    // how many of the first pass's units (inferences, decoded tokens) it covers
};

// The report as JSON (the schema of docs/PROFILE.md); deterministic for the
// same counts: only times and what derives from them change between runs.
nlohmann::json build_report(const ReportInput& in);

// A plain-text table: summary, then the ops by time (at most `top` rows).
std::string report_text(const nlohmann::json& report, size_t top = 25);

}  // namespace pareto::profile
