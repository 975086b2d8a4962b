#include "profile/powercap.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <utility>

namespace pareto::profile {

namespace {

// Reads a small sysfs file whole. POSIX open/read rather than iostreams so
// the error says why (EACCES for the root-only energy_uj, EISDIR, ENOENT).
bool read_small_file(const std::string& path, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    if (errno == EACCES || errno == EPERM) error += " (energy_uj is readable by root only since Linux 5.10)";
    return false;
  }
  out.clear();
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > 4096) {  // sysfs values are one short line; anything longer is not one
      error = path + " is not a single value";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A whole file that is one unsigned decimal number (sysfs ends it with '\n').
bool read_u64(const std::string& path, uint64_t& value, std::string& error) {
  std::string text;
  if (!read_small_file(path, text, error)) return false;
  const std::string t = trim(text);
  if (t.empty()) {
    error = path + " is empty";
    return false;
  }
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc() || end != t.data() + t.size()) {
    error = path + " does not hold an unsigned number: '" + t.substr(0, 40) + "'";
    return false;
  }
  return true;
}

// "intel-rapl:N" with N all digits: a top-level zone. Rejected on purpose:
// - subzones "intel-rapl:N:M" (core, uncore, dram): core and uncore are
//   parts of their package and would be counted twice; dram is outside the
//   package and is left out, so "measured" means the processor packages;
// - "intel-rapl-mmio:N": a second interface to the same package counter on
//   Intel client parts, which would count the package twice.
// AMD needs no other prefix: the kernel's RAPL driver serves AMD Zen
// (family 17h onwards) under the same "intel-rapl" control type and names.
std::optional<unsigned> package_index(const std::string& entry) {
  static const std::string prefix = "intel-rapl:";
  if (entry.size() <= prefix.size() || entry.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  unsigned index = 0;
  const char* first = entry.data() + prefix.size();
  const char* last = entry.data() + entry.size();
  const auto [end, ec] = std::from_chars(first, last, index);
  if (ec != std::errc() || end != last) return std::nullopt;
  return index;
}

}  // namespace

std::optional<uint64_t> energy_delta_uj(uint64_t before, uint64_t after, uint64_t max_range_uj) {
  if (before > max_range_uj || after > max_range_uj) return std::nullopt;
  if (after >= before) return after - before;
  // The counter went past max_range_uj and restarted at 0. We assume it did
  // so once: a second wrap between two reads is invisible, so the reads must
  // be closer than max_range / power (2^32 uJ ~ 4295 J, ~43 s at 100 W; newer
  // parts report 262143328850 uJ, minutes). The true wrap point is one
  // counter unit above max_range_uj; the error is that unit (~15-61 uJ).
  return (max_range_uj - before) + after;
}

Powercap Powercap::discover(const std::string& root) {
  Powercap p;
  std::error_code ec;
  std::filesystem::directory_iterator it(root, ec), end;
  if (ec) {
    p.why_unavailable_ = "no powercap interface at " + root + " (" + ec.message() +
                         "): no RAPL driver, or a virtual machine that does not expose it";
    return p;
  }
  std::vector<std::pair<unsigned, std::string>> found;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string entry = it->path().filename().string();
    if (auto index = package_index(entry)) found.emplace_back(*index, entry);
  }
  if (ec) {
    p.why_unavailable_ = "cannot list " + root + ": " + ec.message();
    return p;
  }
  std::sort(found.begin(), found.end());  // package order, not readdir order

  std::vector<PowercapZone> zones;
  for (const auto& [index, entry] : found) {
    PowercapZone z;
    z.dir = root + "/" + entry;
    std::string name, error;
    if (!read_small_file(z.dir + "/name", name, error)) {
      p.why_unavailable_ = error;
      return p;
    }
    z.name = trim(name);
    // "psys" (platform) is also a top-level zone on many laptops, and it
    // contains the package: summing both would count the package twice.
    if (z.name.compare(0, 7, "package") != 0) continue;
    if (!read_u64(z.dir + "/max_energy_range_uj", z.max_range_uj, error)) {
      p.why_unavailable_ = error;
      return p;
    }
    if (z.max_range_uj == 0) {
      p.why_unavailable_ = z.dir + "/max_energy_range_uj is 0";
      return p;
    }
    uint64_t now = 0;
    if (!read_u64(z.dir + "/energy_uj", now, error)) {
      p.why_unavailable_ = error;
      return p;
    }
    if (now > z.max_range_uj) {
      p.why_unavailable_ = z.dir + "/energy_uj (" + std::to_string(now) + ") exceeds max_energy_range_uj (" +
                           std::to_string(z.max_range_uj) + ")";
      return p;
    }
    zones.push_back(std::move(z));
  }
  if (zones.empty()) {
    p.why_unavailable_ = "no package zones (intel-rapl:N named package-*) under " + root;
    return p;
  }
  p.zones_ = std::move(zones);
  p.why_unavailable_.clear();
  return p;
}

EnergySample Powercap::read() const {
  EnergySample s;
  s.uj.assign(zones_.size(), 0);
  if (!available()) {
    s.error = why_unavailable_;
    return s;
  }
  for (size_t i = 0; i < zones_.size(); ++i) {
    std::string error;
    uint64_t v = 0;
    if (!read_u64(zones_[i].dir + "/energy_uj", v, error)) {
      if (s.error.empty()) s.error = error;  // the first failure; keep reading the rest
      continue;
    }
    if (v > zones_[i].max_range_uj) {
      if (s.error.empty()) s.error = zones_[i].dir + "/energy_uj exceeds max_energy_range_uj";
      continue;
    }
    s.uj[i] = v;
  }
  return s;
}

std::optional<double> Powercap::joules_between(const EnergySample& before, const EnergySample& after) const {
  if (!available() || !before.ok() || !after.ok()) return std::nullopt;
  if (before.uj.size() != zones_.size() || after.uj.size() != zones_.size()) return std::nullopt;
  double total_uj = 0;
  for (size_t i = 0; i < zones_.size(); ++i) {
    const auto d = energy_delta_uj(before.uj[i], after.uj[i], zones_[i].max_range_uj);
    if (!d) return std::nullopt;
    total_uj += double(*d);
  }
  return total_uj * 1e-6;
}

std::string Powercap::describe() const {
  if (!available()) return "unavailable: " + why_unavailable_;
  std::string s;
  for (const PowercapZone& z : zones_) {
    if (!s.empty()) s += " + ";
    s += z.name + " (" + std::filesystem::path(z.dir).filename().string() + ")";
  }
  return s + ", powercap";
}

std::optional<double> EnergyMeter::stop() {
  error_.clear();
  if (!powercap_.available()) {
    error_ = powercap_.why_unavailable();
    return std::nullopt;
  }
  if (!start_) {
    error_ = "EnergyMeter::stop() without start()";
    return std::nullopt;
  }
  const EnergySample after = powercap_.read();
  const EnergySample before = std::move(*start_);
  start_.reset();
  if (!before.ok() || !after.ok()) {
    error_ = before.ok() ? after.error : before.error;
    return std::nullopt;
  }
  auto j = powercap_.joules_between(before, after);
  if (!j) error_ = "an energy counter exceeded its range";
  return j;
}

}  // namespace pareto::profile
