// The OCR set's character error rate (include/pareto/ocr.hpp): the same
// rule as bench/ocr/score.mjs, so pareto tune's task metric and the
// comparison with ONNX Runtime's pipeline count errors alike.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "apps/labelled_set.h"
#include "pareto/guarded.hpp"
#include "pareto/ocr.hpp"

namespace pareto::ocr {

namespace {

// UTF-8 to code points; a malformed byte counts as one character of its own,
// outside Unicode (0x110000 + the byte), so it equals no real character.
std::vector<char32_t> code_points(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + n > s.size()) {
      out.push_back(0x110000 + c);
      ++i;
      continue;
    }
    if (n == 1 && c >= 0x80) {  // a continuation or invalid lead byte alone
      out.push_back(0x110000 + c);
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? c : c & (0x7F >> n);
    bool ok = true;
    for (size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      ok &= (d >> 6) == 0x2;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (!ok) {
      out.push_back(0x110000 + c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string trim_spaces(const std::string& s) {
  const size_t a = s.find_first_not_of(' ');
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(' ') - a + 1);
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (size_t i = 0; i < lines.size(); ++i) s += (i ? "\n" : "") + lines[i];
  return s;
}

}  // namespace

int64_t edit_distance_utf8(const std::string& a_text, const std::string& b_text) {
  const std::vector<char32_t> a = code_points(a_text), b = code_points(b_text);
  std::vector<int64_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = int64_t(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = int64_t(i);
    for (size_t j = 1; j <= b.size(); ++j) cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

pareto::Result<SetScore> score_set(Pipeline& pipeline, const std::string& set_dir, int every) {
  return api::guarded([&] {
    if (every < 1) fail_argument("score_set: every must be at least 1");
    const std::string truth_path = set_dir + "/truth.json";
    const nlohmann::json truth = apps::read_truth(set_dir);
    if (!truth.is_array()) fail_model(truth_path + ": expected an array of {file, lines}");
    SetScore score;
    for (size_t i = 0; i < truth.size(); i += size_t(every)) {
      const nlohmann::json& t = truth[i];
      if (!t.is_object() || !t.contains("file") || !t["file"].is_string() || !t.contains("lines") || !t["lines"].is_array())
        fail_model(truth_path + ": entry " + std::to_string(i) + " is not {file, lines}");
      std::vector<std::string> want;
      for (const auto& l : t["lines"]) {
        if (!l.is_string()) fail_model(truth_path + ": entry " + std::to_string(i) + " has a line that is not text");
        want.push_back(l.get<std::string>());
      }
      const std::string file = t["file"].get<std::string>();
      auto r = pipeline.run_file(apps::file_in_set(set_dir, file, truth_path + ": entry " + std::to_string(i)));
      if (!r.ok()) fail(r.status().code, r.status().message);
      std::vector<std::string> got;
      for (const TextLine& l : r.value().lines) got.push_back(trim_spaces(l.text));
      ++score.images;
      score.chars += int64_t(code_points(joined(want)).size());
      score.errors += edit_distance_utf8(joined(want), joined(got));
      for (size_t k = 0; k < want.size(); ++k) {
        ++score.lines;
        score.exact_lines += k < got.size() && got[k] == want[k];
      }
    }
    return score;
  });
}

}  // namespace pareto::ocr
