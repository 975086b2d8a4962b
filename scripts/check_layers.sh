#!/usr/bin/env bash
# Checks every #include "..." in src/, tools/ and include/ against the layer
# rules (docs/ARCHITECTURE.md). The layers and what each may include come
# from the pareto_layer(NAME ... DEPS ...) lines of CMakeLists.txt, the same
# declarations the build compiles with, so the rules are written once. On
# top of the build's check this one also sees includes that the include
# roots cannot catch: "../" paths, and which public headers a layer uses.
#   scripts/check_layers.sh        exit 1 and one line per violation
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

declare -A deps
while read -r name rest; do
  d=""
  [[ "$rest" == *DEPS* ]] && d=${rest#*DEPS }
  deps[$name]="$name ${d%)}"
done < <(sed -n 's/^pareto_layer(\([a-z]*\) SOURCES [^ ]*\(.*\)$/\1 \2/p' CMakeLists.txt)
[ ${#deps[@]} -ge 10 ] || { echo "check_layers: found ${#deps[@]} pareto_layer() lines in CMakeLists.txt, expected 10" >&2; exit 2; }

# Public headers the core implements (types every layer passes around); the
# rest of include/pareto is the API that api and apps implement.
core_public="pareto/error.h pareto/tensor.h pareto/dtype.h pareto/limits.hpp pareto/thread_pool.hpp"
# quant fills the public option and report types of quantize.hpp.
extra_public_quant="pareto/quantize.hpp"

bad=0
report() { echo "$1:$2: includes \"$3\": $4"; bad=1; }

check_file() {  # file layer
  local f=$1 layer=$2 n=0 line inc top
  while IFS= read -r line; do
    n=$((n + 1))
    [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]+\"([^\"]+)\" ]] || continue
    inc=${BASH_REMATCH[1]}
    if [[ "$inc" == *..* ]]; then report "$f" $n "$inc" "no ../ paths: include through the layer's root"; continue; fi
    if [[ "$inc" != */* ]]; then continue; fi  # a file beside this one (same folder, same layer)
    top=${inc%%/*}
    case "$layer" in
      public)
        [ "$top" = pareto ] || report "$f" $n "$inc" "a public header may include only public headers";;
      tools|apps)
        [ "$top" = pareto ] || [ "$top" = "$layer" ] || report "$f" $n "$inc" "$layer uses the public API only (include/pareto)";;
      *)
        if [ "$top" = pareto ]; then
          if [ "$layer" != api ] && [[ " $core_public " != *" $inc "* ]] && ! { [ "$layer" = quant ] && [ "$inc" = "$extra_public_quant" ]; }; then
            report "$f" $n "$inc" "below api a layer may include only the core's public headers ($core_public)"
          fi
        elif [[ " ${deps[$layer]} " != *" $top "* ]]; then
          report "$f" $n "$inc" "layer $layer may include only: ${deps[$layer]}"
        fi;;
    esac
  done < "$f"
}

for layer in "${!deps[@]}"; do
  while IFS= read -r f; do check_file "$f" "$layer"; done < <(find "src/$layer" -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.inc')
done
while IFS= read -r f; do check_file "$f" tools; done < <(find tools -name '*.h' -o -name '*.cpp')
while IFS= read -r f; do check_file "$f" public; done < <(find include -name '*.h' -o -name '*.hpp')
# Every folder of src/ is a declared layer.
for d in src/*/; do
  d=${d%/}; d=${d#src/}
  [ -n "${deps[$d]:-}" ] || { echo "src/$d: not a layer declared in CMakeLists.txt"; bad=1; }
done
if [ $bad = 0 ]; then echo "check_layers: every include follows the layer rules (${#deps[@]} layers)"; fi
exit $bad
