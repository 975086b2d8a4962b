// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU) on .npy
// inputs and writes every output as .npy: the side of pareto's cross-checks
// that is not pareto (QDQ models pareto wrote, compared tensor by tensor).
// usage: node bench/ort_run.js ORT_MODULE_DIR MODEL OUT_DIR THREADS opt|noopt NAME=IN.npy...
'use strict';
const fs = require('fs');
const path = require('path');

const [ortDir, model, outDir, threads, opt, ...inputs] = process.argv.slice(2);
const ort = require(path.resolve(ortDir, 'onnxruntime-node'));

const TYPES = {
  '<f4': ['float32', Float32Array], '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array],
  '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array],
};

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const [type, Arr] = TYPES[descr] || (() => { throw new Error(`${file}: dtype ${descr}`); })();
  const data = b.subarray(start + hlen);
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return new ort.Tensor(type, new Arr(copy.buffer, 0, data.length / Arr.BYTES_PER_ELEMENT), shape);
}

function writeNpy(file, t) {
  const descr = Object.keys(TYPES).find((k) => TYPES[k][0] === t.type);
  if (!descr) throw new Error(`output type ${t.type}`);
  const dims = t.dims;
  const shapeStr = dims.length === 0 ? '()' : dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  const d = t.data;
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

(async () => {
  const so = { intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
               graphOptimizationLevel: opt === 'noopt' ? 'disabled' : 'all' };
  const session = await ort.InferenceSession.create(model, so);
  const feeds = {};
  for (const kv of inputs) {
    const eq = kv.indexOf('=');
    feeds[kv.slice(0, eq)] = readNpy(kv.slice(eq + 1));
  }
  const out = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of session.outputNames) writeNpy(path.join(outDir, name.replace(/[^A-Za-z0-9_.-]/g, '_') + '.npy'), out[name]);
})().catch((e) => { console.error(e.message || e); process.exit(1); });
