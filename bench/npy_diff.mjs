// Compares the uint8/int8 .npy files two engines wrote for the same model
// outputs (quantized activations), in quantization steps: per file the
// largest difference, the elements more than one step apart and the share
// that differs at all; a summary line at the end. Float files: largest
// absolute difference. Exits 1 if a file is missing or shapes differ.
// usage: node bench/npy_diff.mjs DIR_A DIR_B
import fs from 'node:fs';
import path from 'node:path';

const [a, b] = process.argv.slice(2);
function read(file) {
  const buf = fs.readFileSync(file);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const body = buf.subarray(start + hlen);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  const view = { '|u1': Uint8Array, '|i1': Int8Array, '<f4': Float32Array, '<i4': Int32Array }[descr];
  if (!view) throw new Error(`${file}: dtype ${descr}`);
  return { descr, shape, data: new view(copy.buffer, 0, body.length / view.BYTES_PER_ELEMENT) };
}
let status = 0, worst = 0, files = 0, elements = 0, over1 = 0, differ = 0;
for (const f of fs.readdirSync(a).filter((f) => f.endsWith('.npy')).sort()) {
  const fb = path.join(b, f);
  if (!fs.existsSync(fb)) { console.log(`missing in ${b}: ${f}`); status = 1; continue; }
  const x = read(path.join(a, f)), y = read(fb);
  if (x.shape !== y.shape || x.descr !== y.descr) { console.log(`${f}: shapes/types differ (${x.shape} ${x.descr} vs ${y.shape} ${y.descr})`); status = 1; continue; }
  let max = 0, o1 = 0, d = 0;
  for (let i = 0; i < x.data.length; i++) {
    const e = Math.abs(x.data[i] - y.data[i]);
    if (e > max) max = e;
    if (e > 1) o1++;
    if (e > 0) d++;
  }
  const q = x.descr !== '<f4';
  if (q) { worst = Math.max(worst, max); files++; elements += x.data.length; over1 += o1; differ += d; }
  console.log(`${f}: ${x.data.length} elements, largest difference ${q ? max + ' steps' : max.toExponential(3)}` +
              (q ? `, ${o1} more than 1 step apart, ${(100 * d / x.data.length).toFixed(3)}% differ` : ''));
}
console.log(`summary: ${files} quantized tensors, ${elements} elements: largest difference ${worst} steps, ` +
            `${over1} elements (${(100 * over1 / Math.max(1, elements)).toFixed(4)}%) more than 1 step apart, ${(100 * differ / Math.max(1, elements)).toFixed(3)}% differ`);
process.exit(status);
