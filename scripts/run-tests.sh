#!/usr/bin/env bash
# Every test: install, fetch models, build release and run ctest, then build
# with ASan+UBSan and run the whole suite again, then fuzz every parser for a
# bounded time (clang, libFuzzer, ASan+UBSan) and run the concurrency tests
# under ThreadSanitizer (skip the last three with --no-sanitize); the AArch64
# cross build and its unit tests under qemu-aarch64, once as a CPU with every
# extension and once (the kernel tests) as one without the dot product
# (skip with --no-arm64). Under emulation the gtest suites run (script tests
# call the aarch64 CLI directly, which needs binfmt); Serve.BusyServerAnswers429
# is left out there: its 4000-token request outlasts the client's 60 s timeout
# at emulated speed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS
step() { echo "[run-tests] $(date -u +%T) +$((SECONDS - start))s: $*"; }  # where a CI run's time goes
step setup; bash scripts/setup.sh
step fetch-models; bash scripts/fetch-models.sh
step build release; bash scripts/build.sh release
step ctest release; ctest --preset release -j2
if [[ " $* " != *" --no-arm64 "* ]]; then
  step build arm64; bash scripts/build.sh arm64
  step ctest arm64 "(qemu -cpu max)"; ctest --preset arm64 -j2
  step ctest arm64 "(qemu -cpu cortex-a53: no dot product)"; ctest --preset arm64-nodotprod -j2
  step ctest arm64 "(qemu -cpu cortex-a76: dot product and FP16, no i8mm or BF16)"; ctest --preset arm64-dotprod -j2
fi
if [[ " $* " != *" --no-sanitize "* ]]; then
  step build asan; bash scripts/build.sh asan
  step ctest asan; ctest --preset asan -j2
  step build fuzz; bash scripts/build.sh fuzz
  step ctest fuzz; ctest --preset fuzz -j2
  step build tsan; bash scripts/build.sh tsan
  step ctest tsan; ctest --preset tsan
fi
step done
