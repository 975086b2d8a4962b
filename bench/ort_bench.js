// Latency of ONNX Runtime (npm onnxruntime-node, CPU) on one model with random
// inputs, for interleaved comparisons with `pareto bench` (bench/compare_ort.sh).
// usage: node ort_bench.js ORT_MODULE_DIR MODEL NAME=D0,D1,... RUNS THREADS [opt|noopt]
'use strict';
const fs = require('fs');
const path = require('path');
// Memory from /proc: the peak (VmHWM) at the end, and node's own resident
// size before ONNX Runtime is loaded, so its share can be told apart.
function procKb(field) {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : 0;
}
const baselineKb = procKb('VmRSS');
const [ortDir, model, shapeArg, runsArg, threadsArg, optArg] = process.argv.slice(2);
const ort = require(path.resolve(ortDir, 'onnxruntime-node'));

async function main() {
  const [name, dims] = shapeArg.split('=');
  const shape = dims.split(',').map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37) * 0.9;
  const opts = { intraOpNumThreads: Number(threadsArg), interOpNumThreads: 1, logSeverityLevel: 3 };
  if (optArg === 'noopt') opts.graphOptimizationLevel = 'disabled';
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, opts);
  const load = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = { [name]: new ort.Tensor('float32', data, shape) };
  const times = [];
  for (let i = 0; i < Number(runsArg) + 2; i++) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    if (i >= 2) times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ load_ms: load, median_ms: times[Math.floor(times.length / 2)], min_ms: times[0],
    peak_rss_bytes: procKb('VmHWM') * 1024, node_baseline_rss_bytes: baselineKb * 1024 }));
}
main().catch(e => { console.error(e); process.exit(1); });
