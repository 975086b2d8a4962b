#include "cli.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "npy.h"

namespace pareto::tools {

std::string Args::get(const std::string& key, const std::string& def) const {
  auto it = options.find(key);
  return it == options.end() ? def : it->second;
}

int Args::get_int(const std::string& key, int def) const {
  auto it = options.find(key);
  if (it == options.end()) return def;
  char* end = nullptr;
  long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end) fail_argument(key + " expects a number, got '" + it->second + "'");
  return int(v);
}

std::vector<std::string> Args::all(const std::string& key) const {
  std::vector<std::string> v;
  auto [b, e] = options.equal_range(key);
  for (auto it = b; it != e; ++it) v.push_back(it->second);
  return v;
}

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& flags) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0 || (s.size() == 2 && s[0] == '-' && std::isalpha(static_cast<unsigned char>(s[1])))) {
      size_t eq = s.find('=');
      if (eq != std::string::npos && s.rfind("--", 0) == 0) {
        a.options.emplace(s.substr(0, eq), s.substr(eq + 1));
        continue;
      }
      bool is_flag = false;
      for (const auto& f : flags) is_flag |= f == s;
      if (is_flag) {
        a.options.emplace(s, "");
      } else {
        if (i + 1 >= argc) fail_argument(s + " needs a value");
        a.options.emplace(s, argv[++i]);
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

static Shape parse_dims(const std::string& s) {
  Shape dims;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 0) fail_argument("bad dimension '" + item + "' in '" + s + "'");
    dims.push_back(v);
  }
  return dims;
}

std::map<std::string, Tensor> parse_constants(const Args& args) {
  std::map<std::string, Tensor> out;
  for (const std::string& spec : args.all("--const")) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail_argument("--const expects NAME=VALUE, got '" + spec + "'");
    const std::string name = spec.substr(0, eq), value = spec.substr(eq + 1);
    char* end = nullptr;
    const long long i = std::strtoll(value.c_str(), &end, 10);
    if (end && *end == '\0' && !value.empty()) {
      out[name] = Tensor::scalar<int64_t>(i);
      continue;
    }
    const float f = std::strtof(value.c_str(), &end);
    if (!end || *end != '\0' || value.empty()) fail_argument("--const " + name + ": '" + value + "' is not a number");
    out[name] = Tensor::scalar<float>(f);
  }
  return out;
}

std::map<std::string, Shape> parse_shapes(const Args& args) {
  std::map<std::string, Shape> shapes;
  for (const std::string& s : args.all("--shape")) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) fail_argument("--shape expects NAME=D0,D1,..., got '" + s + "'");
    shapes[s.substr(0, eq)] = parse_dims(s.substr(eq + 1));
  }
  return shapes;
}

void fill_random(Tensor& t, uint64_t seed) {
  uint64_t state = seed;
  auto next = [&]() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint64_t r = next();
    double u = double(r >> 40) / double(1ull << 24) * 2.0 - 1.0;  // 24 bits: exact in float
    switch (t.dtype()) {
      case DType::f32: t.data<float>()[i] = float(u); break;
      case DType::f64: t.data<double>()[i] = u; break;
      case DType::i64: t.data<int64_t>()[i] = int64_t(r % 10); break;
      case DType::i32: t.data<int32_t>()[i] = int32_t(r % 10); break;
      case DType::u8: case DType::boolean: static_cast<uint8_t*>(t.raw())[i] = uint8_t(r & 1); break;
      default: fail_unsupported(std::string("random values for ") + dtype_name(t.dtype()));
    }
  }
}

static void fill_value(Tensor& t, double v) {
  for (int64_t i = 0; i < t.numel(); ++i) switch (t.dtype()) {
      case DType::f32: t.data<float>()[i] = float(v); break;
      case DType::f64: t.data<double>()[i] = v; break;
      case DType::i64: t.data<int64_t>()[i] = int64_t(v); break;
      case DType::i32: t.data<int32_t>()[i] = int32_t(v); break;
      case DType::u8: case DType::boolean: static_cast<uint8_t*>(t.raw())[i] = uint8_t(v); break;
      default: fail_unsupported(std::string("fill values for ") + dtype_name(t.dtype()));
    }
}

std::map<std::string, Tensor> make_inputs(const Session& session, const Args& args) {
  std::map<std::string, std::string> specs;
  for (const std::string& s : args.all("--input")) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) fail_argument("--input expects NAME=FILE.npy|random[:SEED]|fill:V, got '" + s + "'");
    specs[s.substr(0, eq)] = s.substr(eq + 1);
  }
  std::map<std::string, Shape> shapes = parse_shapes(args);
  std::map<std::string, Tensor> inputs;
  uint64_t index = 0;
  for (const TensorInfo& in : session.inputs()) {
    std::string spec = specs.count(in.name) ? specs[in.name] : "random";
    specs.erase(in.name);
    ++index;
    if (spec.size() > 4 && spec.substr(spec.size() - 4) == ".npy") {
      inputs[in.name] = read_npy(spec);
      continue;
    }
    Shape shape = shapes.count(in.name) ? shapes[in.name] : in.dims;
    if (!in.rank_known && !shapes.count(in.name)) fail_argument("input '" + in.name + "' has unknown rank: give --shape " + in.name + "=...");
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0)
        fail_argument("input '" + in.name + "' " + in.to_string() + " has a symbolic dim: give --shape " + in.name + "=...");
    Tensor t = Tensor::empty(in.dtype == DType::undefined ? DType::f32 : in.dtype, shape);
    if (spec.rfind("random", 0) == 0) {
      uint64_t seed = spec.size() > 7 && spec[6] == ':' ? std::strtoull(spec.c_str() + 7, nullptr, 10) : index;
      fill_random(t, seed);
    } else if (spec.rfind("fill:", 0) == 0) {
      fill_value(t, std::strtod(spec.c_str() + 5, nullptr));
    } else {
      fail_argument("input '" + in.name + "': unknown source '" + spec + "'");
    }
    inputs[in.name] = t;
  }
  if (!specs.empty()) fail_argument("the model has no input named '" + specs.begin()->first + "'");
  return inputs;
}

std::string format_bytes(size_t bytes) {
  char buf[64];
  if (bytes >= (size_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(1 << 30));
  else if (bytes >= (size_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(1 << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", double(bytes) / 1024.0);
  return buf;
}

}  // namespace pareto::tools

