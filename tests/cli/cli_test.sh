#!/usr/bin/env bash
# End-to-end checks of the pareto CLI on a model the test writes itself
# (via the ONNX backend test data when installed, else skipped).
# usage: cli_test.sh PARETO NPY_COMPARE
set -euo pipefail
pareto=$1 compare=$2
case_dir=/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding
if [ ! -d "$case_dir" ]; then echo "SKIPPED: libonnx-testdata not installed"; exit 77; fi
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
model=$case_dir/model.onnx

"$pareto" info "$model" > "$out/info.txt"
grep -q "Conv" "$out/info.txt"
grep -q "parameters:" "$out/info.txt"
"$pareto" info "$model" --graph | grep -q "= Conv("

"$pareto" run "$model" --input x=random:7 --output "$out/run/nested" --profile 2> "$out/profile.txt"
[ -f "$out/run/nested/y.npy" ]
grep -q "by op type" "$out/profile.txt"
# same seed, same bytes
"$pareto" run "$model" --input x=random:7 --output "$out/run2" > /dev/null
cmp "$out/run/nested/y.npy" "$out/run2/y.npy"

"$pareto" bench "$model" --runs 3 --warmup 1 --json | grep -q '"median_ms"'
# bench --json lists the cpus it ran on: the one --cpu-mask names alone
# (the first this shell may use), and more than one unmasked where the
# shell may use more (pareto tune --timing-cpu checks its children so).
cpus=$(taskset -cp $$ | sed 's/.*: *//')
first=$(cut -d, -f1 <<<"$cpus" | cut -d- -f1)
mask=$(printf '0x%x' $((1 << (first % 60))))
if [ "$first" -lt 60 ]; then
  "$pareto" bench "$model" --runs 1 --warmup 0 --threads 1 --cpu-mask "$mask" --json | grep -q "\"cpus\":\[$first\]" \
    || { echo "bench --cpu-mask $mask did not report cpus [$first]"; exit 1; }
fi
if [ "$(nproc)" -gt 1 ]; then
  "$pareto" bench "$model" --runs 1 --warmup 0 --json | grep -q '"cpus":\[[0-9]*,' || { echo "unmasked bench did not list its cpus"; exit 1; }
fi

# The backend test case's own input gives its expected output; a random
# input does not (the comparison tool can tell the difference).
"$pareto" run "$model" --input "x=$case_dir/test_data_set_0/input_0.pb" --input "W=$case_dir/test_data_set_0/input_1.pb" --output "$out/case" > /dev/null
"$compare" "$case_dir/test_data_set_0/output_0.pb" "$out/case/y.npy"
if "$compare" "$case_dir/test_data_set_0/output_0.pb" "$out/run2/y.npy" > "$out/cmp.txt"; then echo "random input matched"; exit 1; fi
grep -q "^FAIL" "$out/cmp.txt"

# Options are checked: unknown ones and out-of-range numbers are refused by name.
if "$pareto" run "$model" --treads 2 > "$out/err4.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q "unknown option '--treads'.*did you mean --threads" "$out/err4.txt"
if "$pareto" run "$model" --threads 99999999999 > "$out/err5.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q -- "--threads expects a whole number from 1 to 1024" "$out/err5.txt"
if "$pareto" bench "$model" --runs 3x > "$out/err6.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q -- "--runs expects a whole number" "$out/err6.txt"

# Resource limits: a lower tensor-bytes limit refuses the model's tensors by name, and says how to raise it.
if "$pareto" run "$model" --limit tensor-bytes=64 > "$out/err7.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q "above the tensor-bytes limit of 64 (raise it with --limit tensor-bytes=N" "$out/err7.txt"
if "$pareto" run "$model" --limit tensor-bites=64 > "$out/err8.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q "NAME one of tensor-bytes" "$out/err8.txt"
"$pareto" run "$model" --limit tensor-bytes=1M > /dev/null

# bad input is a clear error with a non-zero exit, not a crash
if "$pareto" run "$model" --input nope=random > "$out/err.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q "no input named 'nope'" "$out/err.txt"
head -c 100 "$model" > "$out/truncated.onnx"
if "$pareto" info "$out/truncated.onnx" > "$out/err2.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q "truncated.onnx" "$out/err2.txt"
if "$pareto" run /nonexistent.onnx > "$out/err3.txt" 2>&1; then echo "expected failure"; exit 1; fi
grep -q "cannot open" "$out/err3.txt"
echo "cli ok"
