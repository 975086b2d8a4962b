#include "profile/device_profile.h"

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace pareto::profile {

// Defined in the generated device_profiles_builtin.cpp (cmake/embed_devices.cmake):
// the file stems and texts of data/devices/*.json, sorted by stem.
extern const char* const kBuiltinDeviceProfileNames[];
extern const char* const kBuiltinDeviceProfiles[];
extern const std::size_t kBuiltinDeviceProfileCount;

namespace {

using nlohmann::json;

const std::vector<std::string> kMacPrecisions = {"fp32", "fp16", "bf16", "int8", "int4w"};
const std::vector<std::string> kByteLevels = {"l1", "l2", "llc", "dram"};

// Limits that no real device comes near: a typo of a few orders of
// magnitude (nJ written as pJ, mW as W) fails here rather than silently
// dominating every estimate.
constexpr double kMaxPicojoules = 1e6;
constexpr double kMaxWatts = 1000;

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& problem) {
  fail_argument("device profile " + origin + ": " + field + " " + problem);
}

const json& member(const json& obj, const std::string& key, const std::string& field, const std::string& origin) {
  auto it = obj.find(key);
  if (it == obj.end()) bad(origin, field, "is missing");
  return *it;
}

double number(const json& v, const std::string& field, double max, const std::string& origin) {
  // is_number() is false for strings such as "NaN" and for booleans.
  if (!v.is_number()) bad(origin, field, "must be a number, not " + std::string(v.type_name()) + " " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x)) bad(origin, field, "is not finite");
  if (x < 0) bad(origin, field, "is negative (" + v.dump() + ")");
  if (x >= max) bad(origin, field, "is implausibly large (" + v.dump() + ", limit " + json(max).dump() + ")");
  return x;
}

// An object holding exactly `keys`, each a plausible number.
std::map<std::string, double> table(const json& obj, const std::string& field, const std::vector<std::string>& keys,
                                    const std::string& origin) {
  if (!obj.is_object()) bad(origin, field, "must be an object");
  std::map<std::string, double> out;
  for (const std::string& k : keys) out[k] = number(member(obj, k, field + "." + k, origin), field + "." + k, kMaxPicojoules, origin);
  for (const auto& [k, v] : obj.items())
    if (!out.count(k)) bad(origin, field + "." + k, "is not a known field");
  return out;
}

std::string text(const json& v, const std::string& field, bool allow_empty, const std::string& origin) {
  if (!v.is_string()) bad(origin, field, "must be a string");
  std::string s = v.get<std::string>();
  if (!allow_empty && s.find_first_not_of(" \t\n") == std::string::npos) bad(origin, field, "is empty");
  return s;
}

}  // namespace

DeviceProfile parse_device_profile(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    fail_argument("device profile " + origin + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) fail_argument("device profile " + origin + ": must be a JSON object");
  static const std::set<std::string> known = {"name",        "description",  "pj_per_mac", "pj_per_elementwise_op",
                                              "pj_per_byte", "static_watts", "sources"};
  for (const auto& [k, v] : j.items())
    if (!known.count(k)) bad(origin, k, "is not a known field");

  DeviceProfile d;
  d.name = text(member(j, "name", "name", origin), "name", false, origin);
  d.description = text(member(j, "description", "description", origin), "description", true, origin);
  d.pj_per_mac = table(member(j, "pj_per_mac", "pj_per_mac", origin), "pj_per_mac", kMacPrecisions, origin);
  d.pj_per_elementwise_op =
      number(member(j, "pj_per_elementwise_op", "pj_per_elementwise_op", origin), "pj_per_elementwise_op", kMaxPicojoules, origin);
  d.pj_per_byte = table(member(j, "pj_per_byte", "pj_per_byte", origin), "pj_per_byte", kByteLevels, origin);
  d.static_watts = number(member(j, "static_watts", "static_watts", origin), "static_watts", kMaxWatts, origin);

  // Every number carries its source: the report says "estimated", and a
  // reader must be able to see what each estimate rests on.
  const json& sources = member(j, "sources", "sources", origin);
  if (!sources.is_object()) bad(origin, "sources", "must be an object");
  std::vector<std::string> numbered = {"pj_per_elementwise_op", "static_watts"};
  for (const std::string& k : kMacPrecisions) numbered.push_back("pj_per_mac." + k);
  for (const std::string& k : kByteLevels) numbered.push_back("pj_per_byte." + k);
  for (const std::string& k : numbered)
    d.sources[k] = text(member(sources, k, "sources." + k, origin), "sources." + k, false, origin);
  for (const auto& [k, v] : sources.items())
    if (!d.sources.count(k)) bad(origin, "sources." + k, "names no number of the profile");
  return d;
}

std::vector<std::string> builtin_device_profile_names() {
  return std::vector<std::string>(kBuiltinDeviceProfileNames, kBuiltinDeviceProfileNames + kBuiltinDeviceProfileCount);
}

std::string builtin_device_profile_text(const std::string& name) {
  for (std::size_t i = 0; i < kBuiltinDeviceProfileCount; ++i)
    if (name == kBuiltinDeviceProfileNames[i]) return kBuiltinDeviceProfiles[i];
  std::string known;
  for (const std::string& n : builtin_device_profile_names()) known += (known.empty() ? "" : ", ") + n;
  fail_argument("unknown device profile '" + name + "'; built in: " + known + " (or give a path to a .json file)");
}

DeviceProfile builtin_device_profile(const std::string& name) {
  DeviceProfile d = parse_device_profile(builtin_device_profile_text(name), "'" + name + "' (built in)");
  // The name inside must match the file it came from, or a copied file
  // would report under the wrong device.
  if (d.name != name) fail_argument("device profile '" + name + "' (built in): name is '" + d.name + "', not '" + name + "'");
  return d;
}

DeviceProfile load_device_profile(const std::string& name_or_path) {
  const std::string& s = name_or_path;
  const bool is_path = s.find('/') != std::string::npos || (s.size() >= 5 && s.compare(s.size() - 5, 5, ".json") == 0);
  if (!is_path) return builtin_device_profile(s);
  std::error_code ec;
  if (std::filesystem::is_directory(s, ec)) fail(StatusCode::io_error, "cannot read device profile " + s + ": a directory");
  std::ifstream in(s, std::ios::binary);
  if (!in) fail(StatusCode::io_error, "cannot open device profile " + s + ": " + std::strerror(errno));
  // A profile is a few kilobytes; refuse to slurp something that is not one.
  constexpr std::size_t kMaxBytes = 1 << 20;
  std::string content(kMaxBytes + 1, '\0');
  in.read(content.data(), std::streamsize(content.size()));
  if (in.bad()) fail(StatusCode::io_error, "cannot read device profile " + s);
  content.resize(std::size_t(in.gcount()));
  if (content.size() > kMaxBytes) fail_argument("device profile " + s + ": larger than 1 MiB, not a profile");
  return parse_device_profile(content, s);
}

}  // namespace pareto::profile
