// Tables of bench/compare_ocr.sh: per thread count and category, accuracy
// (from the first round; both engines are deterministic) and the median over
// images of each image's median latency over rounds, peak RSS (largest over
// rounds), pareto's latency over the peer's.
//
// usage: node report.mjs SET_DIR RESULTS_DIR "1 2" ROUNDS
import fs from 'node:fs';
import path from 'node:path';
import { score } from './score.mjs';

const [setDir, dir, threadsArg, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg);
const truth = JSON.parse(fs.readFileSync(path.join(setDir, 'truth.json'), 'utf8'));
const categories = [...new Set(truth.map((t) => t.category))];
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

function engine(name, t, c) {
  const perImage = new Map();
  let rss = 0;
  const merged = path.join(dir, `${name}-t${t}-${c}.merged.jsonl`);
  for (let r = 1; r <= rounds; r++) {
    const file = path.join(dir, `${name}-t${t}-r${r}-${c}.jsonl`);
    for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const o = JSON.parse(line);
      if (o.peak_rss_kb) { rss = Math.max(rss, o.peak_rss_kb); continue; }
      const f = path.resolve(o.image || o.file);
      if (!perImage.has(f)) perImage.set(f, []);
      perImage.get(f).push(o.ms);
    }
    if (r === 1) fs.copyFileSync(file, merged);
  }
  const s = score(setDir, merged, false, c)[c];
  return { ...s, median_ms: median([...perImage.values()].map(median)), rss_mib: rss / 1024 };
}

const pct = (x) => (100 * x).toFixed(1) + '%';
for (const t of threadsArg.split(' ').filter(Boolean)) {
  console.log(`\n### ${t} thread${t === '1' ? '' : 's'} (${rounds} rounds)\n`);
  console.log('| category | images | lines | exact pareto | exact peer | CER pareto | CER peer | ms/image pareto | ms/image peer | ratio | peak RSS pareto | peak RSS peer |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const all = { p: [], g: [] };
  const tot = { images: 0, lines: 0, pe: 0, ge: 0, chars: 0, perr: 0, gerr: 0 };
  for (const c of categories) {
    const p = engine('pareto', t, c), g = engine('peer', t, c);
    tot.images += p.images; tot.lines += p.lines; tot.pe += p.exact; tot.ge += g.exact; tot.chars += p.chars; tot.perr += p.errors; tot.gerr += g.errors;
    all.p.push(p.median_ms); all.g.push(g.median_ms);
    console.log(`| ${c} | ${p.images} | ${p.lines} | ${p.exact} (${pct(p.exact_rate)}) | ${g.exact} (${pct(g.exact_rate)}) | ${pct(p.cer)} | ${pct(g.cer)} | ${p.median_ms.toFixed(1)} | ${g.median_ms.toFixed(1)} | ${(p.median_ms / g.median_ms).toFixed(2)} | ${p.rss_mib.toFixed(0)} MiB | ${g.rss_mib.toFixed(0)} MiB |`);
  }
  console.log(`| **all** | ${tot.images} | ${tot.lines} | ${tot.pe} (${pct(tot.pe / tot.lines)}) | ${tot.ge} (${pct(tot.ge / tot.lines)}) | ${pct(tot.perr / tot.chars)} | ${pct(tot.gerr / tot.chars)} | | | | | |`);
}
