// Runs the ONNX Runtime PP-OCRv4 pipeline of npm @gutenye/ocr-node (the
// peer pareto ocr is compared with) over a list of images.
//
// usage: node peer_ocr.mjs NODE_MODULES THREADS LIST_FILE
// LIST_FILE: one image path per line. Prints one JSON object per image
// ({file, lines, ms}) and a last one with the process's peak RSS. The first
// image is run once untimed first (session warm-up), as for pareto.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, threadsArg, listFile] = process.argv.slice(2);
const threads = Number(threadsArg);
const files = fs.readFileSync(listFile, 'utf8').split('\n').filter(Boolean);
const { default: Ocr } = await import(pathToFileURL(path.join(modules, '@gutenye/ocr-node/build/index.js')).href);
const onnxOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' };
const ocr = await Ocr.create({ onnxOptions });
if (files.length) await ocr.detect(files[0]);
for (const file of files) {
  const t0 = process.hrtime.bigint();
  const lines = await ocr.detect(file);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ file, lines: lines.map((l) => l.text), ms }));
}
console.log(JSON.stringify({ peak_rss_kb: process.resourceUsage().maxRSS }));
