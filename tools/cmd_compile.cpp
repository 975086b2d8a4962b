// pareto compile MODEL [--shape NAME=DIMS]... [--report] [-o MODEL.pareto]:
// runs the graph compiler and prints, per pass, nodes before/after and the
// patterns it rewrote, the op histogram after and the memory plan; -o writes
// the compiled artifact.
#include <algorithm>
#include <cstdio>

#include "cli.h"

namespace pareto::tools {

int cmd_compile(const Args& args) {
  if (args.positional.size() != 1) fail_argument("usage: pareto compile MODEL.onnx [--shape NAME=D0,D1,...] [--const NAME=VALUE] [--report] [--no-prepack] [-o MODEL.pareto]");
  SessionOptions plain_opt, opt;
  opt.optimize = true;
  opt.shapes = parse_shapes(args);
  opt.constant_inputs = parse_constants(args);
  opt.prepack_weights = !args.has("--no-prepack");
  parse_precision(args, opt);
  auto plain = Session::open(args.positional[0], plain_opt);
  if (!plain.ok()) throw Error(plain.status().code, plain.status().message);
  const double t0 = now_seconds();
  auto compiled = Session::open(args.positional[0], opt);
  if (!compiled.ok()) throw Error(compiled.status().code, compiled.status().message);
  const double seconds = now_seconds() - t0;
  std::printf("%-26s %8s %8s  %s\n", "pass", "before", "after", "rewrites");
  for (const PassSummary& p : compiled.value()->passes()) {
    std::string what;
    for (const auto& [pattern, n] : p.rewrites) what += (what.empty() ? "" : ", ") + pattern + " x" + std::to_string(n);
    std::printf("%-26s %8zu %8zu  %s\n", p.pass.c_str(), p.nodes_before, p.nodes_after, what.c_str());
  }
  const ModelSummary a = plain.value()->summary(), b = compiled.value()->summary();
  std::printf("\nnodes %zu -> %zu (load + compile %.1f ms)\nop histogram after:", a.nodes, b.nodes, seconds * 1e3);
  for (const auto& [op, n] : b.op_histogram) std::printf(" %s %d", op.c_str(), n);
  std::printf("\n");
  const std::string out = args.get("-o", args.get("--output", ""));
  if (!out.empty()) {
    const Status st = compiled.value()->save(out);
    if (!st.ok()) throw Error(st.code, st.message);
    const double l0 = now_seconds();
    auto reloaded = Session::open(out, SessionOptions{});
    if (!reloaded.ok()) throw Error(reloaded.status().code, reloaded.status().message);
    std::printf("\nwrote %s (loads in %.1f ms: no protobuf, no passes)\n", out.c_str(), (now_seconds() - l0) * 1e3);
  }
  const MemorySummary m = compiled.value()->memory();
  if (m.buffers == 0) {
    std::printf("\nmemory: no intermediate has a static shape (bind input shapes with --shape)\n");
    return 0;
  }
  std::printf("\nmemory (%zu buffers, 64-byte aligned): arena %s | naive sum %s | lower bound %s | arena / lower bound %.3f (%s)\n", m.buffers,
              format_bytes(m.arena_bytes).c_str(), format_bytes(m.naive_bytes).c_str(), format_bytes(m.lower_bound).c_str(),
              double(m.arena_bytes) / double(std::max<size_t>(m.lower_bound, 1)), m.algorithm.c_str());
  return 0;
}

}  // namespace pareto::tools
