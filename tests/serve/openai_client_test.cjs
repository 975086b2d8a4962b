// node openai_client_test.cjs NODE_MODULES BASE_URL API_KEY
// Drives pareto serve with the official openai client; exits 1 on the first failure.
const assert = require('node:assert/strict');
const [modules, base, key] = process.argv.slice(2);
const mod = require(`${modules}/openai`);
const OpenAI = mod.OpenAI || mod.default;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 60000 });

async function waitHealthy() {
  for (let i = 0; i < 300; ++i) {
    try {
      const r = await fetch(`${base}/health`);
      if (r.status === 200) return;
      assert.equal(r.status, 503, 'health answers 503 while loading');
      const body = await r.json();
      assert.equal(body.error.code, 'model_loading');
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server never became healthy');
}

async function metric(name) {
  const r = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${key}` } });
  const text = await r.text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `metric ${name} present`);
  return Number(line.split(' ')[1]);
}

async function expectError(promise, status, param) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.status, status, `status ${status}: ${e.message}`);
    if (param) assert.equal(e.param, param);
    assert.ok(e.message.length > 0);
    return e;
  }
  throw new Error(`expected HTTP ${status}`);
}

async function main() {
  await waitHealthy();
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['tiny']);

  const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say something.' }];
  const params = { model: 'tiny', messages, max_tokens: 12, temperature: 0, seed: 7 };
  const chat = await client.chat.completions.create(params);
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices.length, 1);
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(typeof chat.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason));
  const u = chat.usage;
  assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0 && u.completion_tokens <= 12);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);

  // The same greedy request streamed: the deltas join to the same text, the usage comes last.
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null, finish = null, chunks = 0;
  for await (const chunk of stream) {
    ++chunks;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks >= 3);
  assert.equal(text, chat.choices[0].message.content);
  assert.equal(finish, chat.choices[0].finish_reason);
  assert.deepEqual(usage.completion_tokens, u.completion_tokens);
  assert.equal(usage.prompt_tokens_details.cached_tokens, u.prompt_tokens - 1, 'the repeated prompt comes from the slot cache');

  // A seed makes sampling repeatable; another seed samples otherwise.
  const sampled = (seed) => client.completions.create({ model: 'tiny', prompt: 'Once', max_tokens: 24, temperature: 1, seed, ignore_eos: true });
  const [s1, s1again, s2] = [await sampled(11), await sampled(11), await sampled(12)];
  assert.equal(s1.choices[0].text, s1again.choices[0].text);
  assert.notEqual(s1.choices[0].text, s2.choices[0].text);

  // Completions, plain and streamed.
  const comp = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 10, temperature: 0 });
  assert.equal(comp.object, 'text_completion');
  assert.ok(comp.usage.completion_tokens <= 10);
  let ctext = '';
  for await (const chunk of await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 10, temperature: 0, stream: true }))
    ctext += chunk.choices.length ? chunk.choices[0].text : '';
  assert.equal(ctext, comp.choices[0].text);

  // Log-probabilities: one entry per token, the alternatives sorted, all <= 0.
  const lp = await client.chat.completions.create({ ...params, logprobs: true, top_logprobs: 3 });
  const content = lp.choices[0].logprobs.content;
  assert.equal(content.length, lp.usage.completion_tokens);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
    assert.ok(t.top_logprobs[0].logprob >= t.logprob - 1e-6, 'greedy picks the most likely token');
  }

  // Errors in OpenAI's shape.
  await expectError(client.chat.completions.create({ ...params, n: 2 }), 400, 'n');
  await expectError(client.chat.completions.create({ ...params, temperature: 5 }), 400, 'temperature');
  await expectError(client.chat.completions.create({ ...params, max_tokens: 100000 }), 400);
  const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await expectError(bad.models.list(), 401);

  // An aborted stream stops generating: the slot is free again and the token count stops growing.
  const startTokens = await metric('pareto_generated_tokens_total');
  const startCancelled = await metric('pareto_requests_cancelled_total');
  const controller = new AbortController();
  // ignore_eos: unstopped, it would write until the 8192-position context is full.
  const long = await client.chat.completions.create({ model: 'tiny', messages, temperature: 1, stream: true, ignore_eos: true },
    { signal: controller.signal });
  let got = 0;
  try {
    for await (const chunk of long) {
      if (chunk.choices.length && chunk.choices[0].delta.content) ++got;
      if (got === 3) controller.abort();
    }
  } catch (e) {
    assert.ok(e.name === 'APIUserAbortError' || e.name === 'AbortError', `aborted: ${e.name}`);
  }
  let active = 1;
  for (let i = 0; i < 50 && active > 0; ++i) {
    await new Promise((r) => setTimeout(r, 100));
    active = await metric('pareto_slots_active');
  }
  assert.equal(active, 0, 'the aborted request released its slot');
  assert.equal(await metric('pareto_requests_cancelled_total'), startCancelled + 1, 'the server cancelled it');
  const before = await metric('pareto_generated_tokens_total');
  // Unstopped it would fill the 8192-position context.
  assert.ok(before - startTokens < 4000, `generation stopped early (${before - startTokens} tokens)`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await metric('pareto_generated_tokens_total'), before);
  console.log(`openai client: models, chat, stream, completions, logprobs, errors, abort (stopped after ${before - startTokens} tokens): ok`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
