// openWakeWord's streaming pipeline on ONNX Runtime (npm onnxruntime-node,
// fetched by scripts/fetch-models.sh): the reference pareto wakeword's scores
// are checked against. Same buffering as pareto (see pareto/wakeword.hpp):
// 1280-sample chunks scaled to 16-bit PCM values with the 480 samples before
// them, mel frames x/10 + 2, 76-frame embedding windows, heads over their last
// W embeddings, the stream starting from the state long silence leaves.
// usage: node wakeword_reference.mjs MODELS_DIR AUDIO.wav KEYWORD... [--against SCORES.txt] [--time ROUNDS]
//   prints "# END_TIME\tSCORE..." per chunk (as `pareto wakeword --scores`);
//   --against: compares with pareto's lines, prints the largest difference,
//   exits 1 above 1e-4 or when the chunk counts differ;
//   --time: runs the whole file ROUNDS times and prints the median ms.
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ort = createRequire(path.join(root, '.cache/npm/'))('onnxruntime-node');

const args = process.argv.slice(2);
const flag = (name) => { const i = args.indexOf(name); if (i < 0) return null; const v = args[i + 1]; args.splice(i, 2); return v; };
const against = flag('--against'), rounds = Number(flag('--time') || 0);
const [dir, wav, ...keywords] = args;

function readPcm16(file) {  // mono 16 kHz 16-bit PCM only: the test clips
  const b = fs.readFileSync(file);
  let o = 12, fmt = -1;
  while (o + 8 <= b.length) {
    const id = b.toString('ascii', o, o + 4), size = b.readUInt32LE(o + 4);
    if (id === 'fmt ') fmt = o + 8;
    if (id === 'data') {
      if (fmt < 0 || b.readUInt16LE(fmt) !== 1 || b.readUInt16LE(fmt + 2) !== 1 || b.readUInt32LE(fmt + 4) !== 16000 || b.readUInt16LE(fmt + 14) !== 16)
        throw new Error(`${file}: not mono 16 kHz 16-bit PCM`);
      const n = Math.floor(Math.min(size, b.length - o - 8) / 2), x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = b.readInt16LE(o + 8 + 2 * i);  // PCM values, as the models were trained
      return x;
    }
    o += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const mel = await ort.InferenceSession.create(path.join(dir, 'melspectrogram.onnx'), opts);
const emb = await ort.InferenceSession.create(path.join(dir, 'embedding_model.onnx'), opts);
const heads = [];
for (const k of keywords) heads.push(await ort.InferenceSession.create(path.join(dir, `${k}_v0.1.onnx`), opts));
const windowOf = (h) => { const m = h.inputMetadata; const d = (Array.isArray(m) ? m[0] : m[h.inputNames[0]]).shape[1]; return typeof d === 'number' ? d : 16; };
const windows = heads.map(windowOf), maxWindow = Math.max(16, ...windows);

async function melFrames(pcm) {
  const r = await mel.run({ [mel.inputNames[0]]: new ort.Tensor('float32', pcm, [1, pcm.length]) });
  return Float32Array.from(r[mel.outputNames[0]].data, (v) => v / 10 + 2);
}
async function embedding(frames) {
  const r = await emb.run({ [emb.inputNames[0]]: new ort.Tensor('float32', frames, [1, 76, 32, 1]) });
  return Float32Array.from(r[emb.outputNames[0]].data);
}

async function scoreFile(audio) {
  const silentFrame = (await melFrames(new Float32Array(1760))).slice(0, 32);
  let frames = new Float32Array(76 * 32);
  for (let i = 0; i < 76; i++) frames.set(silentFrame, i * 32);
  const silentEmbedding = await embedding(frames);
  let features = new Float32Array(maxWindow * 96);
  for (let i = 0; i < maxWindow; i++) features.set(silentEmbedding, i * 96);
  let context = new Float32Array(480);
  const n = Math.ceil(audio.length / 1280), rows = [];
  for (let c = 0; c < n; c++) {
    const pcm = new Float32Array(1760);
    pcm.set(context);
    pcm.set(audio.subarray(c * 1280, Math.min(audio.length, (c + 1) * 1280)), 480);  // a short last chunk is padded with silence
    context = pcm.slice(1280);
    const f = await melFrames(pcm);
    const nextFrames = new Float32Array(76 * 32);
    nextFrames.set(frames.subarray(8 * 32));
    nextFrames.set(f, 68 * 32);
    frames = nextFrames;
    const e = await embedding(frames);
    const nextFeatures = new Float32Array(maxWindow * 96);
    nextFeatures.set(features.subarray(96));
    nextFeatures.set(e, (maxWindow - 1) * 96);
    features = nextFeatures;
    const row = [];
    for (let k = 0; k < heads.length; k++) {
      const w = windows[k], h = heads[k];
      const x = features.slice((maxWindow - w) * 96);
      const r = await h.run({ [h.inputNames[0]]: new ort.Tensor('float32', x, [1, w, 96]) });
      row.push(r[h.outputNames[0]].data[0]);
    }
    rows.push(row);
  }
  return rows;
}

const audio = readPcm16(wav);
const rows = await scoreFile(audio);
if (rounds > 0) {
  const times = [];
  for (let r = 0; r < rounds; r++) { const t0 = process.hrtime.bigint(); await scoreFile(audio); times.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  times.sort((a, b) => a - b);
  console.log(`median_ms=${times[Math.floor(times.length / 2)].toFixed(2)} audio_s=${(audio.length / 16000).toFixed(3)} chunks=${rows.length}`);
} else if (against) {
  const theirs = fs.readFileSync(against, 'utf8').split('\n').filter((l) => l.startsWith('# ')).map((l) => l.slice(2).split('\t').slice(1).map(Number));
  if (theirs.length !== rows.length) { console.log(`chunks differ: pareto ${theirs.length}, ONNX Runtime ${rows.length}`); process.exit(1); }
  let worst = 0, at = 0;
  rows.forEach((row, c) => row.forEach((v, k) => { const d = Math.abs(v - theirs[c][k]); if (!(d <= worst)) { worst = d; at = c; } }));
  const peak = keywords.map((k, i) => `${k} ${Math.max(...rows.map((r) => r[i])).toFixed(4)}`).join(', ');
  console.log(`${rows.length} chunks, largest score difference ${worst.toExponential(2)} (chunk ${at}); peaks: ${peak}`);
  process.exit(worst <= 1e-4 ? 0 : 1);
} else {
  rows.forEach((row, c) => console.log(`# ${((c + 1) * 0.08).toFixed(2)}\t${row.map((v) => v.toFixed(6)).join('\t')}`));
}
