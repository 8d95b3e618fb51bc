/**
 * One error tree, mapped from the server's error envelope `type` (the HTTP status is a fallback).
 *
 * ```
 * FarLabsError
 * ├── APIConnectionError            the server could not be reached or the connection broke
 * │   └── APITimeoutError           connect / idle (silence between events) / total deadline
 * ├── APIUserAbortError             the caller aborted (signal, stream.abort(), stop())
 * ├── APIStatusError                the server answered with an error (HTTP status or `error` event)
 * │   ├── BadRequestError           invalid_request_error (400, 405, 413, 415, 422)
 * │   │   └── ContextLengthExceededError
 * │   ├── AuthenticationError       401
 * │   ├── PermissionDeniedError     403
 * │   ├── NotFoundError             404
 * │   ├── ConflictError             409
 * │   ├── RateLimitError            429 (retryAfterMs)
 * │   ├── InternalServerError       500 and unexpected 5xx
 * │   ├── OverloadedError           503, no capacity (retryAfterMs)
 * │   └── GatewayTimeoutError       504, the swarm did not answer in time
 * └── StreamInterruptedError        tokens had flowed and the stream could not be resumed (partialText)
 * ```
 */

/** Fields every SDK error may carry. */
export interface ErrorDetails {
  requestId?: string | undefined;
  status?: number | undefined;
  code?: string | undefined;
  type?: string | undefined;
  param?: string | undefined;
  partialText?: string | undefined;
  body?: unknown;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** Base of every error the SDK throws. */
export class FarLabsError extends Error {
  /** The request id the server assigned or echoed, when known. */
  readonly requestId: string | undefined;
  /** HTTP status; for an in-stream error, the status the protocol gives its type. */
  readonly status: number | undefined;
  /** The envelope's machine-readable `code` (e.g. `no_capacity`), or a client-side code. */
  readonly code: string | undefined;
  /** The envelope's `type` (e.g. `overloaded_error`). */
  readonly type: string | undefined;
  /** The request field to blame, when the server named one. */
  readonly param: string | undefined;
  /** Text already streamed when the error struck mid-stream. */
  readonly partialText: string | undefined;
  /** The envelope's inner object (or the raw body) as received. */
  readonly body: unknown;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.requestId = details.requestId;
    this.status = details.status;
    this.code = details.code;
    this.type = details.type;
    this.param = details.param;
    this.partialText = details.partialText;
    this.body = details.body;
  }
}

/** The request never got an answer: DNS, refused connection, reset, broken stream. */
export class APIConnectionError extends FarLabsError {}

/** Which client-side limit ran out. */
export type TimeoutKind = 'connect' | 'idle' | 'total';

/** A client-side timeout; keep-alive comments do not count as activity for `idle`. */
export class APITimeoutError extends APIConnectionError {
  readonly kind: TimeoutKind;
  constructor(message: string, kind: TimeoutKind, details: ErrorDetails = {}) {
    super(message, { code: `${kind}_timeout`, ...details });
    this.kind = kind;
  }
}

/** The caller aborted the request (an `AbortSignal`, `stream.abort()` or the hook's `stop()`). */
export class APIUserAbortError extends FarLabsError {
  constructor(message = 'request was aborted', details: ErrorDetails = {}) {
    super(message, { code: 'aborted', ...details });
  }
}

/** The server answered with an error envelope (as an HTTP error or an in-stream event). */
export class APIStatusError extends FarLabsError {
  /** Milliseconds the server asked us to wait (`Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** The request is wrong (`invalid_request_error`); retrying it will not help. */
export class BadRequestError extends APIStatusError {}
/** The prompt plus `maxTokens` do not fit the model's context window. */
export class ContextLengthExceededError extends BadRequestError {}
/** No, unknown, expired or revoked credentials (401). */
export class AuthenticationError extends APIStatusError {}
/** Valid credentials that are not allowed to do this (403). */
export class PermissionDeniedError extends APIStatusError {}
/** Unknown route, model, node, wallet or batch (404). */
export class NotFoundError extends APIStatusError {}
/** The same request id / idempotency key is in flight or was used with another body (409). */
export class ConflictError extends APIStatusError {}
/** Too many requests for this key (429); see `retryAfterMs`. */
export class RateLimitError extends APIStatusError {}
/** A bug on the server's side (500 and other unexpected 5xx). */
export class InternalServerError extends APIStatusError {}
/** No node can serve the model now (503, code `no_capacity`); see `retryAfterMs`. */
export class OverloadedError extends APIStatusError {}
/** The swarm did not answer within the server's deadline (504). */
export class GatewayTimeoutError extends APIStatusError {}
/** Tokens had flowed and the stream could not be resumed; `partialText` holds what came. */
export class StreamInterruptedError extends FarLabsError {}

type ErrorClass = new (message: string, details?: ErrorDetails) => FarLabsError;

const BY_TYPE: Record<string, [ErrorClass, number | undefined]> = {
  invalid_request_error: [BadRequestError, 400],
  context_length_exceeded: [ContextLengthExceededError, 400],
  authentication_error: [AuthenticationError, 401],
  permission_error: [PermissionDeniedError, 403],
  not_found_error: [NotFoundError, 404],
  conflict_error: [ConflictError, 409],
  rate_limit_error: [RateLimitError, 429],
  api_error: [InternalServerError, 500],
  overloaded_error: [OverloadedError, 503],
  timeout_error: [GatewayTimeoutError, 504],
  stream_interrupted: [StreamInterruptedError, undefined],
};

const BY_STATUS: Record<number, ErrorClass> = {
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  429: RateLimitError,
  503: OverloadedError,
  504: GatewayTimeoutError,
};

function classForStatus(status: number): ErrorClass {
  return BY_STATUS[status] ?? (status >= 500 ? InternalServerError : BadRequestError);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Milliseconds from a `Retry-After` header (delta-seconds or an HTTP date); undefined if absent/bad. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.max(0, Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Where an envelope came from, for the fields the envelope itself may lack. */
export interface EnvelopeContext {
  status?: number | undefined;
  requestId?: string | undefined;
  retryAfterMs?: number | undefined;
  partialText?: string | undefined;
}

/**
 * Build the error for an envelope's inner object (`{"type", "code", "message", …}`).
 * Without an HTTP status (an in-stream event) the status the protocol assigns to the type is used.
 */
export function errorFromEnvelope(envelope: Record<string, unknown>, context: EnvelopeContext = {}): FarLabsError {
  const type = str(envelope['type']);
  let cls: ErrorClass;
  let typeStatus: number | undefined;
  const known = type !== undefined && Object.prototype.hasOwnProperty.call(BY_TYPE, type) ? BY_TYPE[type] : undefined;
  if (known) {
    [cls, typeStatus] = known;
  } else if (context.status !== undefined) {
    cls = classForStatus(context.status);
    typeStatus = context.status;
  } else {
    cls = InternalServerError;
  }
  const serverPartial = envelope['partial_text'];
  return new cls(str(envelope['message']) ?? type ?? 'error', {
    requestId: str(envelope['request_id']) ?? context.requestId,
    status: context.status ?? typeStatus,
    code: str(envelope['code']),
    type,
    param: str(envelope['param']),
    partialText: typeof serverPartial === 'string' ? serverPartial : context.partialText,
    body: envelope,
    retryAfterMs: context.retryAfterMs,
  });
}

/** Build the error for an HTTP error response whose body was read as text. */
export function errorFromResponse(status: number, bodyText: string, headers: Headers): FarLabsError {
  const context: EnvelopeContext = {
    status,
    requestId: headers.get('x-request-id') ?? undefined,
    retryAfterMs: parseRetryAfter(headers.get('retry-after')),
  };
  let parsed: unknown;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  const inner = isRecord(parsed) && isRecord(parsed['error']) ? parsed['error'] : undefined;
  if (inner) return errorFromEnvelope(inner, context);
  // Not our envelope (a proxy's HTML page, an empty body): the status decides.
  const cls = classForStatus(status);
  const snippet = bodyText.trim().slice(0, 200);
  return new cls(`HTTP ${status}${snippet ? `: ${snippet}` : ''}`, {
    ...context,
    body: parsed ?? bodyText,
  });
}

/** A plain object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
