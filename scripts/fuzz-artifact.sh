#!/usr/bin/env bash
# Fuzzes the compiled-artifact reader with libFuzzer (clang, ASan+UBSan) for
# SECONDS (default 120), growing the kept corpus in tests/fuzz/corpus/artifact.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-120}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARETO_FUZZ=ON -DPARETO_BUILD_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fsanitize=fuzzer-no-link" >/dev/null
cmake --build build-fuzz -j2 --target artifact_fuzz
mkdir -p tests/fuzz/corpus/artifact
build-fuzz/artifact_fuzz -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 tests/fuzz/corpus/artifact
