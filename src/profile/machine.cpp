#include "profile/machine.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include <unistd.h>

#include "core/cpu.h"
#include "kernels/membw.h"
#include "kernels/peak_probe.h"

namespace pareto::profile {

double MachineInfo::peak_gops(const std::string& precision) const {
  std::string p = precision == "fp16" ? "fp32" : precision == "int4w" ? "int8" : precision;
  auto it = peak_gmacs.find(p);
  if (it == peak_gmacs.end() || it->second <= 0) it = peak_gmacs.find("fp32");
  return it == peak_gmacs.end() ? 0 : 2 * it->second * std::max(1, threads);
}

uint64_t parse_cache_size(const std::string& text) {
  size_t i = 0;
  uint64_t n = 0;
  constexpr uint64_t kMax = uint64_t(1) << 40;  // 1 TiB: no cache is larger
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    n = n * 10 + uint64_t(text[i++] - '0');
    if (n > kMax) return 0;
  }
  if (i == 0) return 0;
  const std::string unit = text.substr(i);
  int shift = 0;
  if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M" || unit == "m") shift = 20;
  else if (unit == "G" || unit == "g") shift = 30;
  else if (!unit.empty() && unit != "\n") return 0;
  return n > (kMax >> shift) ? 0 : n << shift;
}

namespace {

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

}  // namespace

MachineInfo probe_machine(int threads, bool measure, const std::string& sysfs_cpu) {
  MachineInfo m;
  m.cpu = cpu_features().brand;
  m.threads = std::max(1, threads);
  for (int i = 0; i < 8; ++i) {
    const std::string dir = sysfs_cpu + "/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level"), type = read_line(dir + "type");
    if (level.empty()) continue;
    const uint64_t size = parse_cache_size(read_line(dir + "size"));
    if (level == "1" && type == "Data") m.l1d = size;
    if (level == "2" && type != "Instruction") m.l2 = size;
    if ((level == "3" || level == "4") && type != "Instruction") m.llc = std::max(m.llc, size);
  }
  m.cache_source = "sysfs";
  if (!m.l1d && !m.l2 && !m.llc) {
    // No cache folder (some VMs): what the C library reads from CPUID. A VM
    // may report an aggregate of several chiplets' L3 here.
    auto conf = [](int name) { const long v = sysconf(name); return v > 0 ? uint64_t(v) : uint64_t(0); };
    m.l1d = conf(_SC_LEVEL1_DCACHE_SIZE), m.l2 = conf(_SC_LEVEL2_CACHE_SIZE), m.llc = conf(_SC_LEVEL3_CACHE_SIZE);
    m.cache_source = "sysconf (CPUID)";
  }
  if (measure) {
    // The best of three short probes: a busy or frequency-ramping core reads low.
    kernels::PeakRates best;
    for (int round = 0; round < 3; ++round) {
      const kernels::PeakRates r = kernels::measure_peak_gmacs(30000000 / 16);
      best.f32 = std::max(best.f32, r.f32), best.bf16 = std::max(best.bf16, r.bf16), best.int8 = std::max(best.int8, r.int8);
    }
    m.peak_gmacs = {{"fp32", best.f32}, {"bf16", best.bf16}, {"int8", best.int8}};
    m.bandwidth_gbs = kernels::measure_read_bandwidth(size_t(256) << 20, 3);
    m.measured = true;
  }
  return m;
}

}  // namespace pareto::profile
