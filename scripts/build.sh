#!/usr/bin/env bash
# Configures and builds one preset (release by default, or asan).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-release}
cmake -S "$root" --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j2
