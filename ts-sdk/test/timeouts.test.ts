import { describe, expect, it } from 'vitest';
import { APITimeoutError, FarMesh, type Timeout } from '../src/index.js';
import { resolveTimeouts } from '../src/internal/timeouts.js';
import { SSEBody, collect, done, hang, json, scriptedFetch, tokenFrame } from './helpers.js';

const client = (fetchImpl: typeof fetch, timeout: Timeout, maxRetries = 0) =>
  new FarMesh({ baseURL: 'http://127.0.0.1:1', fetch: fetchImpl, timeout, maxRetries });

/** A body that sends keep-alive comments forever (until the request is aborted). */
function keepAliveForever(body: SSEBody, signal: AbortSignal, first: string[] = []): void {
  for (const frame of first) body.push(frame);
  const timer = setInterval(() => {
    if (!body.push(': keep-alive\n\n')) clearInterval(timer);
  }, 5);
  signal.addEventListener('abort', () => clearInterval(timer));
}

describe('timeouts', () => {
  it('resolves numbers and objects', () => {
    expect(resolveTimeouts(5000)).toEqual({ connectMs: 5000, idleMs: 5000, totalMs: 5000 });
    expect(resolveTimeouts({ idle: 100, total: null })).toEqual({ connectMs: 10_000, idleMs: 100, totalMs: undefined });
  });

  it('connect: no response headers in time', async () => {
    const { fetch, calls } = scriptedFetch(hang);
    const error = await client(fetch, { connect: 30 }).chatStream('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APITimeoutError);
    expect(error).toMatchObject({ kind: 'connect', code: 'connect_timeout' });
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it('connect timeouts are retried', async () => {
    const { fetch, calls } = scriptedFetch(hang, () => json(200, done('ok')));
    const mesh = new FarMesh({ baseURL: 'http://h', fetch, timeout: { connect: 30, idle: 30 }, maxRetries: 1 });
    expect((await mesh.chat('x')).text).toBe('ok');
    expect(calls).toHaveLength(2);
  });

  it('idle: keep-alive comments do not count as activity', async () => {
    const body = new SSEBody();
    const { fetch, calls } = scriptedFetch((request) => {
      keepAliveForever(body, request.signal, [tokenFrame('Quantum', 1)]);
      return body.respond(request);
    });
    const stream = await client(fetch, { idle: 60 }).chatStream('x');
    const error = await collect(stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APITimeoutError);
    expect(error).toMatchObject({ kind: 'idle', partialText: 'Quantum' });
    expect(body.cancelled || calls[0]!.signal.aborted).toBe(true);
  });

  it('idle before the first token is retried, then thrown', async () => {
    const silent = (request: Parameters<Parameters<typeof scriptedFetch>[0]>[0]) => {
      const body = new SSEBody();
      keepAliveForever(body, request.signal);
      return body.respond(request);
    };
    const { fetch, calls } = scriptedFetch(silent, silent);
    const stream = await client(fetch, { idle: 40 }, 1).chatStream('x');
    await expect(collect(stream)).rejects.toMatchObject({ name: 'APITimeoutError', kind: 'idle' });
    expect(calls).toHaveLength(2);
  });

  it('total: the overall deadline covers retries and is not retried', async () => {
    const { fetch, calls } = scriptedFetch(hang);
    const mesh = new FarMesh({ baseURL: 'http://h', fetch, timeout: { connect: null, idle: null, total: 40 }, maxRetries: 5 });
    await expect(mesh.chat('x')).rejects.toMatchObject({ name: 'APITimeoutError', kind: 'total' });
    expect(calls).toHaveLength(1);
  });

  it('total: a running stream is cut at the deadline', async () => {
    const body = new SSEBody();
    const { fetch } = scriptedFetch((request) => {
      const timer = setInterval(() => {
        if (!body.push(tokenFrame('x', 1))) clearInterval(timer);
      }, 5);
      request.signal.addEventListener('abort', () => clearInterval(timer));
      return body.respond(request);
    });
    const stream = await client(fetch, { total: 60 }).chatStream('x');
    await expect(collect(stream)).rejects.toMatchObject({ name: 'APITimeoutError', kind: 'total' });
  });

  it('a whole answer may take as long as the idle limit to send its headers', async () => {
    const { fetch } = scriptedFetch(() => new Promise((resolve) => setTimeout(() => resolve(json(200, done('slow'))), 60)));
    const mesh = new FarMesh({ baseURL: 'http://h', fetch, timeout: { connect: 10, idle: 5000 }, maxRetries: 0 });
    expect((await mesh.chat('x')).text).toBe('slow');
  });
});
