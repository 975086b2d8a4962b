// `pareto route-calibrate`: the quality/cost curve of the confidence rule.
#include <algorithm>
#include <stdexcept>

#include "serve/server_impl.h"

namespace pareto::serve {

namespace {

using nlohmann::json;

struct Answer {
  json body;
  double ms = 0;
};

Answer ask(const std::string& url, const std::string& key, const json& body, double timeout_s, const std::string& side) {
  RouteOptions ro;
  ro.upstream = url;
  ro.upstream_key = key;
  ro.upstream_timeout_s = timeout_s;
  Router r(ro);
  const double t0 = now_s();
  // Router::post removes pareto's own fields; the device needs them here.
  Router::Reply reply = r.post("/v1/completions", body, /*keep_pareto_fields=*/true);
  if (!reply.ok) throw std::runtime_error(side + " " + url + ": " + reply.error + (reply.body.empty() ? "" : ": " + reply.body.substr(0, 200)));
  json answer = parse_json_bounded(reply.body);
  if (answer.is_discarded()) throw std::runtime_error(side + " " + url + ": the answer is not JSON (or nests deeper than " + std::to_string(kMaxJsonDepth) + " levels)");
  return {std::move(answer), (now_s() - t0) * 1e3};
}

// The fields read from the servers' answers, each checked (an answer is
// input like any other).
std::string text_of(const json& j, const std::string& side) {
  const json* choices = j.is_object() && j.contains("choices") ? &j["choices"] : nullptr;
  const json* first = choices && choices->is_array() && !choices->empty() && (*choices)[0].is_object() ? &(*choices)[0] : nullptr;
  if (!first || !first->contains("text") || !(*first)["text"].is_string())
    throw std::runtime_error(side + ": a completion without choices[0].text: " + j.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 200));
  return (*first)["text"].get<std::string>();
}

double confidence_of(const json& j, const char* key, const std::string& side) {
  const json* p = j.contains("pareto") && j["pareto"].is_object() ? &j["pareto"] : nullptr;
  const json* c = p && p->contains("confidence") && (*p)["confidence"].is_object() ? &(*p)["confidence"] : nullptr;
  if (!c || !c->contains(key) || !(*c)[key].is_number())
    throw std::runtime_error(side + ": not a pareto server (no pareto.confidence." + key + " in the answer)");
  return (*c)[key].get<double>();
}

// One point per distinct value of the signal (and one that sends nothing up).
void sweep(const std::vector<CalibrationSample>& s, const std::string& signal, std::vector<CalibrationPoint>& out) {
  const bool entropy = signal == "mean_entropy";
  auto value = [&](const CalibrationSample& x) { return entropy ? x.mean_entropy : x.min_logprob; };
  std::vector<double> cuts;
  for (const auto& x : s) cuts.push_back(value(x));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  // Entropy: unsure above the threshold, so thresholds at each value and below the lowest.
  // Log-probability: unsure below, so at each value and above the highest.
  if (entropy) cuts.insert(cuts.begin(), cuts.empty() ? 0 : cuts.front() - 1e-6);
  else cuts.push_back(cuts.empty() ? 0 : cuts.back() + 1e-6);
  for (double t : cuts) {
    CalibrationPoint p{signal, t, 0, 0, 0};
    for (const auto& x : s) {
      const bool up = entropy ? value(x) > t : value(x) < t;
      p.upstream_share += up;
      p.agreement += up ? 1.0 : x.similarity;
      p.mean_ms += up ? x.device_ms + x.upstream_ms : x.device_ms;
    }
    const double n = double(std::max<size_t>(1, s.size()));
    p.upstream_share /= n, p.agreement /= n, p.mean_ms /= n;
    out.push_back(p);
  }
}

}  // namespace

double text_similarity(const std::string& a, const std::string& b) {
  if (a.empty() && b.empty()) return 1;
  // Two rows of the edit-distance table (bounded: completions are short).
  const size_t n = std::min<size_t>(a.size(), 8192), m = std::min<size_t>(b.size(), 8192);
  std::vector<size_t> prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return 1.0 - double(prev[m]) / double(std::max(n, m));
}

CalibrationReport calibrate_routing(const CalibrateOptions& o) {
  if (o.prompts.empty()) throw std::runtime_error("no prompts to calibrate with");
  CalibrationReport report;
  for (const std::string& prompt : o.prompts) {
    json body = {{"prompt", prompt}, {"max_tokens", o.max_tokens}, {"temperature", 0}, {"seed", 1}};
    json device_body = body;
    device_body["pareto"] = {{"private", true}};
    Answer d = ask(o.device_url, o.device_key, device_body, o.timeout_s, "device");
    if (!o.upstream_model.empty()) body["model"] = o.upstream_model;
    Answer u = ask(o.upstream_url, o.upstream_key, body, o.timeout_s, "upstream");
    CalibrationSample s;
    s.prompt = prompt;
    s.device_text = text_of(d.body, "device " + o.device_url);
    s.upstream_text = text_of(u.body, "upstream " + o.upstream_url);
    s.mean_entropy = confidence_of(d.body, "mean_entropy", "device " + o.device_url);
    s.min_logprob = confidence_of(d.body, "min_logprob", "device " + o.device_url);
    s.similarity = text_similarity(s.device_text, s.upstream_text);
    s.device_ms = d.ms, s.upstream_ms = u.ms;
    report.samples.push_back(std::move(s));
  }
  sweep(report.samples, "mean_entropy", report.curve);
  sweep(report.samples, "min_logprob", report.curve);
  return report;
}

}  // namespace pareto::serve
