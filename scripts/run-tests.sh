#!/usr/bin/env bash
# Every test: install, fetch models, build release and run ctest, then build
# with ASan+UBSan and run the whole suite again, then fuzz every parser for a
# bounded time (clang, libFuzzer, ASan+UBSan) and run the concurrency tests
# under ThreadSanitizer (skip the last three with --no-sanitize).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/fetch-models.sh
bash scripts/build.sh release
ctest --preset release -j2
if [ "${1:-}" != "--no-sanitize" ]; then
  bash scripts/build.sh asan
  ctest --preset asan -j2
  bash scripts/build.sh fuzz
  ctest --preset fuzz -j2
  bash scripts/build.sh tsan
  ctest --preset tsan
fi
