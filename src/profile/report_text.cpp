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
  const nlohmann::json &b = p["bytes"], &lv = p["bytes_by_level"], &e = p["energy_mj"];
  s += "  " + p.value("name", std::string()) + " (per " + p.value("per", std::string()) + "): " + fmt("%.3f ms", num(p, "latency_ms"));
  std::string ops;
  for (auto& [k, v] : p["ops"].items())
    if (v.get<double>() > 0) ops += " " + k + " " + si(v.get<double>());
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
  const nlohmann::json& m = r["machine"];
  s += "profile of " + r.value("model", std::string()) + " (" + r.value("kind", std::string()) + ")\n";
  s += "machine: " + m.value("cpu", std::string()) + ", " + std::to_string(m.value("threads", 1)) + " thread(s); caches L1d " +
       si(num(m["caches"], "l1d")) + "B, L2 " + si(num(m["caches"], "l2")) + "B, LLC " + si(num(m["caches"], "llc")) + "B (" +
       m["caches"].value("source", std::string("?")) + ")";
  std::string peaks;
  for (auto& [k, v] : m["peaks_gops"].items()) peaks += " " + k + " " + fmt("%.0f", v.get<double>());
  s += "\nceilings (measured): GOP/s" + (peaks.empty() ? std::string(" (not measured)") : peaks) + ", read bandwidth " +
       fmt("%.1f GB/s", num(m, "bandwidth_gbs")) + "\n";
  s += "energy model: device profile '" + r["device"].value("name", std::string()) + "' (estimated; docs/ENERGY.md)\n";
  for (const auto& p : r["phases"]) s += pass_lines(p);
  const nlohmann::json& sum = r["summary"];
  s += "  peak RSS " + fmt("%.1f MiB", num(sum, "peak_rss_bytes") / 1048576) + ", arena " + fmt("%.1f MiB", num(sum, "arena_bytes") / 1048576);
  if (sum.contains("measured_energy_mj") && sum["measured_energy_mj"].is_number())
    s += "; measured energy " + fmt("%.4f mJ", num(sum, "measured_energy_mj")) + " (" + fmt("%.2fx", num(sum, "measured_over_estimated")) +
         " the estimate)";
  else
    s += "; measured energy: none (" + sum.value("measured_energy_note", std::string("no counters")) + ")";
  s += "\n\n";
  std::vector<const nlohmann::json*> ops;
  for (const auto& o : r["ops"]) ops.push_back(&o);
  std::stable_sort(ops.begin(), ops.end(), [](auto* a, auto* b) { return num(*a, "ms") > num(*b, "ms"); });
  char line[512];
  std::snprintf(line, sizeof line, "%-34s %-18s %-6s %9s %9s %9s %9s %7s %8s %9s\n", "op (by time)", "type", "prec", "ms", "ops",
                "bytes", "DRAM B", "op/B", "GOP/s", "uJ (est)");
  s += line;
  for (size_t i = 0; i < ops.size() && i < top; ++i) {
    const nlohmann::json& o = *ops[i];
    const nlohmann::json& lv = o["levels"];
    const double bytes = num(lv, "l1") + num(lv, "l2") + num(lv, "llc") + num(lv, "dram");
    std::string name = o.value("name", std::string());
    if (name.size() > 34) name = name.substr(0, 31) + "...";
    std::snprintf(line, sizeof line, "%-34s %-18s %-6s %9.3f %9s %9s %9s %7.2f %8.1f %9.2f\n", name.c_str(), o.value("op", std::string()).c_str(),
                  o.value("precision", std::string()).c_str(), num(o, "ms"), si(num(o, "ops")).c_str(), si(bytes).c_str(),
                  si(num(lv, "dram")).c_str(), num(o, "intensity"), num(o, "gops_per_s"), num(o["energy_uj"], "total"));
    s += line;
  }
  if (ops.size() > top) s += "(" + std::to_string(ops.size() - top) + " more ops; --json has them all)\n";
  return s;
}

}  // namespace pareto::profile
