// The plain-text form of a profile report (pareto profile without --json).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "profile/analysis.h"

namespace pareto::profile {

namespace {

double num(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

// A member that may be missing (the report may come from a user's file):
// const operator[] on a missing key is undefined behaviour in nlohmann.
const nlohmann::json& at(const nlohmann::json& j, const char* key) {
  static const nlohmann::json empty = nlohmann::json::object();
  return j.is_object() && j.contains(key) ? j[key] : empty;
}

std::string str(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = at(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// Names come from model files: control characters (terminal escapes) are shown as '?'.
std::string printable(std::string s) {
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  return s;
}

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

// 1234567 -> "1.23M": counts and bytes of very different sizes side by side.
std::string si(double v) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int u = 0;
  while (std::fabs(v) >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", v, units[u]);
  return buf;
}

std::string pass_lines(const nlohmann::json& p) {
  std::string s;
  const nlohmann::json &b = at(p, "bytes"), &lv = at(p, "bytes_by_level"), &e = at(p, "energy_mj");
  s += "  " + printable(str(p, "name")) + " (per " + printable(str(p, "per")) + "): " + fmt("%.3f ms", num(p, "latency_ms"));
  std::string ops;
  for (auto& [k, v] : at(p, "ops").items())
    if (v.is_number() && v.get<double>() > 0) ops += " " + printable(k) + " " + si(v.get<double>());
  s += " | ops" + ops + "\n";
  s += "    bytes: weights " + si(num(b, "weights")) + "B, state " + si(num(b, "state")) + "B, activations read " +
       si(num(b, "activations_read")) + "B, written " + si(num(b, "activations_written")) + "B\n";
  s += "    from (estimated): L1 " + si(num(lv, "l1")) + "B, L2 " + si(num(lv, "l2")) + "B, LLC " + si(num(lv, "llc")) + "B, DRAM " +
       si(num(lv, "dram")) + "B; DRAM time floor " + fmt("%.3f ms", num(p, "time_floor_ms")) + "\n";
  s += "    energy (estimated): " + fmt("%.4f mJ", num(e, "total")) + " = compute " + fmt("%.4f", num(e, "compute")) + " + memory " +
       fmt("%.4f", num(e, "memory")) + " + static " + fmt("%.4f", num(e, "static")) + "\n";
  return s;
}

}  // namespace

std::string report_text(const nlohmann::json& r, size_t top) {
  std::string s;
  const nlohmann::json& m = at(r, "machine");
  const nlohmann::json& caches = at(m, "caches");
  s += "profile of " + printable(str(r, "model")) + " (" + printable(str(r, "kind")) + ")\n";
  s += "machine: " + printable(str(m, "cpu")) + ", " + fmt("%.0f", num(m, "threads")) + " thread(s); caches L1d " + si(num(caches, "l1d")) +
       "B, L2 " + si(num(caches, "l2")) + "B, LLC " + si(num(caches, "llc")) + "B (" + printable(str(caches, "source")) + ")";
  std::string peaks;
  for (auto& [k, v] : at(m, "peaks_gops").items())
    if (v.is_number()) peaks += " " + printable(k) + " " + fmt("%.0f", v.get<double>());
  s += "\nceilings (measured, one thread x threads): GOP/s" + (peaks.empty() ? std::string(" (not measured)") : peaks) + ", read bandwidth " +
       fmt("%.1f GB/s", num(m, "bandwidth_gbs")) + "\n";
  s += "energy model: device profile '" + printable(str(at(r, "device"), "name")) + "' (estimated; docs/ENERGY.md)\n";
  const nlohmann::json& phases = at(r, "phases");
  if (phases.is_array())
    for (const auto& p : phases) s += pass_lines(p);
  const nlohmann::json& sum = at(r, "summary");
  s += "  peak RSS " + fmt("%.1f MiB", num(sum, "peak_rss_bytes") / 1048576) + ", arena " + fmt("%.1f MiB", num(sum, "arena_bytes") / 1048576);
  if (at(sum, "measured_energy_mj").is_number())
    s += "; measured energy " + fmt("%.4f mJ", num(sum, "measured_energy_mj")) + " (" + fmt("%.2fx", num(sum, "measured_over_estimated")) +
         " the estimate)";
  else
    s += "; measured energy: none (" + printable(str(sum, "measured_energy_note")) + ")";
  s += "\n\n";
  std::vector<const nlohmann::json*> ops;
  const nlohmann::json& all = at(r, "ops");
  if (all.is_array())
    for (const auto& o : all)
      if (o.is_object()) ops.push_back(&o);
  std::stable_sort(ops.begin(), ops.end(), [](auto* a, auto* b) { return num(*a, "ms") > num(*b, "ms"); });
  char line[512];
  std::snprintf(line, sizeof line, "%-34s %-18s %-6s %9s %9s %9s %9s %7s %8s %9s\n", "op (by time)", "type", "prec", "ms", "ops",
                "bytes", "DRAM B", "op/B", "GOP/s", "uJ (est)");
  s += line;
  for (size_t i = 0; i < ops.size() && i < top; ++i) {
    const nlohmann::json& o = *ops[i];
    const nlohmann::json& lv = at(o, "levels");
    const double bytes = num(lv, "l1") + num(lv, "l2") + num(lv, "llc") + num(lv, "dram");
    std::string name = printable(str(o, "name"));
    if (name.size() > 34) name = name.substr(0, 31) + "...";
    std::snprintf(line, sizeof line, "%-34s %-18s %-6s %9.3f %9s %9s %9s %7.2f %8.1f %9.2f\n", name.c_str(), printable(str(o, "op")).c_str(),
                  printable(str(o, "precision")).c_str(), num(o, "ms"), si(num(o, "ops")).c_str(), si(bytes).c_str(),
                  si(num(lv, "dram")).c_str(), num(o, "intensity"), num(o, "gops_per_s"), num(at(o, "energy_uj"), "total"));
    s += line;
  }
  if (ops.size() > top) s += "(" + std::to_string(ops.size() - top) + " more ops; --json has them all)\n";
  return s;
}

}  // namespace pareto::profile
