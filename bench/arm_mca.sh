#!/usr/bin/env bash
# Static cycle estimates for the AArch64 hot loops (docs/ARM.md): installs
# Debian's llvm-16 (its llvm-mca has Cortex-A55 and Neoverse-N2 models) and
# the cross compiler when missing, then prints the table.
# usage: bash bench/arm_mca.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
missing=()
for p in llvm-16 g++-aarch64-linux-gnu python3; do
  dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "arm_mca: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "compiler: $(aarch64-linux-gnu-g++ --version | head -1); $(llvm-mca-16 --version | grep -m1 'LLVM version' | sed 's/^ *//')"
python3 "$root/bench/arm_mca.py" "$root" --cxx aarch64-linux-gnu-g++ --mca llvm-mca-16
