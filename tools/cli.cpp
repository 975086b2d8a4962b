#include "cli.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <sstream>

namespace pareto::tools {

// The last one given wins, as on most command lines: a script's defaults
// followed by the caller's options (bench/tune_ocr.sh -- --runs 300) take
// the caller's. (multimap::find may return any of equal keys.)
std::string Args::get(const std::string& key, const std::string& def) const {
  const auto [first, last] = options.equal_range(key);
  return first == last ? def : std::prev(last)->second;
}

int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno == ERANGE || v < lo || v > hi)
    fail_argument(what + " expects a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" + text + "'");
  return v;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(parse_int(item, what, lo, hi));
  return out;
}

std::vector<std::string> parse_name_list(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) fail_argument(what + ": an empty name in '" + text + "'");
    out.push_back(item);
  }
  if (out.empty()) fail_argument(what + " needs at least one name");
  return out;
}

double parse_double(const std::string& text, const std::string& what, double lo, double hi) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || errno == ERANGE || !(v >= lo && v <= hi)) {
    std::ostringstream msg;
    msg << what << " expects a number from " << lo << " to " << hi << ", got '" << text << "'";
    fail_argument(msg.str());
  }
  return v;
}

int64_t Args::get_int(const std::string& key, int64_t def, int64_t lo, int64_t hi) const {
  return has(key) ? parse_int(get(key), key, lo, hi) : def;
}

double Args::get_double(const std::string& key, double def, double lo, double hi) const {
  return has(key) ? parse_double(get(key), key, lo, hi) : def;
}

int Args::get_threads(int def) const {
  const std::string key = has("--threads") ? "--threads" : "-t";
  return int(get_int(key, def > 0 ? def : default_threads(), 1, 1024));
}

std::vector<std::string> Args::all(const std::string& key) const {
  std::vector<std::string> v;
  auto [b, e] = options.equal_range(key);
  for (auto it = b; it != e; ++it) v.push_back(it->second);
  return v;
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

[[noreturn]] void unknown_option(const std::string& command, const std::string& opt, const OptionSpec& spec) {
  std::string best;
  size_t best_d = 3;  // suggest only near misses
  for (const auto* list : {&spec.flags, &spec.values})
    for (const std::string& known : *list)
      if (size_t d = edit_distance(opt, known); d < best_d) {
        best_d = d;
        best = known;
      }
  fail_argument("unknown option '" + opt + "' for " + command + (best.empty() ? "" : " (did you mean " + best + "?)") +
                "; see pareto --help");
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

Args parse_args(int argc, char** argv, int first, const OptionSpec& spec) {
  Args a;
  a.command = "pareto " + std::string(argv[first - 1]);
  for (int i = first; i < argc; ++i) {
    const std::string s = argv[i];
    const bool is_option = s.rfind("--", 0) == 0 || (s.size() >= 2 && s[0] == '-' && std::isalpha(static_cast<unsigned char>(s[1])));
    if (!is_option) {
      a.positional.push_back(s);
      continue;
    }
    const size_t eq = s.rfind("--", 0) == 0 ? s.find('=') : std::string::npos;
    const std::string name = s.substr(0, eq);
    if (contains(spec.flags, name) || name == "--cpu-strict") {  // --cpu-strict: every command
      if (eq != std::string::npos) fail_argument(name + " takes no value, got '" + s + "'");
      a.options.emplace(name, "");
    } else if (contains(spec.values, name) || name == "--limit" || name == "--cpu-mask") {  // every command
      if (eq != std::string::npos) a.options.emplace(name, s.substr(eq + 1));
      else if (i + 1 >= argc) fail_argument(name + " needs a value");
      else a.options.emplace(name, argv[++i]);
    } else {
      unknown_option(a.command, name, spec);
    }
  }
  return a;
}

static Shape parse_dims(const std::string& s) {
  return parse_int_list(s, "--shape dimension in '" + s + "'", 0, int64_t(1) << 31);
}

void parse_precision(const Args& args, SessionOptions& options) {
  if (!args.has("--precision") && !args.has("--precision-keep")) return;
  if (!options.optimize) fail_argument("--precision needs -O (the compiler assigns it per conv)");
  options.conv_precision = args.get("--precision", "fp32");
  if (options.conv_precision != "fp32" && options.conv_precision != "bf16" && options.conv_precision != "f16")
    fail_argument("--precision '" + options.conv_precision + "' (fp32, bf16 or f16)");
  options.precision_keep = args.all("--precision-keep");
}

std::map<std::string, Tensor> parse_constants(const Args& args) {
  std::map<std::string, Tensor> out;
  for (const std::string& spec : args.all("--const")) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail_argument("--const expects NAME=VALUE, got '" + spec + "'");
    const std::string name = spec.substr(0, eq), value = spec.substr(eq + 1);
    // An integer literal becomes int64, anything else float32; both range-checked.
    const bool integer = !value.empty() && value.find_first_not_of("+-0123456789") == std::string::npos;
    if (integer) out[name] = Tensor::scalar<int64_t>(parse_int(value, "--const " + name, INT64_MIN, INT64_MAX));
    else out[name] = Tensor::scalar<float>(float(parse_double(value, "--const " + name, -3.4e38, 3.4e38)));
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
      inputs[in.name] = take(read_npy(spec));
      continue;
    }
    if (spec.size() > 3 && spec.substr(spec.size() - 3) == ".pb") {  // ONNX TensorProto (backend test data)
      inputs[in.name] = take(read_tensor_pb(spec));
      continue;
    }
    Shape shape = shapes.count(in.name) ? shapes[in.name] : in.dims;
    if (!in.rank_known && !shapes.count(in.name)) fail_argument("input '" + in.name + "' has unknown rank: give --shape " + in.name + "=...");
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0)
        fail_argument("input '" + in.name + "' " + in.to_string() + " has a symbolic dim: give --shape " + in.name + "=...");
    Tensor t = Tensor::empty(in.dtype == DType::undefined ? DType::f32 : in.dtype, shape);
    if (spec.rfind("random", 0) == 0) {
      if (spec.size() > 6 && spec[6] != ':') fail_argument("input '" + in.name + "': unknown source '" + spec + "'");
      const uint64_t seed = spec.size() > 7 ? uint64_t(parse_int(spec.substr(7), "--input " + in.name + "=random:SEED", 0, INT64_MAX)) : index;
      fill_random(t, seed);
    } else if (spec.rfind("fill:", 0) == 0) {
      fill_value(t, parse_double(spec.substr(5), "--input " + in.name + "=fill:V", -1e300, 1e300));
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

