// pareto profile: runs a model with per-op timing, counts what each op
// computes and moves, and builds the report (profile/analysis.h).
#include "pareto/profile.hpp"

#include <algorithm>
#include <memory>

#include "api/guarded.h"
#include "api/profile_llm.h"
#include "api/median.h"
#include "core/error.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "llm/model.h"
#include "llm/repack.h"
#include "profile/analysis.h"
#include "profile/device_profile.h"
#include "profile/llm_profile.h"
#include "profile/powercap.h"
#include "profile/report_html.h"

namespace pareto {

namespace {

using api::median;

profile::OpRecord record_of(const ProfileEntry& e) {
  profile::OpRecord r;
  r.name = e.node_name, r.op = e.op_type, r.seconds = e.seconds, r.depth = e.depth, r.live_bytes = e.live_bytes;
  r.kernel = e.kernel;
  r.cost.precision = e.precision, r.cost.macs = e.macs, r.cost.elementwise = e.elementwise_ops;
  for (const ProfileAccess& a : e.accesses)
    r.cost.accesses.push_back({uintptr_t(a.id), a.bytes, a.weight ? profile::AccessKind::weight : profile::AccessKind::activation, a.write});
  return r;
}

// One op list from several runs: each op's median time (the runs execute
// the same nodes in the same order; counts do not change between them).
std::vector<profile::OpRecord> median_run(const std::vector<std::vector<ProfileEntry>>& runs) {
  std::vector<profile::OpRecord> ops;
  for (const ProfileEntry& e : runs.front()) ops.push_back(record_of(e));
  for (size_t i = 0; i < ops.size(); ++i) {
    std::vector<double> t;
    for (const auto& r : runs)
      if (r.size() == ops.size() && r[i].node_name == ops[i].name) t.push_back(r[i].seconds);
    ops[i].seconds = median(t);
  }
  return ops;
}

// The machine facts, with the probes on a pool as wide as the run's.
profile::MachineInfo machine_for(const ProfileOptions& o, int threads) {
  ThreadPool pool(std::max(1, threads));
  PoolScope scope(&pool);
  profile::MachineInfo m = profile::probe_machine(threads, o.measure_ceilings, o.sysfs_cpu);
  if (o.l1d_bytes || o.l2_bytes || o.llc_bytes) {
    if (o.l1d_bytes) m.l1d = o.l1d_bytes;
    if (o.l2_bytes) m.l2 = o.l2_bytes;
    if (o.llc_bytes) m.llc = o.llc_bytes;
    m.cache_source = "set by the caller (" + m.cache_source + " for the rest)";
  }
  return m;
}

// Energy from powercap counters around `run`, when the device has them.
template <class F>
void meter(const ProfileOptions& o, profile::ReportInput& in, F&& run) {
  const profile::Powercap pc = profile::Powercap::discover(o.powercap_root);
  if (!pc.available()) {
    in.measured_energy_note = pc.why_unavailable();
    run();
    return;
  }
  profile::EnergyMeter energy(pc);
  energy.start();
  const double t0 = now_seconds();
  run();
  in.measured_seconds = now_seconds() - t0;
  in.measured_energy_j = energy.stop();
  in.measured_energy_note = in.measured_energy_j ? "powercap: " + pc.describe() : "powercap counters unreadable: " + energy.error();
}

}  // namespace

Result<std::string> profile_session(Session& session, const std::string& model_name, const std::map<std::string, Tensor>& inputs,
                                    const ProfileOptions& o) {
  return guarded([&]() -> std::string {
    if (o.runs < 1) fail_argument("profile needs at least one timed run");
    // Records taken (and dropped) after every run: left to pile up, their
    // small long-lived allocations pin the heap between the large buffers
    // (about 27 MB of RSS per det run).
    // Then on until the session has chosen which nodes run on one thread
    // (at least one run, so it has begun): the report is of the steady state.
    auto warm = session.warm_up(inputs, std::max(1, o.warmup));
    if (!warm.ok()) throw Error(warm.status().code, warm.status().message);
    profile::ReportInput in;
    in.model = model_name, in.kind = "onnx";
    in.device = profile::load_device_profile(o.device);
    // Whole runs timed (and metered) without per-node recording, then the
    // same number of runs recorded node by node; recording is on afterwards
    // (the session was opened for it), whatever happens.
    struct RecordingOnAtExit {
      Session& s;
      ~RecordingOnAtExit() { s.set_profiling(true); }
    } restore{session};
    std::vector<double> walls;
    session.set_profiling(false);
    in.measured_units = o.runs;
    meter(o, in, [&] {
      for (int i = 0; i < o.runs; ++i) {
        const double t0 = now_seconds();
        auto r = session.run(inputs);
        walls.push_back(now_seconds() - t0);
        if (!r.ok()) throw Error(r.status().code, r.status().message);
      }
    });
    session.set_profiling(true);
    std::vector<std::vector<ProfileEntry>> runs;
    for (int i = 0; i < o.runs; ++i) {
      auto r = session.run(inputs);
      if (!r.ok()) throw Error(r.status().code, r.status().message);
      runs.push_back(session.take_profile());
    }
    if (runs.front().empty()) fail_argument("profile: the session records no ops (open it with SessionOptions::profile)");
    // Peak RSS before the bandwidth probe's buffer counts in it.
    in.peak_rss_bytes = peak_rss_bytes();
    in.machine = machine_for(o, session.threads());
    profile::PassProfile pass{"inference", "inference", 1, median(walls), median_run(runs)};
    in.passes.push_back(std::move(pass));
    in.arena_bytes = session.memory().arena_bytes;
    return profile::build_report(in).dump();
  });
}

Result<std::string> profile_llm_model(const std::string& path, const ProfileOptions& o) {
  return guarded([&]() -> std::string {
    if (o.runs < 1) fail_argument("profile needs at least one decoded token");
    std::unique_ptr<llm::Model> model = llm::Model::load(path, o.tokenizer);
    // As generate runs it: weights repacked for this CPU's kernels (the bytes
    // read per token stay those of the GGML types, docs/PROFILE.md).
    if (o.repack) llm::repack_for_cpu(*model);
    return api::profile_loaded_llm(*model, path, o);
  });
}

namespace api {

std::string profile_loaded_llm(llm::Model& model, const std::string& name, const ProfileOptions& o) {
  if (o.runs < 1) fail_argument("profile needs at least one decoded token");
  profile::ReportInput in;
  in.model = name, in.kind = "llm";
  in.device = profile::load_device_profile(o.device);
  profile::LlmProfileOptions lo;
  lo.prompt_tokens = o.prompt_tokens, lo.decode_tokens = o.runs, lo.kv = llm::kv_type_by_name(o.kv);
  {
    ThreadPool pool(std::max(1, o.threads));
    PoolScope scope(&pool);
    // The meter covers the decoded tokens only (timed with no recording).
    lo.around_decode = [&](const std::function<void()>& decode) { meter(o, in, decode); };
    in.measured_units = lo.decode_tokens;
    in.passes = profile::profile_llm(model, lo);
  }
  in.peak_rss_bytes = peak_rss_bytes();
  in.machine = machine_for(o, o.threads);
  return profile::build_report(in).dump();
}

}  // namespace api

uint64_t parse_byte_size(const std::string& text) { return profile::parse_cache_size(text); }

Result<std::string> profile_report_text(const std::string& json, size_t top_ops) {
  return guarded([&] { return profile::report_text(nlohmann::json::parse(json), top_ops); });
}

Result<std::string> profile_report_html(const std::string& json) {
  return guarded([&] { return profile::render_profile_html(nlohmann::json::parse(json)); });
}

}  // namespace pareto
