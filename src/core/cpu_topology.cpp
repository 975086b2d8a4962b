#include "core/cpu_topology.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace pareto {

namespace {

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (f) std::getline(f, line);
  return line;
}

// A non-negative integer file; 0 when absent or not a number.
int64_t read_number(const std::string& path) {
  const std::string s = read_line(path);
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) return 0;
  return std::stoll(s);
}

std::vector<int> fallback_ids() {
  const int n = std::max(1u, std::thread::hardware_concurrency());
  std::vector<int> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[size_t(i)] = i;
  return ids;
}

std::string ghz(int64_t khz) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GHz", double(khz) / 1e6);
  return buf;
}

}  // namespace

std::vector<int> parse_cpu_list(const std::string& text, int max_id) {
  std::string t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  auto bad = [&](const std::string& why) { return std::invalid_argument("cpu list '" + t + "': " + why); };
  size_t at = 0;
  auto number = [&]() {
    if (at >= t.size() || !std::isdigit(static_cast<unsigned char>(t[at]))) throw bad("expected a number at offset " + std::to_string(at));
    int64_t v = 0;
    while (at < t.size() && std::isdigit(static_cast<unsigned char>(t[at]))) {
      v = v * 10 + (t[at++] - '0');
      if (v > max_id) throw bad("cpu id above " + std::to_string(max_id));
    }
    return int(v);
  };
  std::vector<int> ids;
  while (!t.empty()) {
    const int lo = number();
    int hi = lo;
    if (at < t.size() && t[at] == '-') ++at, hi = number();
    if (hi < lo) throw bad("range " + std::to_string(lo) + "-" + std::to_string(hi) + " runs backwards");
    for (int i = lo; i <= hi; ++i) ids.push_back(i);
    if (at == t.size()) break;
    if (t[at] != ',') throw bad("unexpected '" + std::string(1, t[at]) + "' at offset " + std::to_string(at));
    ++at;
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<int> parse_cpu_mask(const std::string& hex) {
  std::string h = hex;
  if (h.size() > 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) h = h.substr(2);
  if (h.empty() || h.size() > 1024) throw std::invalid_argument("cpu mask '" + hex + "': expected 1 to 1024 hexadecimal digits");
  std::vector<int> ids;
  for (size_t i = 0; i < h.size(); ++i) {
    const char c = char(std::tolower(static_cast<unsigned char>(h[h.size() - 1 - i])));
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else throw std::invalid_argument("cpu mask '" + hex + "': '" + std::string(1, c) + "' is not a hexadecimal digit");
    for (int b = 0; b < 4; ++b)
      if (v >> b & 1) ids.push_back(int(4 * i) + b);
  }
  if (ids.empty()) throw std::invalid_argument("cpu mask '" + hex + "' selects no cpu");
  return ids;
}

CpuTopology read_cpu_topology(const std::string& sysfs_cpu) {
  CpuTopology t;
  std::vector<int> ids;
  try {
    ids = parse_cpu_list(read_line(sysfs_cpu + "/online"));
  } catch (const std::invalid_argument&) {
    ids.clear();
  }
  if (ids.empty()) ids = fallback_ids();
  std::map<std::pair<int64_t, int64_t>, CpuCluster> by_kind;
  for (int id : ids) {
    const std::string dir = sysfs_cpu + "/cpu" + std::to_string(id);
    CpuCore c;
    c.id = id;
    c.capacity = read_number(dir + "/cpu_capacity");
    c.max_khz = read_number(dir + "/cpufreq/cpuinfo_max_freq");
    c.first_sibling = id;
    try {
      const std::vector<int> siblings = parse_cpu_list(read_line(dir + "/topology/thread_siblings_list"));
      if (!siblings.empty()) c.first_sibling = siblings.front();
    } catch (const std::invalid_argument&) {
    }
    t.cores.push_back(c);
    CpuCluster& cl = by_kind[{c.capacity, c.max_khz}];
    cl.capacity = c.capacity, cl.max_khz = c.max_khz;
    cl.cpus.push_back(id);
  }
  for (auto& [key, cl] : by_kind) t.clusters.push_back(cl);
  std::sort(t.clusters.begin(), t.clusters.end(), [](const CpuCluster& a, const CpuCluster& b) {
    return a.capacity != b.capacity ? a.capacity > b.capacity : a.max_khz > b.max_khz;
  });
  return t;
}

std::vector<int> CpuTopology::performance_cpus() const {
  std::vector<int> out;
  if (clusters.empty()) return out;
  const CpuCluster& top = clusters.front();
  for (const CpuCluster& c : clusters) {
    // Capacity when the kernel gives it (it folds in the core's design, not
    // only its clock); else frequency, where little cores run ~0.6x of big ones.
    const bool fast = top.capacity > 0 ? 2 * c.capacity >= top.capacity : top.max_khz > 0 ? 4 * c.max_khz > 3 * top.max_khz : true;
    if (fast) out.insert(out.end(), c.cpus.begin(), c.cpus.end());
  }
  // One per physical core: drop a cpu whose first SMT sibling is another cpu.
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](int id) {
                             for (const CpuCore& core : cores)
                               if (core.id == id) return core.first_sibling != id;
                             return false;
                           }),
            out.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::string CpuTopology::describe() const {
  std::string s;
  for (const CpuCluster& c : clusters) {
    if (!s.empty()) s += " + ";
    s += std::to_string(c.cpus.size()) + "x";
    if (c.capacity) s += " cap " + std::to_string(c.capacity);
    if (c.max_khz) s += " " + ghz(c.max_khz);
  }
  return s;
}

const CpuTopology& cpu_topology() {
  static const CpuTopology t = read_cpu_topology();
  return t;
}

namespace {
std::mutex g_placement_mutex;
std::vector<int> g_placement;
bool g_strict = false;
}  // namespace

void set_cpu_placement(const std::vector<int>& cpus, bool strict) {
  {
    std::lock_guard<std::mutex> lock(g_placement_mutex);
    g_placement = cpus;
    g_strict = strict;
  }
  apply_cpu_placement(0);
}

std::vector<int> cpu_placement() {
  std::lock_guard<std::mutex> lock(g_placement_mutex);
  return g_placement;
}

std::vector<int> allowed_cpus() {
  std::vector<int> ids;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) ids.push_back(c);
#endif
  return ids;
}

bool apply_cpu_placement(int index) {
  std::vector<int> cpus;
  bool strict;
  {
    std::lock_guard<std::mutex> lock(g_placement_mutex);
    cpus = g_placement;
    strict = g_strict;
  }
  if (cpus.empty()) return true;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (strict) {
    const int c = cpus[size_t(index) % cpus.size()];
    if (c < CPU_SETSIZE) CPU_SET(c, &set);
  } else {
    for (int c : cpus)
      if (c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0) return true;
  static std::once_flag warned;  // threads then run where the OS puts them: say so once
  std::call_once(warned, [] { std::fprintf(stderr, "pareto: warning: could not pin a thread to its cpu (--cpu-mask / --cpu-strict)\n"); });
  return false;
#else
  (void)index, (void)strict;
  return false;
#endif
}

}  // namespace pareto
