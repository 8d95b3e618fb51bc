// TypeScript SDK streaming throughput: tokens/s parsed by @farlabs/sdk vs the official `openai` npm package.
// Both read a recorded SSE byte stream of N tokens from an in-memory fetch (no sockets, 4 KiB chunks): the native
// stream for @farlabs/sdk, `chat.completion.chunk` events for openai. Needs `npm run build -w ts-sdk` first.
// Run: node bench/sdk_streaming.mjs [tokens=20000] [rounds=5]
import { FarMesh } from '@farlabs/sdk';
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';

const N = Number(process.argv[2] ?? 20000);
const ROUNDS = Number(process.argv[3] ?? 5);
const enc = new TextEncoder();

function nativeStream(n) {
  let s = '';
  for (let i = 1; i <= n; i++) {
    s += `data: ${JSON.stringify({ token: ` w${i}`, request_id: 'req_bench', tokens_generated: i, cost_far: (i / 10000).toFixed(4) })}\n\n`;
  }
  const done = { request_id: 'req_bench', session_id: 's', model_id: 'm', finish_reason: 'length',
    usage: { prompt_tokens: 7, completion_tokens: n, total_tokens: n + 7 }, cost_far: (n / 10000).toFixed(4),
    text: '', route: [], time_to_first_token_ms: 1.0 };
  return enc.encode(s + `event: done\ndata: ${JSON.stringify(done)}\n\n`);
}

function openaiStream(n) {
  let s = '';
  for (let i = 1; i <= n; i++) {
    s += `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 0, model: 'm',
      choices: [{ index: 0, delta: { content: ` w${i}` }, finish_reason: null }] })}\n\n`;
  }
  const last = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 0, model: 'm',
    choices: [{ index: 0, delta: {}, finish_reason: 'length' }] };
  return enc.encode(s + `data: ${JSON.stringify(last)}\n\ndata: [DONE]\n\n`);
}

function fetchOf(body) {
  return async () => {
    let off = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (off >= body.length) return controller.close();
        controller.enqueue(body.slice(off, off + 4096));
        off += 4096;
      },
    });
    return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
}

async function runFar(body) {
  const mesh = new FarMesh({ apiKey: 'far_bench', baseURL: 'http://bench.invalid', fetch: fetchOf(body), maxRetries: 0 });
  const t0 = performance.now();
  let count = 0;
  for await (const _ of await mesh.chatStream('hi', { max_tokens: 4096 })) count++;
  const s = (performance.now() - t0) / 1000;
  if (count !== N) throw new Error(`@farlabs/sdk parsed ${count} of ${N}`);
  return N / s;
}

async function runOpenAI(body) {
  const client = new OpenAI({ apiKey: 'sk-bench', baseURL: 'http://bench.invalid/v1', fetch: fetchOf(body), maxRetries: 0 });
  const t0 = performance.now();
  let count = 0;
  const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
  for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) count++;
  const s = (performance.now() - t0) / 1000;
  if (count !== N) throw new Error(`openai parsed ${count} of ${N}`);
  return N / s;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');
const native = nativeStream(N);
const oai = openaiStream(N);
await runFar(native); await runOpenAI(oai); // warm-up (JIT)
const far = [], ope = [];
for (let r = 0; r < ROUNDS; r++) { far.push(await runFar(native)); ope.push(await runOpenAI(oai)); }
const f = median(far), o = median(ope);
const ver = JSON.parse(readFileSync(new URL('../node_modules/openai/package.json', import.meta.url), 'utf8')).version;
console.log(`${N} tokens per stream, ${ROUNDS} rounds, median (min–max) tokens/s (in-memory fetch, no sockets), Node ${process.version}\n`);
console.log('| client | stream bytes | tokens/s | ratio vs openai |');
console.log('|---|---:|---:|---:|');
console.log(`| @farlabs/sdk (native stream) | ${native.length.toLocaleString('en-US')} | ${fmt(f)} (${fmt(Math.min(...far))}–${fmt(Math.max(...far))}) | ${(f / o).toFixed(2)}× |`);
console.log(`| openai ${ver} (\`chat.completion.chunk\`) | ${oai.length.toLocaleString('en-US')} | ${fmt(o)} (${fmt(Math.min(...ope))}–${fmt(Math.max(...ope))}) | 1.00× |`);
