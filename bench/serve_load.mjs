// node serve_load.mjs BASE_URL CLIENTS SECONDS MAX_TOKENS [long|short]
// A bounded load on an OpenAI-compatible server (loopback): CLIENTS loops
// each sending /v1/completions one after another until SECONDS pass (no new
// request after that). Prints one JSON line: requests, failures, latency
// p50/p99 (ms), completion tokens and tokens/s over the wall time.
const [base, clientsArg, secondsArg, maxTokensArg, promptSet = 'long'] = process.argv.slice(2);
const clients = Number(clientsArg), seconds = Number(secondsArg), maxTokens = Number(maxTokensArg);
// long: sentences (about 50 tokens with a synthetic model's letter-level
// vocabulary, about 10 with a real one); short: a few words, so that the
// load measures decoding more than prompt reading.
const longPrompts = [
  'Once upon a time there was a little robot who',
  'The weather in the mountains today is',
  'Write a short note about the history of bread:',
  'In the year 2050, cities will',
  'A recipe for pancakes needs',
  'The best way to learn a language is',
  'Dear friend, I am writing to tell you',
  'Five facts about the ocean:',
];
const shortPrompts = ['Once', 'The sky', 'Bread', 'Cities', 'Pancakes', 'Learn', 'Dear', 'Ocean'];
const prompts = promptSet === 'short' ? shortPrompts : longPrompts;
const latencies = [];
let failures = 0, tokens = 0, requests = 0;
const errors = new Map();
const deadline = Date.now() + seconds * 1000;

async function client(id) {
  let i = id;
  while (Date.now() < deadline) {
    // ignore_eos (both servers take it): every request writes max_tokens, so
    // both sides do the same work whatever the random model samples.
    const body = { prompt: prompts[i++ % prompts.length] + (promptSet === 'short' ? '' : ` (${id}.${i})`), max_tokens: maxTokens,
      temperature: 0.8, seed: i, ignore_eos: true };
    const t0 = performance.now();
    try {
      const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const j = await r.json();
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${JSON.stringify(j).slice(0, 200)}`);
      tokens += j.usage.completion_tokens;
      latencies.push(performance.now() - t0);
      ++requests;
    } catch (e) {
      ++failures;
      errors.set(String(e.message), (errors.get(String(e.message)) || 0) + 1);
    }
  }
}

const start = performance.now();
await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
const wall = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : NaN);
console.log(JSON.stringify({ clients, seconds: wall, requests, failures, p50_ms: q(0.5), p99_ms: q(0.99), tokens, tokens_per_s: tokens / wall,
  errors: Object.fromEntries(errors) }));
