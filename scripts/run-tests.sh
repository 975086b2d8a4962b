#!/usr/bin/env bash
# Every test: install, fetch models, build release and run ctest, then build
# with ASan+UBSan and run the whole suite again, then fuzz every parser for a
# bounded time (clang, libFuzzer, ASan+UBSan) and run the concurrency tests
# under ThreadSanitizer (skip the last three with --no-sanitize).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS
step() { echo "[run-tests] $(date -u +%T) +$((SECONDS - start))s: $*"; }  # where a CI run's time goes
step setup; bash scripts/setup.sh
step fetch-models; bash scripts/fetch-models.sh
step build release; bash scripts/build.sh release
step ctest release; ctest --preset release -j2
if [ "${1:-}" != "--no-sanitize" ]; then
  step build asan; bash scripts/build.sh asan
  step ctest asan; ctest --preset asan -j2
  step build fuzz; bash scripts/build.sh fuzz
  step ctest fuzz; ctest --preset fuzz -j2
  step build tsan; bash scripts/build.sh tsan
  step ctest tsan; ctest --preset tsan
fi
step done
