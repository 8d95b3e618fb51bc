import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { APIUserAbortError, AuthenticationError, FarMesh } from '../../src/index.js';
import { serverEnv } from './env.js';

const { baseURL, apiKey, model } = serverEnv();
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

// The plan's section 4.3 (TypeScript part), with only the key filled in; FARLABS_BASE_URL points it here.
const PLAN_SNIPPET = `
import { FarMesh } from "@farlabs/sdk";

const mesh = new FarMesh({ apiKey: "${apiKey}" });

// Promise-based
const response = await mesh.chat("Explain quantum computing");
console.log(response.text);

// Streaming
const stream = await mesh.chatStream("Explain quantum computing");
for await (const token of stream) {
    process.stdout.write(token);
}
`;

describe('against the reference server', () => {
  it("runs the plan's snippet verbatim with the built package", () => {
    // Inside the package directory, so "@farlabs/sdk" resolves to the built package by its name.
    const dir = mkdtempSync(join(PACKAGE_DIR, 'test', 'integration', 'tmp-'));
    try {
      const file = join(dir, 'plan.mjs');
      writeFileSync(file, PLAN_SNIPPET);
      const out = execFileSync(process.execPath, [file], { env: process.env, encoding: 'utf8', timeout: 120_000 });
      const [whole, ...streamed] = out.split('\n');
      expect(whole!.trim().length).toBeGreaterThan(0);
      expect(streamed.join('\n').trim().length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers a whole chat with usage, exact cost and a route', async () => {
    const mesh = new FarMesh({ baseURL, apiKey });
    const response = await mesh.chat('Explain quantum computing', { maxTokens: 8, temperature: 0 });
    expect(response.text.length).toBeGreaterThan(0);
    expect(response.usage.completionTokens).toBeGreaterThan(0);
    expect(response.usage.completionTokens).toBeLessThanOrEqual(8);
    expect(response.costFar).toMatch(/^\d+(\.\d+)?$/);
    expect(Number(response.costFar)).toBeGreaterThan(0);
    expect(response.requestId).not.toBe('');
    expect(['stop', 'length']).toContain(response.finishReason);
    expect(response.route.length).toBeGreaterThan(0);
  });

  it('streams tokens whose concatenation is the final text, greedy output repeatable', async () => {
    const mesh = new FarMesh({ baseURL, apiKey });
    const stream = await mesh.chatStream({ messages: [{ role: 'user', content: 'Say hello' }], maxTokens: 6, temperature: 0 });
    const tokens: string[] = [];
    for await (const token of stream) tokens.push(token);
    const final = await stream.finalMessage();
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.join('')).toBe(final.text);
    expect(stream.usage?.completionTokens).toBe(tokens.length);
    const again = await mesh.chat({ messages: [{ role: 'user', content: 'Say hello' }], maxTokens: 6, temperature: 0 });
    expect(again.text).toBe(final.text);
  });

  it('abort() after the first token stops the stream', async () => {
    const mesh = new FarMesh({ baseURL, apiKey });
    const stream = await mesh.chatStream('Write a long story about GPUs', { maxTokens: 64 });
    const error = await (async () => {
      try {
        for await (const _token of stream) stream.abort();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect((error as APIUserAbortError).partialText!.length).toBeGreaterThan(0);
  });

  it('maps a bad key to AuthenticationError', async () => {
    const error = await new FarMesh({ baseURL, apiKey: 'fl_not_a_real_key' }).chat('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401, type: 'authentication_error' });
  });

  it('lists models without credentials', async () => {
    const { data } = await new FarMesh({ baseURL, apiKey: '' }).models.list();
    if (model) expect(data.map((m) => m.id)).toContain(model);
    expect(data.every((m) => m.object === 'model')).toBe(true);
  });
});
