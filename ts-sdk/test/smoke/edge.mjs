// The built main entry in a bare JavaScript realm that has only web-platform globals (what edge
// runtimes and browsers offer): no process, require, Buffer, or Node modules.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const esm = readFileSync(new URL('../../dist/index.js', import.meta.url), 'utf8');
const cjs = readFileSync(new URL('../../dist/index.cjs', import.meta.url), 'utf8');
for (const [name, code] of [['index.js', esm], ['index.cjs', cjs]]) {
  assert.doesNotMatch(code, /from ['"]node:|require\(|\bprocess\.|\bBuffer\b/, `${name} uses a Node-only API`);
}

const web = {
  fetch, Headers, Request, Response, ReadableStream, TextEncoder, TextDecoder, AbortController, AbortSignal,
  URL, setTimeout, clearTimeout, crypto, console, Symbol, Promise, JSON, Error, TypeError,
};
const sandbox = vm.createContext({ ...web, module: { exports: {} } });
sandbox.exports = sandbox.module.exports;
vm.runInContext(cjs, sandbox, { filename: 'index.cjs' });
const { FarMesh, BadRequestError } = sandbox.module.exports;
assert.equal(vm.runInContext('typeof process + typeof require + typeof Buffer', sandbox), 'undefinedundefinedundefined');

const answer = { request_id: 'r', finish_reason: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }, cost_far: '0.0001', text: 'edge ok' };
const mesh = new FarMesh({
  baseURL: 'https://mesh.example',
  apiKey: 'fl_edge',
  fetch: async (url, init) => {
    assert.equal(url, 'https://mesh.example/mesh/inference/generate');
    assert.equal(new Headers(init.headers).get('authorization'), 'Bearer fl_edge');
    return new Response(JSON.stringify(answer), { status: 200 });
  },
});
assert.equal((await mesh.chat('hi')).text, 'edge ok');
await assert.rejects(mesh.chat(''), /prompt must be a non-empty string/);
assert.equal(typeof BadRequestError, 'function');
console.log('smoke edge: ok');
