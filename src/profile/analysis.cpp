#include "profile/analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>

namespace pareto::profile {

std::vector<LevelBytes> assign_levels(const std::vector<OpRecord>& ops, const MachineInfo& m) {
  // Private levels grow with the threads that share the work; the LLC is shared.
  const double t = std::max(1, m.threads);
  const double l1 = double(m.l1d) * t, l2 = double(m.l2) * t, llc = double(m.llc);
  double pass_bytes = 0;
  for (const OpRecord& op : ops)
    for (const Access& a : op.cost.accesses) pass_bytes += double(a.bytes);
  std::unordered_map<uintptr_t, double> last_touch;  // running byte count when last touched
  double clock = 0;
  std::vector<LevelBytes> out(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    for (const Access& a : ops[i].cost.accesses) {
      const double bytes = double(a.bytes);
      double distance;
      auto it = last_touch.find(a.id);
      if (it != last_touch.end()) distance = clock - it->second + bytes;
      else if (a.kind != AccessKind::activation) distance = pass_bytes;  // touched once per pass
      else if (a.write) distance = bytes;                                 // a fresh buffer: as large as it is
      else distance = clock + bytes;                                      // a pass input, written before the pass
      LevelBytes& lv = out[i];
      if (l1 > 0 && distance <= l1) lv.l1 += bytes;
      else if (l2 > 0 && distance <= l2) lv.l2 += bytes;
      else if (llc > 0 && distance <= llc) lv.llc += bytes;
      else lv.dram += bytes;
      clock += bytes;
      last_touch[a.id] = clock;
    }
  }
  return out;
}

namespace {

double coefficient(const std::map<std::string, double>& table, const std::string& key, const std::string& fallback) {
  auto it = table.find(key);
  if (it == table.end()) it = table.find(fallback);
  return it == table.end() ? 0 : it->second;
}

double finite(double v) { return std::isfinite(v) ? v : 0; }

}  // namespace

Energy estimate_energy(const OpRecord& op, const LevelBytes& lv, const DeviceProfile& d, int threads) {
  Energy e;
  const double pj_mac = coefficient(d.pj_per_mac, op.cost.precision, "fp32");
  e.compute = (double(op.cost.macs) * pj_mac + double(op.cost.elementwise) * d.pj_per_elementwise_op) * 1e-6;
  e.memory = (lv.l1 * coefficient(d.pj_per_byte, "l1", "l1") + lv.l2 * coefficient(d.pj_per_byte, "l2", "l2") +
              lv.llc * coefficient(d.pj_per_byte, "llc", "llc") + lv.dram * coefficient(d.pj_per_byte, "dram", "dram")) *
             1e-6;
  e.static_ = d.static_watts * std::max(1, threads) * op.seconds * 1e6;
  return e;
}

namespace {

nlohmann::json levels_json(const LevelBytes& l) { return {{"l1", l.l1}, {"l2", l.l2}, {"llc", l.llc}, {"dram", l.dram}}; }

// Totals of one pass, per unit (inference or token).
nlohmann::json pass_json(const PassProfile& p, const std::vector<LevelBytes>& levels, const std::vector<Energy>& energy,
                         const ReportInput& in) {
  const double u = std::max(1.0, p.units);
  std::map<std::string, double> ops_by_precision;
  double weights = 0, state = 0, act_read = 0, act_written = 0;
  LevelBytes lv;
  Energy e;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const OpCost& c = p.ops[i].cost;
    ops_by_precision[c.precision] += 2.0 * double(c.macs);
    ops_by_precision["elementwise"] += double(c.elementwise);
    weights += double(c.bytes(AccessKind::weight, false));
    state += double(c.bytes(AccessKind::state, false) + c.bytes(AccessKind::state, true));
    act_read += double(c.bytes(AccessKind::activation, false));
    act_written += double(c.bytes(AccessKind::activation, true));
    lv.l1 += levels[i].l1, lv.l2 += levels[i].l2, lv.llc += levels[i].llc, lv.dram += levels[i].dram;
    e.compute += energy[i].compute, e.memory += energy[i].memory;
  }
  // Static power runs for the whole pass, gaps between ops included.
  e.static_ = in.device.static_watts * std::max(1, in.machine.threads) * p.wall_seconds * 1e6;
  nlohmann::json ops = nlohmann::json::object();
  for (auto& [k, v] : ops_by_precision) ops[k] = v / u;
  LevelBytes per{lv.l1 / u, lv.l2 / u, lv.llc / u, lv.dram / u};
  const double bw = in.machine.bandwidth_gbs;
  return {{"name", p.name},
          {"per", p.per},
          {"units", p.units},
          {"latency_ms", p.wall_seconds / u * 1e3},
          {"ops", ops},
          {"bytes", {{"weights", weights / u}, {"state", state / u}, {"activations_read", act_read / u}, {"activations_written", act_written / u}}},
          {"bytes_by_level", levels_json(per)},
          {"bytes_per_unit", per.total()},
          {"dram_bytes_per_unit", per.dram},
          {"time_floor_ms", bw > 0 ? per.dram / (bw * 1e9) * 1e3 : 0.0},
          {"energy_mj", {{"compute", e.compute / u * 1e-3}, {"memory", e.memory / u * 1e-3}, {"static", e.static_ / u * 1e-3},
                         {"total", e.total() / u * 1e-3}}}};
}

}  // namespace

nlohmann::json build_report(const ReportInput& in) {
  nlohmann::json r;
  r["model"] = in.model;
  r["kind"] = in.kind;
  r["estimated"] = true;
  r["device"] = {{"name", in.device.name}, {"description", in.device.description}, {"pj_per_mac", in.device.pj_per_mac},
                 {"pj_per_elementwise_op", in.device.pj_per_elementwise_op}, {"pj_per_byte", in.device.pj_per_byte},
                 {"static_watts", in.device.static_watts}, {"sources", in.device.sources}};
  const MachineInfo& m = in.machine;
  nlohmann::json peaks = nlohmann::json::object();
  for (const char* p : {"fp32", "bf16", "int8"})
    if (m.peak_gmacs.count(p) && m.peak_gmacs.at(p) > 0) peaks[p] = m.peak_gops(p);
  r["machine"] = {{"cpu", m.cpu}, {"threads", m.threads}, {"caches", {{"l1d", m.l1d}, {"l2", m.l2}, {"llc", m.llc}, {"source", m.cache_source}}},
                  {"peaks_gops", peaks}, {"bandwidth_gbs", m.bandwidth_gbs}, {"ceilings_measured", m.measured}};
  r["phases"] = nlohmann::json::array();
  r["ops"] = nlohmann::json::array();
  for (size_t pi = 0; pi < in.passes.size(); ++pi) {
    const PassProfile& p = in.passes[pi];
    const std::vector<LevelBytes> levels = assign_levels(p.ops, m);
    std::vector<Energy> energy;
    for (size_t i = 0; i < p.ops.size(); ++i) energy.push_back(estimate_energy(p.ops[i], levels[i], in.device, m.threads));
    nlohmann::json pass = pass_json(p, levels, energy, in);
    r["phases"].push_back(pass);
    if (pi != 0) continue;
    r["per"] = p.per;
    r["summary"] = pass;
    double start = 0;
    for (size_t i = 0; i < p.ops.size(); ++i) {
      const OpRecord& op = p.ops[i];
      const double bytes = levels[i].total(), ops = op.cost.ops();
      nlohmann::json j = {
          {"index", i}, {"name", op.name}, {"op", op.op}, {"depth", op.depth}, {"ms", op.seconds * 1e3}, {"start_ms", start * 1e3},
          {"precision", op.cost.precision}, {"macs", op.cost.macs}, {"elementwise", op.cost.elementwise}, {"ops", ops},
          {"bytes", {{"weights", op.cost.bytes(AccessKind::weight, false)},
                     {"state", op.cost.bytes(AccessKind::state, false) + op.cost.bytes(AccessKind::state, true)},
                     {"activations_read", op.cost.bytes(AccessKind::activation, false)},
                     {"activations_written", op.cost.bytes(AccessKind::activation, true)}}},
          {"levels", levels_json(levels[i])},
          {"intensity", bytes > 0 ? ops / bytes : 0.0},
          {"gops_per_s", op.seconds > 0 ? finite(ops / op.seconds * 1e-9) : 0.0},
          {"energy_uj", {{"compute", energy[i].compute}, {"memory", energy[i].memory}, {"static", energy[i].static_}, {"total", energy[i].total()}}},
          {"arena_live_bytes", op.live_bytes}};
      if (!op.kernel.empty()) j["kernel"] = op.kernel;  // the path the op took, where it names one
      start += op.seconds;
      r["ops"].push_back(std::move(j));
    }
  }
  if (!r.contains("summary")) r["summary"] = nlohmann::json::object();
  r["summary"]["peak_rss_bytes"] = in.peak_rss_bytes;
  r["summary"]["arena_bytes"] = in.arena_bytes;
  r["summary"]["measured_energy_mj"] = nullptr;
  if (in.measured_energy_j && !in.passes.empty()) {
    // The meter covered measured_units of the first pass's units.
    const double per_unit_j = *in.measured_energy_j / std::max(1.0, in.measured_units);
    r["summary"]["measured_energy_mj"] = per_unit_j * 1e3;
    const double est = r["summary"]["energy_mj"]["total"].get<double>();
    r["summary"]["measured_over_estimated"] = est > 0 ? per_unit_j * 1e3 / est : 0.0;
    r["summary"]["measured_seconds"] = in.measured_seconds;  // how long the meter ran: a short window reads a few counter steps
  }
  r["summary"]["measured_energy_note"] = in.measured_energy_note;
  return r;
}

}  // namespace pareto::profile
