#!/usr/bin/env bash
# Renders the OCR image set into DIR with make_set.mjs (SEED: another set of
# the same kinds), again only when the generator changed since the last time.
# usage: bash bench/ocr/ensure_set.sh DIR [SEED]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1 seed=${2:-}
stamp=$(sha1sum "$here/make_set.mjs" | cut -c1-12)${seed:+-$seed}
if [ ! -f "$dir/$stamp.done" ]; then
  rm -rf "$dir"
  node "$here/make_set.mjs" "$dir" $seed >&2
  touch "$dir/$stamp.done"
fi
