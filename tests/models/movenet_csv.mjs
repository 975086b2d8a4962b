// MoveNet's keypoints (pareto's output .npy, [1, 1, 17, 3] as y, x, score)
// against Coral's reference CSV for squat.bmp: positions must lie within
// TOLERANCE (normalized image coordinates); prints every keypoint and the
// largest differences of position and score.
// usage: node movenet_csv.mjs OUT.npy REFERENCE.csv [TOLERANCE=0.0417 (two cells of the 48 x 48 heatmap)]
import fs from 'fs';

const [npy, csvPath, tol = '0.0417'] = process.argv.slice(2);
const b = fs.readFileSync(npy);
if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${npy}: not a .npy file`);
const header = 10 + b.readUInt16LE(8);
const out = new Float32Array(b.buffer.slice(b.byteOffset + header, b.byteOffset + b.length));
if (out.length !== 51) throw new Error(`${npy}: ${out.length} values, 17 x 3 expected`);
const rows = fs.readFileSync(csvPath, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
let position = 0, score = 0;
for (const [, , k, s, x, y] of rows) {
  const [py, px, ps] = [out[3 * k], out[3 * k + 1], out[3 * k + 2]];
  position = Math.max(position, Math.abs(px - x), Math.abs(py - y));
  score = Math.max(score, Math.abs(ps - s));
  console.log(`keypoint ${k}: pareto y ${py.toFixed(4)} x ${px.toFixed(4)} score ${ps.toFixed(4)} | Coral y ${y} x ${x} score ${s}`);
}
console.log(`largest position difference ${position.toFixed(4)} (tolerance ${tol}), largest score difference ${score.toFixed(4)}`);
process.exit(position <= Number(tol) ? 0 : 1);
