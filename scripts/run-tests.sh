#!/usr/bin/env bash
# The test command (README; CI runs it through .ci/run). By default, kept
# near 20 minutes on 2 cores so CI stays under its 25-minute budget:
#   install, fetch models, build release and run the whole ctest suite;
#   fuzz every parser for a bounded time (clang, libFuzzer, ASan+UBSan);
#   run the concurrency tests under ThreadSanitizer.
# --full adds the two long passes (about 40 more minutes), run before a
# change to kernels, threading or memory handling lands:
#   the whole suite again under ASan+UBSan;
#   the AArch64 cross build and its unit tests under qemu-aarch64, once as a
#   CPU with every extension, once (the kernel tests) as one without the dot
#   product, once as one with dot product and FP16 only. Under emulation the
#   gtest suites run (script tests call the aarch64 CLI directly, which needs
#   binfmt); Serve.BusyServerAnswers429 is left out there: its 4000-token
#   request outlasts the client's 60 s timeout at emulated speed.
# --no-sanitize skips fuzzing, TSan and ASan; --no-arm64 skips the AArch64
# pass of --full.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
has() { [[ " $ARGS " == *" $1 "* ]]; }
ARGS="$*"
start=$SECONDS
step() { echo "[run-tests] $(date -u +%T) +$((SECONDS - start))s: $*"; }  # where a CI run's time goes
arm64=false; asan=false; sanitize=true
if has --no-sanitize; then sanitize=false; fi
if has --full; then
  $sanitize && asan=true
  has --no-arm64 || arm64=true
fi
step setup; if $arm64; then bash scripts/setup.sh --arm64; else bash scripts/setup.sh; fi
step fetch-models; bash scripts/fetch-models.sh
step build release; bash scripts/build.sh release
step ctest release; ctest --preset release -j2
if $sanitize; then
  step build fuzz; bash scripts/build.sh fuzz
  step ctest fuzz; ctest --preset fuzz -j2
  step build tsan; bash scripts/build.sh tsan
  step ctest tsan; ctest --preset tsan
fi
if $arm64; then
  step build arm64; bash scripts/build.sh arm64
  step ctest arm64 "(qemu -cpu max)"; ctest --preset arm64 -j2
  step ctest arm64 "(qemu -cpu cortex-a53: no dot product)"; ctest --preset arm64-nodotprod -j2
  step ctest arm64 "(qemu -cpu cortex-a76: dot product and FP16, no i8mm or BF16)"; ctest --preset arm64-dotprod -j2
fi
if $asan; then
  step build asan; bash scripts/build.sh asan
  step ctest asan; ctest --preset asan -j2
fi
step done
