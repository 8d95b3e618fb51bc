import { describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  FarMesh,
  OverloadedError,
  RateLimitError,
} from '../src/index.js';
import { RetryPolicy, backoffDelayMs, isRetryable } from '../src/core/retry.js';
import { done, envelope, json, refuse, scriptedFetch } from './helpers.js';

const ok = () => json(200, done('Hello world'));
const client = (fetchImpl: typeof fetch, maxRetries = 2) =>
  new FarMesh({ apiKey: 'fl_test', baseURL: 'http://127.0.0.1:1', fetch: fetchImpl, maxRetries });

describe('retry policy', () => {
  it('backs off exponentially with jitter in the upper half, capped', () => {
    expect(backoffDelayMs(0, () => 0)).toBe(250);
    expect(backoffDelayMs(0, () => 1)).toBe(500);
    expect(backoffDelayMs(2, () => 1)).toBe(2000);
    expect(backoffDelayMs(10, () => 1)).toBe(8000);
  });

  it('retries connection errors and retryable types only', () => {
    expect(isRetryable(new APIConnectionError('x'))).toBe(true);
    expect(isRetryable(new APITimeoutError('x', 'idle'))).toBe(true);
    expect(isRetryable(new APITimeoutError('x', 'total'))).toBe(false);
    expect(isRetryable(new OverloadedError('x', { type: 'overloaded_error' }))).toBe(true);
    expect(isRetryable(new BadRequestError('x', { type: 'invalid_request_error' }))).toBe(false);
    expect(isRetryable(new BadRequestError('x', { status: 408 }))).toBe(true);
  });

  it('honours Retry-After but not a very long one, nor one past the deadline', () => {
    const policy = new RetryPolicy(5);
    expect(policy.delayBeforeRetry(new RateLimitError('x', { type: 'rate_limit_error', retryAfterMs: 1500 }))).toBe(1500);
    expect(policy.delayBeforeRetry(new RateLimitError('x', { type: 'rate_limit_error', retryAfterMs: 120_000 }))).toBeUndefined();
    expect(policy.delayBeforeRetry(new RateLimitError('x', { type: 'rate_limit_error', retryAfterMs: 1500 }), 1000)).toBeUndefined();
    expect(policy.retriesDone).toBe(1);
  });

  it('stops after maxRetries', () => {
    const policy = new RetryPolicy(1, () => 0);
    const error = new APIConnectionError('x');
    expect(policy.delayBeforeRetry(error)).toBe(250);
    expect(policy.delayBeforeRetry(error)).toBeUndefined();
  });
});

describe('retries through the client', () => {
  it('retries 503 then succeeds, with the same idempotency key', async () => {
    const { fetch, calls } = scriptedFetch(
      () => envelope(503, 'overloaded_error', 'no capacity', { code: 'no_capacity' }, { 'retry-after': '0' }),
      () => envelope(429, 'rate_limit_error', 'slow down', {}, { 'retry-after': '0' }),
      ok,
    );
    const response = await client(fetch).chat('hi');
    expect(response.text).toBe('Hello world');
    expect(calls).toHaveLength(3);
    const keys = calls.map((c) => c.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^sdk_/);
    expect(new Set(keys).size).toBe(1);
  });

  it('retries a refused connection with backoff', async () => {
    const { fetch, calls } = scriptedFetch(refuse, ok);
    expect((await client(fetch).chat('hi')).text).toBe('Hello world');
    expect(calls).toHaveLength(2);
  });

  it('throws the last error when retries run out', async () => {
    const busy = () => envelope(503, 'overloaded_error', 'no capacity', {}, { 'retry-after': '0' });
    const { fetch, calls } = scriptedFetch(busy, busy, busy);
    await expect(client(fetch, 2).chat('hi')).rejects.toBeInstanceOf(OverloadedError);
    expect(calls).toHaveLength(3);
  });

  it('does not retry a bad request or bad credentials', async () => {
    const bad = scriptedFetch(() => envelope(422, 'invalid_request_error', 'max_tokens: too big', { param: 'max_tokens' }));
    await expect(client(bad.fetch).chat('hi')).rejects.toMatchObject({ name: 'BadRequestError', param: 'max_tokens' });
    expect(bad.calls).toHaveLength(1);
    const auth = scriptedFetch(() => envelope(401, 'authentication_error', 'unknown key'));
    await expect(client(auth.fetch).chat('hi')).rejects.toBeInstanceOf(AuthenticationError);
    expect(auth.calls).toHaveLength(1);
  });

  it('uses the caller request id as idempotency key', async () => {
    const { fetch, calls } = scriptedFetch(ok);
    await client(fetch).chat('hi', { requestId: 'my_req' });
    expect(calls[0]!.headers.get('idempotency-key')).toBe('my_req');
    expect(calls[0]!.body).toMatchObject({ request_id: 'my_req' });
  });

  it('maxRetries 0 per call turns retries off', async () => {
    const { fetch, calls } = scriptedFetch(refuse);
    await expect(client(fetch).chat('hi', { maxRetries: 0 })).rejects.toBeInstanceOf(APIConnectionError);
    expect(calls).toHaveLength(1);
  });
});
