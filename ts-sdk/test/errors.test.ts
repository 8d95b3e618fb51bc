import { describe, expect, it } from 'vitest';
import {
  APIStatusError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ContextLengthExceededError,
  GatewayTimeoutError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
  StreamInterruptedError,
} from '../src/index.js';
import { errorFromEnvelope, errorFromResponse, parseRetryAfter } from '../src/core/errors.js';

describe('error mapping', () => {
  it.each([
    ['invalid_request_error', 422, BadRequestError],
    ['context_length_exceeded', 400, ContextLengthExceededError],
    ['authentication_error', 401, AuthenticationError],
    ['permission_error', 403, PermissionDeniedError],
    ['not_found_error', 404, NotFoundError],
    ['conflict_error', 409, ConflictError],
    ['rate_limit_error', 429, RateLimitError],
    ['api_error', 500, InternalServerError],
    ['overloaded_error', 503, OverloadedError],
    ['timeout_error', 504, GatewayTimeoutError],
  ] as const)('maps type %s to its class', (type, status, cls) => {
    const body = JSON.stringify({ error: { type, code: 'c', message: 'boom', request_id: 'req_9', param: 'max_tokens' } });
    const error = errorFromResponse(status, body, new Headers({ 'retry-after': '3' }));
    expect(error).toBeInstanceOf(cls);
    expect(error).toBeInstanceOf(APIStatusError);
    expect(error).toMatchObject({ message: 'boom', status, type, code: 'c', requestId: 'req_9', param: 'max_tokens', retryAfterMs: 3000 });
    expect(error.name).toBe(cls.name);
  });

  it('maps by type before status', () => {
    const body = JSON.stringify({ error: { type: 'overloaded_error', message: 'busy' } });
    expect(errorFromResponse(500, body, new Headers())).toBeInstanceOf(OverloadedError);
  });

  it('falls back to the status when the body is not an envelope', () => {
    const error = errorFromResponse(502, '<html>bad gateway</html>', new Headers({ 'x-request-id': 'req_h' }));
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error.message).toContain('HTTP 502');
    expect(error.requestId).toBe('req_h');
    expect(errorFromResponse(418, '', new Headers())).toBeInstanceOf(BadRequestError);
    expect(errorFromResponse(404, 'nope', new Headers())).toBeInstanceOf(NotFoundError);
  });

  it('gives in-stream errors the status of their type, and keeps partial text', () => {
    const error = errorFromEnvelope({ type: 'stream_interrupted', message: 'lost', partial_text: 'Quantum' });
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect(error.partialText).toBe('Quantum');
    expect(errorFromEnvelope({ type: 'timeout_error', message: 'slow' }).status).toBe(504);
    expect(errorFromEnvelope({ type: 'something_new', message: '?' })).toBeInstanceOf(InternalServerError);
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
