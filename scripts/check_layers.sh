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

# The public headers that are data and core services (the core implements
# them, or they are plain structs); the rest of include/pareto is the API
# that api and apps implement, which the layers below api must not call.
core_public="pareto/error.h pareto/tensor.h pareto/dtype.h pareto/limits.hpp pareto/thread_pool.hpp pareto/eval_types.hpp"

bad=0
# No cycles: repeatedly take the layers whose declared layers are all taken.
done_layers=" " progress=1
while [ $progress = 1 ]; do
  progress=0
  for l in "${!deps[@]}"; do
    [[ "$done_layers" == *" $l "* ]] && continue
    ready=1
    for d in ${deps[$l]}; do [ "$d" = "$l" ] || [[ "$done_layers" == *" $d "* ]] || ready=0; done
    if [ $ready = 1 ]; then done_layers+="$l "; progress=1; fi
  done
done
for l in "${!deps[@]}"; do
  [[ "$done_layers" == *" $l "* ]] || { echo "CMakeLists.txt: layer $l is on a cycle (or depends on an undeclared layer): DEPS ${deps[$l]#$l }"; bad=1; }
done

report() { echo "$1:$2: includes \"$3\": $4"; bad=1; }

check_file() {  # file layer
  local f=$1 layer=$2 n=0 line inc top
  while IFS= read -r line; do
    n=$((n + 1))
    # <...> includes are for system headers: one naming a layer or climbing
    # folders would slip past the quoted-include rules.
    if [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
      inc=${BASH_REMATCH[1]}
      if [[ "$inc" == *..* ]] || [[ " ${!deps[*]} pareto " == *" ${inc%%/*} "* && "$inc" == */* ]]; then
        report "$f" $n "<$inc>" "project headers are included with quotes, without ../"
      fi
      continue
    fi
    [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
    inc=${BASH_REMATCH[1]}
    if [[ "$inc" == *..* ]]; then report "$f" $n "$inc" "no ../ paths: include through the layer's root"; continue; fi
    if [[ "$inc" != */* ]]; then continue; fi  # a file beside this one (same folder, same layer)
    top=${inc%%/*}
    case "$layer" in
      public)
        [ "$top" = pareto ] || report "$f" $n "$inc" "a public header may include only public headers";;
      tools|apps|serve)
        [ "$top" = pareto ] || [ "$top" = "$layer" ] || report "$f" $n "$inc" "$layer uses the public API only (include/pareto)";;
      *)
        if [ "$top" = pareto ]; then
          if [ "$layer" != api ] && [[ " $core_public " != *" $inc "* ]]; then
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
