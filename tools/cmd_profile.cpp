// pareto profile: time, operations, bytes by cache level, roofline and
// estimated (and, where counters exist, measured) energy per op and per
// inference or token; a text table, --json, or a self-contained --html page.
#include <cstdio>
#include <cctype>
#include <cstring>
#include <fstream>

#include "cli.h"
#include "pareto/profile.hpp"

namespace pareto::tools {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  while (!s.empty() && at <= s.size()) {
    const size_t next = s.find(sep, at);
    out.push_back(s.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (next == std::string::npos) break;
    at = next + 1;
  }
  return out;
}

bool is_llm_file(const std::string& path) {
  auto ends = [&](const char* s) { return path.size() >= std::strlen(s) && path.compare(path.size() - std::strlen(s), std::string::npos, s) == 0; };
  return ends(".gguf") || ends(".bin");
}

ProfileOptions options_of(const Args& args) {
  ProfileOptions o;
  o.threads = args.get_threads();
  o.runs = int(args.get_int("--runs", is_llm_file(args.positional[0]) ? 16 : 5, 1, 100000));
  // Some ops run slow for the first few runs (allocator and page state settling): 10 untimed runs first.
  o.warmup = int(args.get_int("--warmup", 10, 0, 100000));
  o.device = args.get("--device", o.device);
  o.measure_ceilings = !args.has("--no-ceilings");
  o.prompt_tokens = int(args.get_int("-p", 64, 1, 1 << 20));
  o.kv = args.get("--kv", o.kv);
  o.tokenizer = args.get("--tokenizer");
  o.repack = !args.has("--no-repack");
  // --caches l1d=48K,l2=1M,llc=32M: sizes to model instead of what the system reports.
  for (const std::string& item : split(args.get("--caches"), ',')) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const uint64_t bytes = parse_byte_size(value);
    if (!bytes) fail_argument("--caches: '" + item + "' is not NAME=SIZE (l1d, l2, llc; sizes like 48K, 1M, 32M)");
    if (key == "l1d") o.l1d_bytes = bytes;
    else if (key == "l2") o.l2_bytes = bytes;
    else if (key == "llc") o.llc_bytes = bytes;
    else fail_argument("--caches: unknown cache '" + key + "' (l1d, l2, llc)");
  }
  return o;
}

std::string profile_onnx(const Args& args, const ProfileOptions& o) {
  SessionOptions opt;
  opt.optimize = !args.has("--no-optimize");
  if (opt.optimize) {
    opt.shapes = parse_shapes(args);
    opt.constant_inputs = parse_constants(args);
  }
  parse_precision(args, opt);
  opt.threads = o.threads;
  opt.profile = true;
  std::unique_ptr<Session> session = take(Session::open(args.positional[0], opt));
  return take(profile_session(*session, args.positional[0], make_inputs(*session, args), o));
}

}  // namespace

int cmd_profile(const Args& args) {
  if (args.positional.size() != 1) fail_argument("usage: pareto profile MODEL [--json] [--html FILE] [--device NAME|FILE.json] ...");
  const ProfileOptions o = options_of(args);
  const std::string json = is_llm_file(args.positional[0]) ? take(profile_llm_model(args.positional[0], o)) : profile_onnx(args, o);
  const std::string html_path = args.get("--html");
  if (!html_path.empty()) {
    std::ofstream f(html_path, std::ios::binary);
    f << take(profile_report_html(json));
    if (!f.good()) fail(StatusCode::io_error, html_path + ": cannot write the report");
    std::fprintf(stderr, "wrote %s\n", html_path.c_str());
  }
  if (args.has("--json")) std::printf("%s\n", json.c_str());
  else std::printf("%s", take(profile_report_text(json, size_t(args.get_int("--top", 25, 1, 1000000)))).c_str());
  return 0;
}

}  // namespace pareto::tools
