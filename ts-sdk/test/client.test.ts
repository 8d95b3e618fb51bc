import { afterEach, describe, expect, it, vi } from 'vitest';
import { FarLabsError, FarMesh } from '../src/index.js';
import { done, json, scriptedFetch } from './helpers.js';

const base = { baseURL: 'http://127.0.0.1:8100', apiKey: 'fl_test' };

afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe('FarMesh.chat', () => {
  it('posts the native body and returns the done payload in camelCase', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, done('Quantum computing is…')));
    const mesh = new FarMesh({ ...base, fetch });
    const response = await mesh.chat('Explain quantum computing', {
      model: 'm',
      maxTokens: 100,
      temperature: 0,
      topP: 0.9,
      stop: ['\n\n'],
      seed: 42,
      userWallet: '0xabc',
      region: 'eu-west',
    });
    expect(response).toEqual({
      text: 'Quantum computing is…',
      usage: { promptTokens: 9, completionTokens: 2, totalTokens: 11 },
      costFar: '0.0002',
      requestId: 'req_1',
      sessionId: 'sess_1',
      modelId: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      route: [{ nodeId: 'n1', peerId: '12D3KooA', startBlock: 0, endBlock: 15 }],
      finishReason: 'length',
      timeToFirstTokenMs: 12.5,
    });
    const call = calls[0]!;
    expect(call.url).toBe('http://127.0.0.1:8100/mesh/inference/generate');
    expect(call.method).toBe('POST');
    expect(call.headers.get('authorization')).toBe('Bearer fl_test');
    expect(call.headers.get('content-type')).toBe('application/json');
    expect(call.body).toEqual({
      messages: [{ role: 'user', content: 'Explain quantum computing' }],
      max_tokens: 100,
      model_id: 'm',
      temperature: 0,
      top_p: 0.9,
      stop: ['\n\n'],
      seed: 42,
      user_wallet: '0xabc',
      region: 'eu-west',
      stream: false,
    });
  });

  it('sends messages', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, done('hi')));
    await new FarMesh({ ...base, fetch }).chat({ messages: [{ role: 'user', content: 'hello' }], maxTokens: 5 });
    expect(calls[0]!.body).toEqual({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 5, stream: false });
  });

  it('keeps cost a decimal string, never a float', async () => {
    const { fetch } = scriptedFetch(() => json(200, done('x', { cost_far: '0.30000000000000000001' })));
    expect((await new FarMesh({ ...base, fetch }).chat('x')).costFar).toBe('0.30000000000000000001');
  });

  it.each([
    [{ prompt: '' }, /prompt must be a non-empty string/],
    [{ prompt: 'a', messages: [{ role: 'user', content: 'b' }] }, /exactly one of prompt and messages/],
    [{}, /exactly one of prompt and messages/],
    [{ messages: [] }, /non-empty array/],
    [{ messages: [{ role: 'robot', content: 'x' }] }, /role must be one of/],
    [{ prompt: 'a', maxTokens: 0 }, /maxTokens must be in \[1, 4096\]/],
    [{ prompt: 'a', maxTokens: 1.5 }, /maxTokens must be an integer/],
    [{ prompt: 'a', temperature: 3 }, /temperature must be in/],
    [{ prompt: 'a', topP: 0 }, /topP must be in \(0, 1\]/],
    [{ prompt: 'a', stop: ['a', 'b', 'c', 'd', 'e'] }, /up to 4/],
    [{ prompt: 'a', seed: 'x' }, /seed must be a number/],
    [{ prompt: 'a', seed: -1 }, /seed must be in \[0, /],
  ])('refuses bad input %j before any request', async (request, message) => {
    const { fetch, calls } = scriptedFetch();
    await expect(new FarMesh({ ...base, fetch }).chat(request as never)).rejects.toThrow(message);
    expect(calls).toHaveLength(0);
  });

  it('validates its own options', () => {
    expect(() => new FarMesh({ ...base, maxRetries: -1 })).toThrow(/maxRetries/);
    expect(() => new FarMesh({ ...base, timeout: 0 })).toThrow(/timeout must be a positive/);
    expect(() => new FarMesh({ ...base, timeout: { idle: -5 } })).toThrow(/timeout.idle/);
    expect(() => new FarMesh({ ...base, baseURL: 'ftp://x' })).toThrow(/baseURL/);
  });
});

describe('configuration and credentials', () => {
  it('reads FARLABS_API_KEY and FARLABS_BASE_URL', async () => {
    vi.stubEnv('FARLABS_API_KEY', 'fl_env');
    vi.stubEnv('FARLABS_BASE_URL', 'http://127.0.0.1:9999/');
    const { fetch, calls } = scriptedFetch(() => json(200, done('x')));
    const mesh = new FarMesh({ fetch });
    expect(mesh.baseURL).toBe('http://127.0.0.1:9999');
    await mesh.chat('x');
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer fl_env');
    expect(calls[0]!.url).toBe('http://127.0.0.1:9999/mesh/inference/generate');
  });

  it('defaults to the loopback reference server and sends no credentials without a key', async () => {
    vi.stubEnv('FARLABS_API_KEY', '');
    vi.stubEnv('FARLABS_BASE_URL', '');
    const { fetch, calls } = scriptedFetch(() => json(200, { object: 'list', data: [] }));
    const mesh = new FarMesh({ fetch });
    expect(mesh.baseURL).toBe('http://127.0.0.1:8100');
    await mesh.models.list();
    expect(calls[0]!.headers.has('authorization')).toBe(false);
  });

  it('calls an apiKey function before every attempt (fresh short-lived tokens)', async () => {
    let n = 0;
    const apiKey = vi.fn(async () => `jwt_${++n}`);
    const { fetch, calls } = scriptedFetch(
      () => json(503, { error: { type: 'overloaded_error', message: 'busy' } }, { 'retry-after': '0' }),
      () => json(200, done('x')),
    );
    await new FarMesh({ baseURL: base.baseURL, apiKey, fetch }).chat('x');
    expect(calls.map((c) => c.headers.get('authorization'))).toEqual(['Bearer jwt_1', 'Bearer jwt_2']);
  });

  it('refuses an apiKey function that returns nothing', async () => {
    const { fetch, calls } = scriptedFetch();
    const mesh = new FarMesh({ baseURL: base.baseURL, apiKey: () => '', fetch });
    await expect(mesh.chat('x')).rejects.toThrow(/apiKey function must return/);
    expect(calls).toHaveLength(0);
  });

  it('uses the global fetch, looked up per call', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, done('global')));
    vi.stubGlobal('fetch', fetch);
    expect((await new FarMesh(base).chat('x')).text).toBe('global');
    expect(calls).toHaveLength(1);
  });

  it('never shows the key when the client is printed or serialized', async () => {
    const { inspect } = await import('node:util');
    const mesh = new FarMesh({ ...base, apiKey: 'fl_very_secret' });
    expect(inspect(mesh, { depth: 10, showHidden: true })).not.toContain('fl_very_secret');
    expect(JSON.stringify(mesh)).not.toContain('fl_very_secret');
  });

  it('sends default headers', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, done('x')));
    await new FarMesh({ ...base, fetch, defaultHeaders: { 'X-Team': 'far' } }).chat('x');
    expect(calls[0]!.headers.get('x-team')).toBe('far');
  });
});

describe('in a browser', () => {
  const pretendBrowser = () => {
    vi.stubGlobal('window', {});
    vi.stubGlobal('document', {});
  };

  it('refuses a secret fl_ key', () => {
    pretendBrowser();
    expect(() => new FarMesh({ apiKey: 'fl_secret' })).toThrow(FarLabsError);
    expect(() => new FarMesh({ apiKey: 'fl_secret' })).toThrow(/dangerouslyAllowBrowser/);
  });

  it('accepts the key when the caller opts in, and short-lived tokens always', () => {
    pretendBrowser();
    expect(() => new FarMesh({ apiKey: 'fl_secret', dangerouslyAllowBrowser: true })).not.toThrow();
    expect(() => new FarMesh({ apiKey: async () => 'eyJ.jwt' })).not.toThrow();
    expect(() => new FarMesh({ apiKey: 'eyJhbGciOi.jwt' })).not.toThrow();
  });
});
