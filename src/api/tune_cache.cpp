// pareto tune's cache of measured qualities (tune_cache.h).
#include "api/tune_cache.h"

#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pareto::api {

TuneCache::TuneCache(std::string path, std::string fingerprint, std::vector<std::string> fields)
    : path_(std::move(path)), fingerprint_(std::move(fingerprint)), fields_(std::move(fields)) {
  if (path_.empty()) return;
  std::ifstream f(path_);
  for (std::string line; std::getline(f, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("model") || !j["model"].is_string() || j["model"].get<std::string>() != fingerprint_)
      continue;
    if (!j.contains("mix") || !j["mix"].is_string()) continue;
    std::vector<double> values;
    for (const std::string& name : fields_)
      if (j.contains(name) && j[name].is_number()) values.push_back(j[name].get<double>());
    if (values.size() == fields_.size()) known_[j["mix"].get<std::string>()] = std::move(values);
  }
}

const std::vector<double>* TuneCache::find(const std::string& key) const {
  auto it = known_.find(key);
  return it == known_.end() ? nullptr : &it->second;
}

void TuneCache::add(const std::string& key, const std::vector<double>& values) {
  if (values.size() != fields_.size()) fail(StatusCode::internal, "tune cache: an entry with the wrong number of values");
  known_[key] = values;
  if (path_.empty()) return;
  nlohmann::json j{{"model", fingerprint_}, {"mix", key}};
  for (size_t i = 0; i < fields_.size(); ++i) j[fields_[i]] = values[i];
  std::ofstream f(path_, std::ios::app);
  // A line cut short by an earlier crash is ended first, so this entry is not lost with it.
  f << "\n" << j.dump() << "\n";
  if (!f) fail(StatusCode::io_error, "cannot append to the tune cache " + path_);
}

std::string file_identity(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  return path + "|" + std::to_string(static_cast<unsigned long long>(size)) + "|" + std::to_string(static_cast<long long>(mtime));
}

std::string build_identity() {
  // The file this code was loaded from: the program, or libpareto.so when pareto is a shared library.
  // (The loader may name the program by a relative path: canonical, it keys alike from any folder.)
  std::error_code ec;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&build_identity), &info) && info.dli_fname && *info.dli_fname) {
    const std::filesystem::path file = std::filesystem::canonical(info.dli_fname, ec);
    if (!ec) return file_identity(file.string());
  }
  const std::filesystem::path exe = std::filesystem::canonical("/proc/self/exe", ec);
  return ec ? std::string("unknown build") : file_identity(exe.string());
}

void refuse_output_among_inputs(const std::string& out, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& f : inputs) {
    if (f.empty()) continue;
    // Files that exist by identity (links, other spellings); others (a cache not written yet) by their normal path.
    const bool same = fs::exists(out, ec) && fs::exists(f, ec) ? fs::equivalent(out, f, ec)
                                                               : fs::absolute(out, ec).lexically_normal() == fs::absolute(f, ec).lexically_normal();
    if (same) fail_argument("the output " + out + " is also a file tune reads or keeps (" + f + ")");
  }
}

}  // namespace pareto::api
