// Scores OCR results against the rendered truth, per category.
//
// usage: node score.mjs SET_DIR RESULTS.jsonl [--show-misses]
// RESULTS.jsonl: one object per image, {image|file, lines: [text | {text}], ms}
// (pareto ocr --json with several images, or peer_ocr.mjs). Prints JSON:
// {category: {images, lines, exact, chars, errors, cer, exact_rate, median_ms}}.
// Text is compared exactly: spaces, punctuation and full-width forms count;
// only spaces at either end of a line (invisible) are dropped, for both
// engines alike.
// CER is the edit distance between the truth lines and the read lines, each
// joined with '\n' (a missed or extra line costs its characters), over the
// truth's characters; a line is exact when the i-th line read equals the
// i-th line rendered.
import fs from 'node:fs';
import path from 'node:path';

export function editDistance(a, b) {
  const A = [...a], B = [...b];
  let prev = Array.from({ length: B.length + 1 }, (_, j) => j);
  for (let i = 1; i <= A.length; i++) {
    const cur = [i];
    for (let j = 1; j <= B.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (A[i - 1] === B[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[B.length];
}

export function score(setDir, resultsFile, showMisses = false, category = null) {
  const truth = JSON.parse(fs.readFileSync(path.join(setDir, 'truth.json'), 'utf8'));
  const byFile = new Map();
  for (const line of fs.readFileSync(resultsFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    const f = r.image || r.file;
    if (!f) continue;
    const text = (l) => (typeof l === 'string' ? l : l.text).replace(/^ +| +$/g, '');
    byFile.set(path.resolve(f), { lines: r.lines.map(text), ms: r.ms });
  }
  const cats = {};
  for (const t of truth) {
    if (category && t.category !== category) continue;
    const c = (cats[t.category] ??= { images: 0, lines: 0, exact: 0, chars: 0, errors: 0, ms: [] });
    const r = byFile.get(path.resolve(setDir, t.file));
    if (!r) throw new Error(`score: no result for ${t.file} in ${resultsFile}`);
    c.images++;
    c.ms.push(r.ms);
    const want = t.lines.join('\n'), got = r.lines.join('\n');
    c.chars += [...want].length;
    c.errors += editDistance(want, got);
    t.lines.forEach((l, i) => {
      c.lines++;
      if (r.lines[i] === l) c.exact++;
      else if (showMisses) console.error(`miss ${t.file}: want ${JSON.stringify(l)} got ${JSON.stringify(r.lines[i] ?? null)}`);
    });
    if (showMisses && r.lines.length > t.lines.length) console.error(`extra ${t.file}: ${JSON.stringify(r.lines.slice(t.lines.length))}`);
  }
  const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  const out = {};
  const all = { images: 0, lines: 0, exact: 0, chars: 0, errors: 0, ms: [] };
  for (const [k, c] of Object.entries(cats)) {
    for (const key of ['images', 'lines', 'exact', 'chars', 'errors']) all[key] += c[key];
    all.ms.push(...c.ms);
    out[k] = { ...c, ms: undefined, cer: c.errors / c.chars, exact_rate: c.exact / c.lines, median_ms: median(c.ms) };
  }
  out.all = { ...all, ms: undefined, cer: all.errors / all.chars, exact_rate: all.exact / all.lines, median_ms: median(all.ms) };
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [setDir, results] = process.argv.slice(2);
  console.log(JSON.stringify(score(setDir, results, process.argv.includes('--show-misses')), null, 1));
}
