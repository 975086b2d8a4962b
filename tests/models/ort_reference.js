// Builds the inputs for tests/models/cases.json and runs them through ONNX
// Runtime (npm onnxruntime-node, CPU, 1 thread, graph optimizations off so
// the reference is the plain fp32 graph: ORT's fused path alone differs from
// its unfused path by up to 5e-5 on det_image), writing
//   OUT/<case>/inputs/<name>.npy and OUT/<case>/ort/<output>.npy
// usage: node ort_reference.js CASES.json MODELS_DIR OUT_DIR ORT_MODULE_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const [casesPath, modelsDir, outDir, ortDir] = process.argv.slice(2);
const ort = require(path.resolve(ortDir, 'onnxruntime-node'));

const DTYPES = { float32: ['<f4', Float32Array], int64: ['<i8', BigInt64Array] };

function writeNpy(file, dtype, shape, data) {
  const shapeStr = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DTYPES[dtype][0]}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0; pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

// mulberry32: small deterministic PRNG; values are uniform in [-1, 1).
function random(n, seed) {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) >>> 8) / 16777216) * 2 - 1;
  }
  return out;
}

// A text image rendered with ImageMagick, normalized the way PP-OCR does.
function image(kind, shape) {
  const [, , h, w] = shape;
  const lines = kind === 'det'
    ? ['-annotate', '+40+120', 'pareto: on-device OCR', '-annotate', '+40+260', 'Invoice No. 2026-1124',
       '-annotate', '+40+400', '\u6d4b\u8bd5 \u6587\u5b57 \u8bc6\u522b', '-annotate', '+40+540', 'Total: $1,234.50']
    : ['-annotate', '+6+36', 'Hello 2026!'];
  const args = ['-size', `${w}x${h}`, 'xc:white', '-fill', 'black', '-font', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '-pointsize', kind === 'det' ? '48' : '30',
                ...lines, '-depth', '8', 'rgb:-'];
  const raw = execFileSync('convert', args, { maxBuffer: 64 << 20 });
  const out = new Float32Array(3 * h * w);
  const mean = kind === 'det' ? [0.485, 0.456, 0.406] : [0.5, 0.5, 0.5];
  const std = kind === 'det' ? [0.229, 0.224, 0.225] : [0.5, 0.5, 0.5];
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < h * w; i++) out[c * h * w + i] = (raw[i * 3 + c] / 255 - mean[c]) / std[c];
  return out;
}

// A voiced, speech-like waveform: harmonics of a gliding pitch under an envelope.
function wave(n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000, f0 = 120 + 40 * t * 10;
    let v = 0;
    for (let k = 1; k <= 12; k++) v += Math.sin(2 * Math.PI * f0 * k * t) * Math.exp(-0.25 * k) * (k === 3 || k === 7 ? 2 : 1);
    out[i] = 0.2 * v * Math.sin(Math.PI * i / n);
  }
  return out;
}

function makeInput(spec) {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const [kind, arg] = spec.source.split(':');
  if (spec.dtype === 'int64') {
    if (kind !== 'fill') throw new Error('int64 inputs support fill:V only');
    return BigInt64Array.from({ length: n }, () => BigInt(arg));
  }
  if (kind === 'random') return random(n, Number(arg));
  if (kind === 'image') return image(arg, spec.shape);
  if (kind === 'wave') return wave(n);
  if (kind === 'zeros') return new Float32Array(n);
  if (kind === 'fill') return new Float32Array(n).fill(Number(arg));
  throw new Error('unknown source ' + spec.source);
}

async function main() {
  const { cases } = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  const manifest = [];
  for (const c of cases) {
    const dir = path.join(outDir, c.name);
    fs.mkdirSync(path.join(dir, 'inputs'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'ort'), { recursive: true });
    const feeds = {};
    for (const [name, spec] of Object.entries(c.inputs)) {
      const data = makeInput(spec);
      writeNpy(path.join(dir, 'inputs', name + '.npy'), spec.dtype, spec.shape, data);
      feeds[name] = new ort.Tensor(spec.dtype, data, spec.shape);
    }
    const session = await ort.InferenceSession.create(path.join(modelsDir, c.model),
                                                      { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3, graphOptimizationLevel: 'disabled' });
    const results = await session.run(feeds);
    for (const name of session.outputNames) {
      const t = results[name];
      const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
      writeNpy(path.join(dir, 'ort', safe + '.npy'), t.type, t.dims, t.data);
    }
    manifest.push([c.name, c.model, ...Object.keys(c.inputs)].join('\t'));
    console.log(`${c.name}: ${session.outputNames.map(n => n + ' ' + JSON.stringify(results[n].dims)).join(', ')}`);
  }
  fs.writeFileSync(path.join(outDir, 'manifest.tsv'), manifest.join('\n') + '\n');
}

main().catch(e => { console.error(e); process.exit(1); });
