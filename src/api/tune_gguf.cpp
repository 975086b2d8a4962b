// pareto tune for GGUF LLMs (pareto/tune.hpp): the search runs in
// quant/mix_search.cpp over candidates built in memory by quant/llm_mix.cpp;
// this file measures what is shown (time, memory, energy), marks the front,
// chooses under the budgets and writes the model.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "api/guarded.h"
#include "api/median.h"
#include "api/profile_llm.h"
#include "api/tune_cache.h"
#include "api/tune_energy.h"
#include "api/tune_gguf_write.h"
#include "core/error.h"
#include "core/split.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/k_quant_codes.h"
#include "kernels/pareto_formats.h"
#include "llm/repack.h"
#include "llm/transformer.h"
#include "pareto/profile.hpp"
#include "pareto/tune.hpp"
#include "quant/gptq.h"
#include "quant/llama_mixes.h"
#include "quant/llm_mix.h"
#include "quant/mix_cost.h"
#include "quant/mix_groups.h"
#include "quant/mix_search.h"
#include "quant/quantize_gguf.h"

namespace pareto {

namespace {

using quant::Mix;
using quant::MixLab;
using quant::MixQuality;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void check_options(const LlmTuneOptions& o) {
  if (o.threads.empty()) fail_argument("tune needs at least one thread count");
  for (int t : o.threads)
    if (t < 1 || t > 1024) fail_argument("thread counts must be 1 to 1024, got " + std::to_string(t));
  static const std::set<std::string> objectives = {"latency", "memory", "bpw", "energy", "quality"};
  if (!objectives.count(o.objective)) fail_argument("objective must be latency, memory, bpw, energy or quality, got '" + o.objective + "'");
  if (o.prompt_tokens < 1 || o.decode_tokens < 1 || o.runs < 1) fail_argument("timing needs a prompt, decoded tokens and runs of at least 1");
  if (o.rounds < 1 || o.rounds > 100) fail_argument("timing rounds must be 1 to 100");
  if (o.max_timed < 0 || o.max_timed > 256) fail_argument("max timed points must be 0 to 256");
  if (o.lab_memory_mib < 0 || o.lab_memory_mib > (int64_t(1) << 30)) fail_argument("the lab's memory must be 0 to 2^30 MiB");
  if (o.points < 0 || o.points > 4096 || o.time_points < 0 || o.time_points > 4096 || o.generations < 0 || o.generations > 10000 ||
      o.population < 0 || o.population > 10000)
    fail_argument("points and time points must be 0 to 4096, generations and population 0 to 10000");
  if (!o.energy && (o.max_energy_mj > 0 || o.objective == "energy"))
    fail_argument("an energy budget or objective needs the energy estimate (it is off)");
  if (o.kv_types.empty()) fail_argument("tune needs at least one KV cache type");
  std::set<llm::KvType> kvs;
  for (const std::string& kv : o.kv_types)
    if (!kvs.insert(llm::kv_type_by_name(kv)).second) fail_argument("KV cache type '" + kv + "' listed twice");
  std::set<std::string> methods;
  for (const std::string& m : split_at(o.methods, ','))
    if ((m != "rtn" && m != "gptq" && m != "awq") || !methods.insert(m).second)
      fail_argument("methods must be a list of rtn, gptq and awq, each once, got '" + o.methods + "'");
  if (!methods.count("rtn"))
    fail_argument("methods must include rtn (the embedding and output have no GPTQ or AWQ: round to nearest stays a choice), got '" + o.methods + "'");
  if (methods.size() == 1 && !o.calib_text.empty()) fail_argument("a calibration text is for GPTQ and AWQ: add gptq or awq to the methods");
  if (methods.count("awq") && o.group != "layer")
    fail_argument("AWQ is chosen per layer block (its scales fold into the block's norm and into v's or up's rows): use --group layer with --method awq");
}

bool wants_method(const LlmTuneOptions& o, const std::string& method) {
  const std::vector<std::string> m = split_at(o.methods, ',');
  return std::find(m.begin(), m.end(), method) != m.end();
}
bool wants_gptq(const LlmTuneOptions& o) { return wants_method(o, "gptq"); }
bool wants_awq(const LlmTuneOptions& o) { return wants_method(o, "awq"); }

// Each format rounded to nearest and, where GPTQ (AWQ) writes it, by GPTQ (AWQ) too (same bytes: next to it).
std::vector<uint32_t> with_methods(const std::vector<uint32_t>& formats, bool gptq, bool awq) {
  std::vector<uint32_t> out;
  for (uint32_t f : formats) {
    out.push_back(f);
    if (gptq && quant::gptq_writes(f)) out.push_back(f | quant::kGptqMethod);
    if (awq && quant::awq_writes(f)) out.push_back(f | quant::kAwqMethod);
  }
  return out;
}

// Measured qualities (KL, perplexity, top-1) in the tune cache, keyed by the mix.
class QualityCache {
 public:
  QualityCache(const std::string& path, const std::string& fingerprint) : cache_(path, fingerprint, {"kl", "ppl", "top1"}) {}
  std::optional<MixQuality> find(const std::string& key) const {
    const std::vector<double>* v = cache_.find(key);
    if (!v) return std::nullopt;
    return MixQuality{(*v)[0], (*v)[1], (*v)[2]};
  }
  void add(const std::string& key, const MixQuality& q) { cache_.add(key, {q.kl, q.ppl, q.top1}); }

 private:
  api::TuneCache cache_;
};

// What a measured quality depends on: the file (path, size, modification
// time), the evaluation (text, context, chunks), the kernels it ran on
// (packed kernels quantize activations per ISA), the build that measures
// (a rebuilt quantizer starts a fresh cache) and how tune measures.
std::string fingerprint(const std::string& in, const std::string& text, const LlmTuneOptions& o) {
  return "tune-kl-v2|" + api::file_identity(in) + "|" + std::to_string(std::hash<std::string>{}(text)) + "|" + std::to_string(o.ctx) + "|" +
         std::to_string(o.max_chunks) + "|" + kernels::kernel_summary() + "|" + api::build_identity();
}

// A mix's cache key; one with GPTQ or AWQ tensors names the calibration as
// well (text and token count; sampled text is seeded, so the same each
// run): rounding-only mixes stay valid across calibrations. (v2: the lab
// calibrates on the model as loaded, as `pareto quantize` does.)
std::string cache_key(const Mix& mix, const LlmTuneOptions& o) {
  std::string key = quant::mix_key(mix);
  const bool gptq = std::any_of(mix.begin(), mix.end(), [](uint32_t c) { return quant::is_gptq(c); });
  const bool awq = std::any_of(mix.begin(), mix.end(), [](uint32_t c) { return quant::is_awq(c); });
  if (gptq || awq)
    key += std::string(gptq ? "|gptq-v2" : "") + (awq ? "|awq-v1" : "") + "|" + std::to_string(std::hash<std::string>{}(o.calib_text)) + "|" +
           std::to_string(o.calib_tokens);
  return key;
}

// One line per step at most every two seconds, with the time the step has left.
class Progress {
 public:
  explicit Progress(const std::function<void(const std::string&)>& out) : out_(out), t0_(now_s()) {}
  void step(const std::string& name, int done, int total) {
    if (!out_) return;
    const double now = now_s();
    if (name != name_) name_ = name, step_t0_ = now, last_ = 0;
    if (done < total && now - last_ < 2) return;
    last_ = now;
    const double left = done > 0 ? (now - step_t0_) / done * (total - done) : 0;
    char b[256];
    std::snprintf(b, sizeof b, "%s %d/%d  %.0f s elapsed, about %.0f s left in this step", name.c_str(), done, total, now - t0_, left);
    out_(b);
  }
  void line(const std::string& s) {
    if (out_) out_(s);
  }

 private:
  std::function<void(const std::string&)> out_;
  double t0_, step_t0_ = 0, last_ = 0;
  std::string name_;
};

// Per decoded token: the profiler's device model, and powercap's reading of
// the same decode where the counters are readable.
api::PointEnergy decode_energy(llm::Model& model, const LlmTuneOptions& o, int threads, const std::string& kv) {
  ProfileOptions po;
  po.runs = o.decode_tokens;
  po.warmup = 0;
  po.measure_ceilings = false;
  po.prompt_tokens = o.prompt_tokens;
  po.threads = threads;
  po.kv = kv;
  po.repack = false;  // repacked when built or loaded
  po.powercap_root = o.powercap_root;
  const nlohmann::json j = nlohmann::json::parse(api::profile_loaded_llm(model, model.path, po));
  for (const auto& p : j.at("phases"))
    if (p.value("name", "") == "decode") return api::energy_of_profile(j, p.at("energy_mj").at("total").get<double>());
  fail(StatusCode::internal, "the profile has no decode phase");
}

void mark_frontier(std::vector<LlmTunePoint>& points) {
  for (LlmTunePoint& p : points) {
    p.frontier = true;
    for (const LlmTunePoint& q : points) {
      const bool no_worse = q.decode_ms <= p.decode_ms && q.memory_mib <= p.memory_mib && q.energy_mj <= p.energy_mj && q.kl <= p.kl;
      const bool better = q.decode_ms < p.decode_ms || q.memory_mib < p.memory_mib || q.energy_mj < p.energy_mj || q.kl < p.kl;
      if (&q != &p && no_worse && better) p.frontier = false;
    }
  }
}

std::string budgets_text(const LlmTuneOptions& o) {
  std::string s;
  auto add = [&](const char* what, double v, const char* unit) {
    if (v <= 0) return;
    char b[96];
    std::snprintf(b, sizeof b, "%s%s <= %g%s", s.empty() ? "" : ", ", what, v, unit);
    s += b;
  };
  add("decode latency", o.max_latency_ms, " ms");
  add("memory", o.max_memory_mib, " MiB");
  add("bits per weight", o.max_bpw, "");
  add("energy", o.max_energy_mj, " mJ per token");
  add("KL", o.max_kl, "");
  return s.empty() ? "no budgets" : s;
}

int choose(LlmTuneResult& r, const LlmTuneOptions& o) {
  auto key = [&](const LlmTunePoint& p) {
    return o.objective == "memory" ? p.memory_mib : o.objective == "bpw" ? p.bpw : o.objective == "energy" ? p.energy_mj
         : o.objective == "quality" ? p.kl : p.decode_ms;
  };
  int best = -1, within = 0;
  for (size_t i = 0; i < r.points.size(); ++i) {
    LlmTunePoint& p = r.points[i];
    p.within_budget = (o.max_latency_ms <= 0 || p.decode_ms <= o.max_latency_ms) && (o.max_memory_mib <= 0 || p.memory_mib <= o.max_memory_mib) &&
                      (o.max_bpw <= 0 || p.bpw <= o.max_bpw) && (o.max_energy_mj <= 0 || p.energy_mj <= o.max_energy_mj) &&
                      (o.max_kl <= 0 || p.kl <= o.max_kl);
    if (!p.within_budget) continue;
    ++within;
    const LlmTunePoint* b = best < 0 ? nullptr : &r.points[size_t(best)];
    if (!b || std::make_tuple(key(p), p.kl, p.decode_ms, p.memory_mib) < std::make_tuple(key(*b), b->kl, b->decode_ms, b->memory_mib)) best = int(i);
  }
  if (best < 0) {
    double lat = 1e300, mem = 1e300, bpw = 1e300, kl = 1e300;
    for (const LlmTunePoint& p : r.points) lat = std::min(lat, p.decode_ms), mem = std::min(mem, p.memory_mib), bpw = std::min(bpw, p.bpw), kl = std::min(kl, p.kl);
    char b[256];
    std::snprintf(b, sizeof b, " (the best measured: decode %.3g ms, memory %.3g MiB, %.3g bits per weight, KL %.3g, not all in one point)", lat, mem, bpw, kl);
    fail_argument("no measured point meets the budgets: " + budgets_text(o) + b);
  }
  char why[256];
  std::snprintf(why, sizeof why, "lowest %s among the %d of %zu timed points (mix x threads x KV type) within %s", o.objective.c_str(), within, r.points.size(),
                budgets_text(o).c_str());
  r.reason = why;
  return best;
}

LlmTunePoint point_of(const MixLab& lab, const quant::MeasuredMix& m, const std::string& origin) {
  LlmTunePoint p;
  p.label = m.label, p.origin = origin;
  for (uint32_t t : m.mix) p.types.push_back(quant::type_name(t));
  p.bpw = m.bpw;
  p.weight_mib = double(lab.bytes(m.mix)) / (1 << 20);
  p.kl = m.quality.kl, p.ppl = m.quality.ppl, p.top1 = m.quality.top1;
  return p;
}

// The cost model's scale and constant from the uniform points (first thread
// count, first KV type), every point's prediction, and the model's median
// relative error on the timed search points (not used in the fit).
// mix_of_point[i]: the mix r.points[i] timed (null: an anchor).
void fit_cost_model(quant::DecodeCostModel& cost, const std::vector<const Mix*>& mix_of_point, const LlmTuneOptions& o, LlmTuneResult& r) {
  auto first_setting = [&](const LlmTunePoint& p) { return p.threads == o.threads.front() && p.kv == o.kv_types.front(); };
  std::vector<std::pair<double, double>> uniform;
  for (size_t i = 0; i < r.points.size(); ++i)
    if (mix_of_point[i] && r.points[i].origin == "uniform" && first_setting(r.points[i]))
      uniform.push_back({cost.matmul_ms(*mix_of_point[i]), r.points[i].decode_ms});
  cost.fit(uniform);
  r.cost_constant_ms = cost.fitted().constant, r.cost_scale = cost.fitted().scale;
  std::vector<double> err;
  for (size_t i = 0; i < r.points.size(); ++i) {
    if (!mix_of_point[i]) continue;
    LlmTunePoint& p = r.points[i];
    p.predicted_ms = cost.predict_ms(*mix_of_point[i]);
    if (p.origin == "search" && first_setting(p)) err.push_back(std::abs(p.predicted_ms - p.decode_ms) / p.decode_ms);
  }
  if (!err.empty()) {
    std::sort(err.begin(), err.end());
    r.cost_model_error = err[err.size() / 2];
  }
}

// llama.cpp's mix by its rules (quant/llama_mixes.h) as a search seed, with
// each K-quant group rounded by GPTQ where `gptq` and GPTQ may take it; none
// where a group's tensors get different types or a type is not searched.
std::optional<Mix> llama_mix_seed(const MixLab& lab, const quant::MixGroups& groups, const std::vector<uint32_t>& formats, quant::LlamaMix mix,
                                  bool gptq, const std::function<bool(size_t, uint32_t)>& group_allows) {
  std::vector<quant::MixTensor2D> matrices;
  for (const quant::MixTensor& t : lab.tensors()) matrices.push_back({t.name, t.cols});
  const llm::ModelConfig& c = lab.base().config;
  const std::map<std::string, uint32_t> types =
      quant::llama_mix_types(mix, matrices, nullptr, quant::llama_big_gqa(c.arch, c.n_layers, c.n_heads, c.n_kv_heads));
  auto searched = [&](uint32_t c) { return std::find(formats.begin(), formats.end(), c) != formats.end(); };
  Mix m(groups.names.size());
  for (size_t g = 0; g < m.size(); ++g) {
    const uint32_t type = types.at(lab.tensors().at(groups.members[g].front()).name);
    for (size_t i : groups.members[g])
      if (types.at(lab.tensors()[i].name) != type) return std::nullopt;
    const uint32_t by_gptq = type | quant::kGptqMethod;
    m[g] = gptq && kernels::is_k_quant(type) && searched(by_gptq) && group_allows(g, by_gptq) ? by_gptq : type;
    if (!searched(m[g])) return std::nullopt;
  }
  return m;
}

// An anchor file as loaded, checked to be the base model's shape.
std::unique_ptr<llm::Model> load_anchor(const std::string& file, const MixLab& lab) {
  auto anchor = llm::Model::load(file);
  const llm::ModelConfig &a = anchor->config, &b = lab.base().config;
  if (a.vocab != b.vocab || a.n_layers != b.n_layers || a.dim != b.dim || a.ffn_dim != b.ffn_dim || a.n_heads != b.n_heads || a.n_kv_heads != b.n_kv_heads)
    fail_argument(file + ": differs from the base model in shape (vocab, layers, width, FFN or heads), so it is no anchor for it");
  return anchor;
}

// What tune knows of an anchor before the search: its matrix bytes and its
// quality on the evaluation text (the KLs it is held up against).
struct AnchorInfo {
  uint64_t bytes = 0;
  MixQuality quality;
};

// An anchor file as loaded and repacked, as it is measured and timed.
std::unique_ptr<llm::Model> load_anchor_repacked(const std::string& file, const MixLab& lab) {
  std::unique_ptr<llm::Model> anchor = load_anchor(file, lab);
  llm::repack_for_cpu(*anchor, true);  // file-backed: its pages can go
  return anchor;
}

// Anchors are checked and measured before the search (one of another model
// fails first, not after it; the search points to time are picked against
// their sizes and KLs); each is loaded again when it is timed, one at a time
// (llama.cpp's five 1.1B mixes are 4 GB of files, each repacked into memory
// of its own).
std::vector<AnchorInfo> check_anchors(const LlmTuneOptions& o, MixLab& lab) {
  std::vector<AnchorInfo> info;
  for (const std::string& file : o.anchors) {
    const std::unique_ptr<llm::Model> anchor = load_anchor_repacked(file, lab);
    info.push_back({MixLab::matrix_bytes(*anchor), lab.quality(*anchor)});
  }
  return info;
}

// One model's points, one per (KV type, thread count) in that order, from
// `p`: memory, the held-out quality and the quality with another KV type
// than f16 (`quality` measures them), energy (appended to `energy`); not timed.
void describe_point(llm::Model& model, const LlmTunePoint& p, const LlmTuneOptions& o, const std::function<void(llm::KvType, LlmTunePoint&)>& quality,
                    std::vector<LlmTunePoint>& out, std::vector<api::PointEnergy>& energy) {
  for (const std::string& kv_name : o.kv_types) {
    const llm::KvType kv = llm::kv_type_by_name(kv_name);
    LlmTunePoint q = p;  // the search's (f16) quality, for each cache type afresh
    q.kv = kv_name;
    quality(kv, q);
    q.memory_mib = q.weight_mib + double(llm::Transformer(model, o.ctx, kv).kv_cache_bytes()) / (1 << 20);  // the same at every thread count
    for (int t : o.threads) {
      q.threads = t;
      energy.push_back(o.energy ? decode_energy(model, o, t, kv_name) : api::PointEnergy{});
      out.push_back(q);
    }
  }
}

// One timing of a model's points (describe_point's order, points[first]
// on): a decode sample each, and a prefill sample each in `prefill`.
void time_point(llm::Model& model, size_t first, const LlmTuneOptions& o, std::vector<LlmTunePoint>& points, std::vector<std::vector<double>>& prefill) {
  for (const std::string& kv_name : o.kv_types)
    for (int t : o.threads) {
      const quant::MixSpeed s = MixLab::time(model, t, o.prompt_tokens, o.decode_tokens, o.runs, llm::kv_type_by_name(kv_name));
      points.at(first).decode_rounds.push_back(s.decode_ms);
      prefill.at(first).push_back(s.prefill_ms);
      ++first;
    }
}

// An anchor's point before it is described and timed.
LlmTunePoint anchor_point(const std::string& file, const AnchorInfo& a, uint64_t weights) {
  LlmTunePoint p;
  p.label = "anchor " + file, p.origin = "anchor";
  p.kl = a.quality.kl, p.ppl = a.quality.ppl, p.top1 = a.quality.top1;
  p.weight_mib = double(a.bytes) / (1 << 20);
  p.bpw = 8.0 * double(a.bytes) / double(weights);
  return p;
}

// Describes the chosen search points and the anchors at every thread count
// and KV type (memory, energy, quality on the held-out text), then times
// them in o.rounds rounds over all of them in turn, the order reversed every
// other round, each round building (or loading) every model afresh. This
// VM's speed drifts by 20% over minutes: timed one after the other, with the
// anchors last, identical weights read up to 29% apart. A point's times are
// the medians of its rounds. Returns the mix each point timed (null: an anchor).
std::vector<const Mix*> time_all(MixLab& lab, MixLab* test_lab, const std::vector<Mix>& mixes, const std::vector<LlmTunePoint>& shown,
                                 const std::vector<AnchorInfo>& anchors, uint64_t weights, const LlmTuneOptions& o, Progress& progress,
                                 LlmTuneResult& r) {
  const size_t models = mixes.size() + o.anchors.size();
  const int total = int(models) * (1 + o.rounds);
  int done = 0;
  const std::string step = "measuring and timing in " + std::to_string(o.rounds) + " round" + (o.rounds > 1 ? "s" : "");
  auto model_of = [&](size_t i) { return i < mixes.size() ? lab.build(mixes[i]) : load_anchor_repacked(o.anchors[i - mixes.size()], lab); };
  // The evaluation text's quality is known for f16 (the search's); another KV type is measured with it.
  auto quality_of = [&](const llm::Model& m) {
    return [&lab, test_lab, &m](llm::KvType kv, LlmTunePoint& p) {
      if (kv != llm::KvType::f16) {
        const MixQuality q = lab.quality(m, kv);
        p.kl = q.kl, p.ppl = q.ppl, p.top1 = q.top1;
      }
      if (!test_lab) return;
      const MixQuality q = test_lab->quality(m, kv);
      p.kl_test = q.kl, p.ppl_test = q.ppl;
    };
  };
  std::vector<const Mix*> mix_of_point;
  std::vector<size_t> first_point(models);  // each model's first point in r.points
  std::vector<api::PointEnergy> energy;     // per point, in r.points' order
  for (size_t i = 0; i < models; ++i) {
    const std::unique_ptr<llm::Model> model = model_of(i);
    first_point[i] = r.points.size();
    const LlmTunePoint p = i < mixes.size() ? shown[i] : anchor_point(o.anchors[i - mixes.size()], anchors[i - mixes.size()], weights);
    describe_point(*model, p, o, quality_of(*model), r.points, energy);
    mix_of_point.resize(r.points.size(), i < mixes.size() ? &mixes[i] : nullptr);
    progress.step(step, ++done, total);
  }
  std::vector<std::vector<double>> prefill(r.points.size());
  for (int round = 0; round < o.rounds; ++round)
    for (size_t k = 0; k < models; ++k) {
      const size_t i = round % 2 ? models - 1 - k : k;
      time_point(*model_of(i), first_point[i], o, r.points, prefill);
      progress.step(step, ++done, total);
    }
  for (size_t j = 0; j < r.points.size(); ++j)
    r.points[j].decode_ms = api::median_mean(r.points[j].decode_rounds), r.points[j].prefill_ms = api::median_mean(prefill[j]);
  if (o.energy) api::settle_energy(r.points, energy, r.energy_source);
  else r.energy_source = "not estimated (off)";
  return mix_of_point;
}

}  // namespace

Result<LlmTuneResult> tune_llm_model(const std::string& in, const std::string& out, const std::string& text, const LlmTuneOptions& o) {
  return guarded([&] {
    check_options(o);
    std::vector<std::string> inputs = o.anchors;
    inputs.push_back(in);
    inputs.push_back(o.cache);
    api::refuse_output_among_inputs(out, inputs);
    const double t0 = now_s();
    Progress progress(o.progress);
    // Quantizing and measuring quality use every thread the user allows.
    ThreadPool pool(*std::max_element(o.threads.begin(), o.threads.end()));
    PoolScope scope(&pool);
    std::vector<uint32_t> formats = quant::parse_type_list(o.formats);
    MixLab lab(in, text, o.ctx, o.max_chunks, uint64_t(o.lab_memory_mib) << 20);
    // Everything that can be refused is checked before the search.
    const quant::MixGroups groups = quant::group_tensors(lab.tensors(), o.group);
    std::unique_ptr<MixLab> test_lab = o.test_text.empty() ? nullptr : std::make_unique<MixLab>(lab, o.test_text, o.ctx, o.max_chunks);
    const std::vector<AnchorInfo> anchors = check_anchors(o, lab);
    // Widest first, by the bytes of the whole model in each.
    std::stable_sort(formats.begin(), formats.end(), [&](uint32_t a, uint32_t b) { return lab.bytes(lab.uniform(a)) > lab.bytes(lab.uniform(b)); });
    LlmTuneResult r;
    if (wants_gptq(o) || wants_awq(o)) {
      progress.line("collecting the calibration activations (GPTQ, AWQ)");
      r.calibration = lab.calibrate(o.calib_text, o.calib_tokens);
    }
    formats = with_methods(formats, wants_gptq(o), wants_awq(o));
    r.ppl_base = lab.ppl_base();
    r.eval_tokens = lab.scored_tokens();
    for (const quant::MixTensor& t : lab.tensors()) r.tensors.push_back(t.name);
    for (uint32_t f : formats) r.formats.push_back(quant::type_name(f));
    r.groups = groups.names;
    progress.line("base perplexity " + std::to_string(r.ppl_base) + " over " + std::to_string(r.eval_tokens) + " scored tokens; " +
                  std::to_string(r.tensors.size()) + " tensors in " + std::to_string(groups.names.size()) + " units, " +
                  std::to_string(formats.size()) + " formats");

    // The search runs over groups of tensors; the cache and the lab see whole per-tensor mixes.
    const Mix source = lab.source_mix();
    auto expand = [&](const Mix& gm) { return quant::expand_mix(groups, gm, source); };
    QualityCache cache(o.cache, fingerprint(in, text, o));
    const quant::MixMeasure measure = [&](const Mix& gm) {
      const Mix mix = expand(gm);
      const std::string key = cache_key(mix, o);
      if (const std::optional<MixQuality> q = cache.find(key)) {
        ++r.from_cache;
        return *q;
      }
      const MixQuality q = lab.quality(mix);
      ++r.measured;
      cache.add(key, q);
      return q;
    };
    auto group_bytes = [&](size_t g, uint32_t t) {
      uint64_t b = 0;
      for (size_t i : groups.members[g]) b += lab.bytes(i, t == quant::kSourceTypes ? source[i] : t);
      return b;
    };
    auto group_allows = [&](size_t g, uint32_t t) {
      if (quant::is_awq(t) && !quant::whole_blocks(lab.tensors(), groups.members[g])) return false;
      for (size_t i : groups.members[g])
        if (!lab.allows(i, t)) return false;
      return true;
    };
    quant::MixSpace space{groups.names.size(), formats, group_bytes, 0, Mix(groups.names.size(), quant::kSourceTypes), group_allows, nullptr};
    // The cost model: each (tensor, stored type)'s one-token matmul timed once, on first use,
    // and kept in the cache (a rerun ranks by the same times, so searches the same mixes).
    api::TuneCache time_cache(o.cache, "tune-matvec-v1|" + fingerprint(in, text, o) + "|threads " + std::to_string(o.threads.front()), {"ms"});
    quant::MatmulTimeStore store;
    store.find = [&](const std::string& key) -> std::optional<double> {
      const std::vector<double>* v = time_cache.find(key);
      return v ? std::optional<double>((*v)[0]) : std::nullopt;
    };
    store.add = [&](const std::string& key, double ms) { time_cache.add(key, {ms}); };
    quant::DecodeCostModel cost(lab, o.threads.front(), 5, store);
    if (o.time_points > 0)
      space.ms = [&](size_t g, uint32_t t) {
        double ms = 0;
        for (size_t i : groups.members[g]) ms += cost.tensor_ms(i, t == quant::kSourceTypes ? source[i] : t);
        return ms;
      };
    for (size_t i = 0; i < lab.tensors().size(); ++i) space.weights += uint64_t(lab.tensors()[i].rows * lab.tensors()[i].cols);
    std::vector<quant::MeasuredMix> seeds;
    for (uint32_t f : formats) {
      Mix m(groups.names.size(), f);  // a GPTQ format: units it cannot take (the embedding) round to nearest
      for (size_t g = 0; g < m.size(); ++g)
        if (!group_allows(g, f)) m[g] = quant::type_of(f);
      seeds.push_back({m, "uniform " + quant::type_name(f), quant::mix_bpw(space, m), measure(m)});
    }
    // llama.cpp's mixes by its rules, as it rounds them and by GPTQ: the search starts from them too.
    for (quant::LlamaMix mix : {quant::LlamaMix::q3_k_m, quant::LlamaMix::q4_k_m, quant::LlamaMix::q5_k_m})
      for (bool gptq : {false, true}) {
        if (gptq && !wants_gptq(o)) continue;
        const std::optional<Mix> m = llama_mix_seed(lab, groups, formats, mix, gptq, group_allows);
        if (!m || std::any_of(seeds.begin(), seeds.end(), [&](const quant::MeasuredMix& s) { return s.mix == *m; })) continue;
        seeds.push_back({*m, "llama.cpp rules " + quant::llama_mix_name(mix) + (gptq ? "+gptq" : ""), quant::mix_bpw(space, *m), measure(*m)});
      }
    // Sizes to hold points up against: each anchor's, and the bits budget.
    std::vector<double> targets;
    std::vector<double> anchor_kl;
    for (const AnchorInfo& a : anchors) targets.push_back(8.0 * double(a.bytes) / double(space.weights)), anchor_kl.push_back(a.quality.kl);
    if (o.max_bpw > 0) targets.push_back(o.max_bpw);
    quant::MixSearchOptions so;
    so.target_bpw = targets;
    so.points = o.points, so.generations = o.generations, so.population = o.population, so.seed = o.seed, so.time_budget_s = o.time_budget_s;
    so.time_points = o.time_points;
    so.progress = [&](const std::string& step, int done, int total) { progress.step(step, done, total); };
    const quant::MixSearchResult sr = quant::search_mixes(space, measure, seeds, so);
    r.sensitivity = sr.sensitivity;
    r.generations_run = sr.generations_run;
    r.time_path_mixes = int(sr.time_path.size());
    r.stopped_by_budget = sr.stopped_by_budget;
    for (size_t i = 0; i < sr.points.size(); ++i) {
      quant::MeasuredMix m = sr.points[i];
      m.mix = expand(m.mix);
      r.searched.push_back(point_of(lab, m, i >= seeds.size() ? "search" : sr.points[i].label.rfind("uniform", 0) == 0 ? "uniform" : "mix"));
    }

    // Time the uniform points, the search's front (with the points held up against targets and the KL budget) and the anchors.
    std::vector<Mix> mixes;
    std::vector<LlmTunePoint> shown;
    std::vector<size_t> timed;
    for (size_t i = 0; i < seeds.size(); ++i) timed.push_back(i);
    // The cost model ranks the searched mixes by predicted decode time (the sum of their matmul times ranks them alone).
    std::vector<double> predicted;
    for (size_t i = 0; i < sr.points.size(); ++i) {
      predicted.push_back(cost.matmul_ms(expand(sr.points[i].mix)));
      progress.step("cost model", int(i + 1), int(sr.points.size()));
    }
    for (size_t i : quant::points_to_time(sr.points, seeds.size(), o.max_timed, predicted, targets, anchor_kl, o.max_kl)) timed.push_back(i);
    for (size_t i : timed) {
      mixes.push_back(expand(sr.points[i].mix));
      shown.push_back(r.searched[i]);
    }
    const std::vector<const Mix*> mix_of_point = time_all(lab, test_lab.get(), mixes, shown, anchors, space.weights, o, progress, r);
    fit_cost_model(cost, mix_of_point, o, r);
    for (size_t i = 0; i < sr.points.size(); ++i) r.searched[i].predicted_ms = r.cost_constant_ms + r.cost_scale * predicted[i];
    mark_frontier(r.points);
    r.chosen = choose(r, o);
    api::write_and_check(in, out, lab, r);
    r.notes = lab.notes();
    r.lab_spilled = lab.store().spilled(), r.lab_read_back = lab.store().read_back();
    r.seconds = now_s() - t0;
    return r;
  });
}

}  // namespace pareto
