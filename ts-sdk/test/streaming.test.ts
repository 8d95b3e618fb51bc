import { describe, expect, it } from 'vitest';
import {
  APIUserAbortError,
  BadRequestError,
  FarMesh,
  GatewayTimeoutError,
  OverloadedError,
  RateLimitError,
  StreamInterruptedError,
} from '../src/index.js';
import { SSEBody, collect, doneFrame, envelope, errorFrame, refuse, scriptedFetch, sseHandler, tokenFrame } from './helpers.js';

const client = (fetchImpl: typeof fetch) => new FarMesh({ apiKey: 'fl_t', baseURL: 'http://127.0.0.1:1', fetch: fetchImpl });
const happy = [tokenFrame('Quantum', 1), ': keep-alive\n\n', tokenFrame(' computing', 2), doneFrame('Quantum computing')];

describe('chatStream', () => {
  it('yields token strings, then exposes usage and the final message', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(happy));
    const stream = await client(fetch).chatStream('Explain quantum computing', { maxTokens: 2 });
    expect(calls[0]!.body).toMatchObject({ messages: [{ role: 'user', content: 'Explain quantum computing' }], stream: true, max_tokens: 2 });
    expect(calls[0]!.headers.get('accept')).toBe('text/event-stream');
    expect(stream.requestId).toBe('req_1');
    expect(await collect(stream)).toEqual(['Quantum', ' computing']);
    expect(stream.text).toBe('Quantum computing');
    expect(stream.usage).toEqual({ promptTokens: 9, completionTokens: 2, totalTokens: 11 });
    expect(stream.costFar).toBe('0.0002');
    const final = await stream.finalMessage();
    expect(final).toMatchObject({ text: 'Quantum computing', finishReason: 'length', requestId: 'req_1', sessionId: 'sess_1' });
  });

  it('finalMessage() reads the stream when nobody iterates it', async () => {
    const { fetch } = scriptedFetch(sseHandler(happy));
    const stream = await client(fetch).chatStream({ messages: [{ role: 'user', content: 'hi' }] });
    expect((await stream.finalMessage()).text).toBe('Quantum computing');
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/only once/);
  });

  it('parses events split across chunks and CRLF line ends', async () => {
    const raw = happy.join('').replace(/\n/g, '\r\n');
    const chunks = raw.match(/.{1,7}/gs)!;
    const { fetch } = scriptedFetch(sseHandler(chunks));
    expect(await collect(await client(fetch).chatStream('x'))).toEqual(['Quantum', ' computing']);
  });

  it('keeps multi-byte characters split across chunks intact', async () => {
    const bytes = new TextEncoder().encode(tokenFrame('héllo ✓', 1) + doneFrame('héllo ✓'));
    const { fetch } = scriptedFetch((request) => {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
          c.close();
        },
      });
      void request;
      return new Response(body, { status: 200 });
    });
    expect(await collect(await client(fetch).chatStream('x'))).toEqual(['héllo ✓']);
  });

  it('throws HTTP errors from the await, before any iteration', async () => {
    const { fetch } = scriptedFetch(() => envelope(400, 'context_length_exceeded', 'too long'));
    await expect(client(fetch).chatStream('x')).rejects.toMatchObject({ name: 'ContextLengthExceededError', status: 400 });
  });

  it('retries an error event that comes before the first token, same idempotency key', async () => {
    const { fetch, calls } = scriptedFetch(
      sseHandler([errorFrame('overloaded_error', 'no capacity')]),
      refuse,
      sseHandler(happy),
    );
    const stream = await client(fetch).chatStream('x');
    expect(await collect(stream)).toEqual(['Quantum', ' computing']);
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.headers.get('idempotency-key'))).size).toBe(1);
  });

  it('retries a stream that breaks before the first token', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler([': keep-alive\n\n']), sseHandler(happy));
    expect(await collect(await client(fetch).chatStream('x'))).toEqual(['Quantum', ' computing']);
    expect(calls).toHaveLength(2);
  });

  it('throws an in-stream error of a final type with the same class as HTTP errors', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler([errorFrame('invalid_request_error', 'bad stop', { param: 'stop' })]));
    const stream = await client(fetch).chatStream('x');
    await expect(collect(stream)).rejects.toMatchObject({ name: 'BadRequestError', param: 'stop', status: 400 });
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(BadRequestError);
    expect(calls).toHaveLength(1);
  });

  it('does not retry after tokens flowed: stream_interrupted carries the partial text', async () => {
    const { fetch, calls } = scriptedFetch(
      sseHandler([tokenFrame('Quantum', 1), errorFrame('stream_interrupted', 'node lost', { partial_text: 'Quantum' })]),
    );
    const stream = await client(fetch).chatStream('x');
    const seen: string[] = [];
    const error = await (async () => {
      try {
        for await (const token of stream) seen.push(token);
      } catch (e) {
        return e;
      }
    })();
    expect(seen).toEqual(['Quantum']);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect(error).toMatchObject({ partialText: 'Quantum', type: 'stream_interrupted' });
    expect(calls).toHaveLength(1);
  });

  it('a retryable error after tokens is thrown with the partial text', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler([tokenFrame('Quantum', 1), errorFrame('timeout_error', 'swarm too slow')]));
    const stream = await client(fetch).chatStream('x');
    const error = await collect(stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayTimeoutError);
    expect(error).toMatchObject({ partialText: 'Quantum', status: 504 });
    expect(calls).toHaveLength(1);
  });

  it('a connection lost after tokens is a StreamInterruptedError with the partial text', async () => {
    const { fetch } = scriptedFetch(sseHandler([tokenFrame('Quantum', 1), tokenFrame(' comp', 2)]));
    const error = await collect(await client(fetch).chatStream('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect(error).toMatchObject({ partialText: 'Quantum comp', code: 'incomplete_stream' });
  });

  it('gives up after maxRetries error events', async () => {
    const busy = sseHandler([errorFrame('rate_limit_error', 'slow down')]);
    const { fetch, calls } = scriptedFetch(busy, busy);
    const mesh = new FarMesh({ baseURL: 'http://h', fetch, maxRetries: 1 });
    const stream = await mesh.chatStream('x');
    await expect(collect(stream)).rejects.toBeInstanceOf(RateLimitError);
    expect(calls).toHaveLength(2);
  });

  it('abort() stops the request; iteration throws APIUserAbortError with the text so far', async () => {
    const body = new SSEBody([tokenFrame('Quantum', 1)]);
    const { fetch, calls } = scriptedFetch((request) => body.respond(request));
    const stream = await client(fetch).chatStream('x');
    const seen: string[] = [];
    const error = await (async () => {
      try {
        for await (const token of stream) {
          seen.push(token);
          stream.abort();
        }
      } catch (e) {
        return e;
      }
    })();
    expect(seen).toEqual(['Quantum']);
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(error).toMatchObject({ partialText: 'Quantum' });
    expect(calls[0]!.signal.aborted).toBe(true);
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(APIUserAbortError);
  });

  it('a caller signal aborts a stream waiting for its first event', async () => {
    const body = new SSEBody();
    const { fetch, calls } = scriptedFetch((request) => body.respond(request));
    const controller = new AbortController();
    const stream = await client(fetch).chatStream('x', { signal: controller.signal });
    const pending = collect(stream);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it('an already aborted signal fails before any request', async () => {
    const { fetch, calls } = scriptedFetch();
    await expect(client(fetch).chatStream('x', { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(APIUserAbortError);
    expect(calls).toHaveLength(0);
  });

  it('breaking out of the loop aborts the request', async () => {
    const body = new SSEBody([tokenFrame('Quantum', 1)]);
    const { fetch, calls } = scriptedFetch((request) => body.respond(request));
    const stream = await client(fetch).chatStream('x');
    for await (const _token of stream) break;
    expect(calls[0]!.signal.aborted).toBe(true);
    await expect(stream.finalMessage()).rejects.toMatchObject({ name: 'APIUserAbortError', partialText: 'Quantum' });
  });

  it('toReadableStream() gives UTF-8 text; cancelling it aborts', async () => {
    const { fetch } = scriptedFetch(sseHandler(happy));
    const readable = (await client(fetch).chatStream('x')).toReadableStream();
    expect(await new Response(readable).text()).toBe('Quantum computing');

    const body = new SSEBody([tokenFrame('Quantum', 1)]);
    const second = scriptedFetch((request) => body.respond(request));
    const reader = (await client(second.fetch).chatStream('x')).toReadableStream().getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('Quantum');
    await reader.cancel();
    expect(second.calls[0]!.signal.aborted).toBe(true);
  });

  it('503 before headers is retried by chatStream too', async () => {
    const { fetch, calls } = scriptedFetch(
      () => envelope(503, 'overloaded_error', 'no capacity', {}, { 'retry-after': '0' }),
      sseHandler(happy),
    );
    expect(await collect(await client(fetch).chatStream('x'))).toHaveLength(2);
    expect(calls).toHaveLength(2);
  });

  it('503 that never clears throws OverloadedError from the await', async () => {
    const busy = () => envelope(503, 'overloaded_error', 'no capacity', { code: 'no_capacity' }, { 'retry-after': '0' });
    const { fetch } = scriptedFetch(busy, busy, busy);
    await expect(client(fetch).chatStream('x')).rejects.toMatchObject({ name: 'OverloadedError', code: 'no_capacity' });
    expect(OverloadedError).toBeDefined();
  });
});
