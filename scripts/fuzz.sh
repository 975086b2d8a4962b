#!/usr/bin/env bash
# Fuzzes one parser with libFuzzer (clang, ASan+UBSan; the fuzz preset).
#   scripts/fuzz.sh HARNESS [SECONDS] [RUNS] [-- libFuzzer options...]
# HARNESS: onnx gguf llama2c llama2c_tokenizer tokenizer_text artifact wav image npy
# (or "list"). Stops after SECONDS (default 2700 = 45 min) or RUNS executions
# (default 10 million), whichever comes first. Seeds: tests/fuzz/corpus/HARNESS
# (read only); new coverage goes to .cache/fuzz/HARNESS/corpus; a crash is
# written to tests/fuzz/crashes/HARNESS/ (commit it: ctest replays it as
# fuzz_replay_HARNESS). Prints executions, coverage (edges) and crashes, and
# appends them to .cache/fuzz/HARNESS/runs.log. With KEEP=1, the new inputs
# that add coverage are merged into the kept seed corpus at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
harnesses="onnx gguf llama2c llama2c_tokenizer tokenizer_text artifact wav image npy"
name=${1:?usage: scripts/fuzz.sh HARNESS [SECONDS] [RUNS] [-- libFuzzer options]}
if [ "$name" = list ]; then echo "$harnesses"; exit 0; fi
case " $harnesses " in *" $name "*) ;; *) echo "fuzz.sh: unknown harness '$name' (one of: $harnesses)" >&2; exit 2;; esac
shift
secs=2700 runs=10000000
if [ $# -gt 0 ] && [ "$1" != "--" ]; then secs=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then runs=$1; shift; fi
[ "${1:-}" = "--" ] && shift

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${name}_fuzz" >/dev/null
work=.cache/fuzz/$name
mkdir -p "$work/corpus" "tests/fuzz/crashes/$name"
log=$work/last.log
set +e
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
  "build-fuzz/tests/fuzz/${name}_fuzz" -max_total_time="$secs" -runs="$runs" -timeout=20 -rss_limit_mb=2048 \
  -malloc_limit_mb=1024 -max_len=1048576 -print_final_stats=1 -artifact_prefix="tests/fuzz/crashes/$name/" "$@" \
  "$work/corpus" "tests/fuzz/corpus/$name" 2>&1 | tee "$log" | grep -E "^#[0-9]+ +(INITED|DONE|pulse)|ERROR|SUMMARY|Test unit written" >&2
status=${PIPESTATUS[0]}
set -e
execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
edges=$(grep -oE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED).*cov: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+' | awk '{print $2}' || true)
secs_run=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}' | tail -1 || true)
crashes=$(grep "Test unit written" "$log" | grep -vc "/slow-unit-" || true)
slow=$(grep "Test unit written" "$log" | grep -c "/slow-unit-" || true)
summary="$(date -u +%FT%TZ) $name: ${execs:-?} executions in ${secs_run:-?} s, coverage ${edges:-?} edges, crashes ${crashes}, slow units ${slow}, exit ${status}"
echo "$summary" | tee -a "$work/runs.log"
if [ "${KEEP:-0}" = 1 ] && [ "$status" = 0 ]; then
  "build-fuzz/tests/fuzz/${name}_fuzz" -merge=1 "tests/fuzz/corpus/$name" "$work/corpus" >/dev/null 2>&1
fi
exit "$status"
