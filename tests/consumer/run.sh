#!/usr/bin/env bash
# Installs a build into a fresh prefix and builds tests/consumer against it
# twice: with CMake (find_package(pareto)) and with pkg-config, then runs the
# programs on ONNX's Relu test model and checks their output.
#   tests/consumer/run.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
model=/usr/share/libonnx-testdata/data/node/test_relu/model.onnx
if [ ! -f "$model" ]; then echo "skipped: $model not found (Debian libonnx-testdata)"; exit 77; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
# The library folder is lib or lib/<multiarch>, as GNUInstallDirs chose.
libdir=$(dirname "$(find "$prefix" -name libpareto.a | head -1)")
for f in bin/pareto include/pareto/pareto.hpp include/pareto/pareto.h include/pareto/ocr.hpp "${libdir#$prefix/}/libpareto.a" \
         "${libdir#$prefix/}/libpareto_apps.a" "${libdir#$prefix/}/cmake/pareto/paretoConfig.cmake" \
         "${libdir#$prefix/}/pkgconfig/pareto.pc" "${libdir#$prefix/}/pkgconfig/pareto-apps.pc"; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
ls "$libdir"/libpareto.so* "$libdir"/libpareto_apps.so* >/dev/null 2>&1 || { echo "FAIL: libpareto.so / libpareto_apps.so not installed"; exit 1; }
# The engine library needs no image codec; only the apps library does.
if ldd "$libdir/libpareto.so" | grep -q 'libpng\|libjpeg'; then echo "FAIL: libpareto.so links an image codec"; exit 1; fi
expected="y: 0 0 0 0 1 2 3 0"
check() {  # name, output
  local line
  line=$(printf '%s\n' "$2" | grep '^y:' || true)
  if [ "$line" != "$expected" ]; then echo "FAIL: $1 printed '$line', expected '$expected'"; printf '%s\n' "$2"; exit 1; fi
  echo "ok: $1"
}
# CMake package. The consumer's build tree never sees pareto's sources.
cmake -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake-build" -j2 >/dev/null
export LD_LIBRARY_PATH=$libdir
check "find_package, C++, shared" "$("$work/cmake-build/consumer_cpp" "$model")"
check "find_package, C, shared" "$("$work/cmake-build/consumer_c" "$model")"
check "find_package, C++, static" "$("$work/cmake-build/consumer_cpp_static" "$model")"
for app in consumer_apps consumer_apps_static; do
  "$work/cmake-build/$app" | grep -q '^apps: errors name the missing models$' || { echo "FAIL: $app"; "$work/cmake-build/$app"; exit 1; }
  echo "ok: find_package, OCR/VAD, $app"
done
# pkg-config: C against the shared library, C++ against the static one.
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -o "$work/pc_c" "$here/consumer.c" $(pkg-config --cflags --libs pareto)
check "pkg-config, C, shared" "$("$work/pc_c" "$model")"
c++ -std=c++20 -o "$work/pc_cpp" "$here/consumer.cpp" $(pkg-config --cflags pareto) "$libdir/libpareto.a" $(pkg-config --libs-only-other --static pareto) \
  $(pkg-config --static --libs pareto | tr ' ' '\n' | grep -v -- '-lpareto' | tr '\n' ' ')
check "pkg-config, C++, static" "$("$work/pc_cpp" "$model")"
c++ -std=c++20 -o "$work/pc_apps" "$here/consumer_apps.cpp" $(pkg-config --cflags --libs pareto-apps)
"$work/pc_apps" | grep -q '^apps: errors name the missing models$' || { echo "FAIL: pkg-config pareto-apps"; exit 1; }
echo "ok: pkg-config, OCR/VAD, shared"
# The installed CLI runs from the prefix.
"$prefix/bin/pareto" info "$model" >/dev/null
echo "ok: installed CLI"
