#include "pareto/limits.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace pareto {

namespace {

struct LimitField {
  const char* name;  // as on the command line
  const char* env;
  uint64_t (*get)(const Limits&);
  void (*set)(Limits&, uint64_t);
};

const LimitField kFields[] = {
    {"tensor-bytes", "PARETO_LIMIT_TENSOR_BYTES", [](const Limits& l) { return l.tensor_bytes; },
     [](Limits& l, uint64_t v) { l.tensor_bytes = v; }},
    {"tensor-elements", "PARETO_LIMIT_TENSOR_ELEMENTS", [](const Limits& l) { return l.tensor_elements; },
     [](Limits& l, uint64_t v) { l.tensor_elements = v; }},
    {"vocab-size", "PARETO_LIMIT_VOCAB_SIZE", [](const Limits& l) { return uint64_t(l.vocab_size); },
     [](Limits& l, uint64_t v) { l.vocab_size = int64_t(v); }},
    {"context", "PARETO_LIMIT_CONTEXT", [](const Limits& l) { return uint64_t(l.context); },
     [](Limits& l, uint64_t v) { l.context = int64_t(v); }},
    {"image-pixels", "PARETO_LIMIT_IMAGE_PIXELS", [](const Limits& l) { return uint64_t(l.image_pixels); },
     [](Limits& l, uint64_t v) { l.image_pixels = int64_t(v); }},
    {"audio-seconds", "PARETO_LIMIT_AUDIO_SECONDS", [](const Limits& l) { return uint64_t(l.audio_seconds); },
     [](Limits& l, uint64_t v) { l.audio_seconds = int64_t(v); }},
};

const LimitField* field_named(const std::string& name) {
  for (const LimitField& f : kFields)
    if (name == f.name) return &f;
  return nullptr;
}

// "8G" -> 8 << 30; false for anything else than digits and one suffix, or above 2^62.
bool parse_amount(const std::string& text, uint64_t& out) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno == ERANGE) return false;
  int shift = 0;
  if (*end) {
    const char* units = "KMGT";
    const char* u = std::strchr(units, *end);
    if (!u || end[1]) return false;
    shift = 10 * int(1 + (u - units));
  }
  if (v > (uint64_t(1) << 62) >> shift) return false;
  out = uint64_t(v) << shift;
  return true;
}

Limits read_defaults() {
  Limits l;
  for (const LimitField& f : kFields) {
    const char* env = std::getenv(f.env);
    uint64_t v = 0;
    if (!env) continue;
    // Read where options are default-constructed (no way to report an error
    // there, and it must not throw through the C API): a bad value is
    // reported once and the built-in default kept.
    if (!parse_amount(env, v)) {
      std::fprintf(stderr, "pareto: ignoring %s='%s' (expects a number, K/M/G/T suffixes allowed)\n", f.env, env);
      continue;
    }
    f.set(l, v);
  }
  return l;
}

thread_local const Limits* t_limits = nullptr;

}  // namespace

const Limits& default_limits() {
  static const Limits l = read_defaults();
  return l;
}

const Limits& current_limits() { return t_limits ? *t_limits : default_limits(); }

LimitsScope::LimitsScope(const Limits& limits) : saved_(t_limits), limits_(limits) { t_limits = &limits_; }
LimitsScope::~LimitsScope() { t_limits = saved_; }

std::string limit_names() {
  std::string s;
  for (const LimitField& f : kFields) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

void set_limit(Limits& limits, const std::string& spec) {
  const size_t eq = spec.find('=');
  const LimitField* f = eq == std::string::npos ? nullptr : field_named(spec.substr(0, eq));
  if (!f) fail_argument("--limit expects NAME=VALUE with NAME one of " + limit_names() + ", got '" + spec + "'");
  uint64_t v = 0;
  if (!parse_amount(spec.substr(eq + 1), v))
    fail_argument("--limit " + std::string(f->name) + " expects a number (K, M, G, T suffixes allowed), got '" + spec.substr(eq + 1) + "'");
  f->set(limits, v);
}

void check_limit(const std::string& what, uint64_t value, const char* name) {
  const LimitField* f = field_named(name);
  if (!f) fail_argument(std::string("unknown limit ") + name);  // a programming error, reported rather than ignored
  const uint64_t limit = f->get(current_limits());
  if (value <= limit) return;
  fail(StatusCode::out_of_memory, what + " needs " + std::to_string(value) + ", above the " + f->name + " limit of " +
                                      std::to_string(limit) + " (raise it with --limit " + f->name + "=N or " + f->env + "=N)");
}

}  // namespace pareto
