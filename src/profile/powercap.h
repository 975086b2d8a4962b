// Measured energy from the Linux powercap interface (RAPL on Intel and AMD).
// Nothing here throws: a machine without readable counters (most VMs, and
// every non-root user since Linux 5.10) gets available() == false and a
// reason, and the profiler falls back to its estimate.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pareto::profile {

// One top-level package zone, e.g. /sys/class/powercap/intel-rapl:0.
struct PowercapZone {
  std::string dir;            // the zone's folder
  std::string name;           // its "name" file: package-0, package-1, ...
  uint64_t max_range_uj = 0;  // the counter wraps to 0 after this value
};

// One reading of every zone's energy_uj, in the order of Powercap::zones().
// A zone that could not be read holds 0 and `error` says which file failed;
// joules_between() refuses samples with an error.
struct EnergySample {
  std::vector<uint64_t> uj;
  std::string error;
  bool ok() const { return error.empty(); }
};

class Powercap {
 public:
  // Finds the package zones under `root` and reads each once. Any problem
  // (no zones, a file that cannot be read, a value that does not parse or
  // exceeds its range) makes the whole set unavailable: a sum over only some
  // packages would under-report without saying so.
  static Powercap discover(const std::string& root = "/sys/class/powercap");

  bool available() const { return why_unavailable_.empty(); }
  const std::string& why_unavailable() const { return why_unavailable_; }
  const std::vector<PowercapZone>& zones() const { return zones_; }

  // Reads energy_uj of every zone. Never throws; a failure is in the sample.
  EnergySample read() const;

  // Joules used between two samples, summed over zones, allowing one wrap
  // per zone. nullopt when either sample has an error, the samples do not
  // match the zones, or a value exceeds its zone's range.
  std::optional<double> joules_between(const EnergySample& before, const EnergySample& after) const;

  // "package-0 + package-1 (powercap)" or "unavailable: <reason>".
  std::string describe() const;

 private:
  std::vector<PowercapZone> zones_;
  std::string why_unavailable_ = "not discovered";
};

// Energy delta of one zone's counter, assuming at most one wrap between
// `before` and `after` (see powercap.cpp). nullopt when a value exceeds
// `max_range_uj`. Exposed for tests.
std::optional<uint64_t> energy_delta_uj(uint64_t before, uint64_t after, uint64_t max_range_uj);

// Measures one stretch of work: start(), run, stop(). Holds a copy of the
// zones, so the Powercap it came from may go away.
class EnergyMeter {
 public:
  explicit EnergyMeter(Powercap powercap) : powercap_(std::move(powercap)) {}
  void start() { start_ = powercap_.read(); }
  // Joules since start(); nullopt (and error() says why) when unavailable,
  // not started, or a read failed.
  std::optional<double> stop();
  const std::string& error() const { return error_; }

 private:
  Powercap powercap_;
  std::optional<EnergySample> start_;
  std::string error_;
};

}  // namespace pareto::profile
