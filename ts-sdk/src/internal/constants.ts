/** Every default of the SDK, in one place (the same values as the Python SDK, in milliseconds). */

export const ENV_API_KEY = 'FARLABS_API_KEY';
export const ENV_BASE_URL = 'FARLABS_BASE_URL';

/** The reference server's coordinator port (the plan's 8100), bound to loopback by default. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8100';

/** Until the response headers arrive. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Silence allowed between two stream events or body chunks; a loading swarm can be slow. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Overall deadline of one call, across every retry. */
export const DEFAULT_TOTAL_TIMEOUT_MS = 600_000;

export const DEFAULT_MAX_RETRIES = 2;
export const INITIAL_RETRY_DELAY_MS = 500;
export const MAX_RETRY_DELAY_MS = 8_000;
/** A server asking us to wait longer than this is not waited for: the error is thrown instead. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** 408, 409 (same idempotency key still in flight), 429 and 5xx. */
export const RETRYABLE_STATUS_CODES: ReadonlySet<number> = new Set([408, 409, 429, 500, 502, 503, 504]);
/** Envelope `type`s worth another attempt (also in a stream, while no token has arrived). */
export const RETRYABLE_ERROR_TYPES: ReadonlySet<string> = new Set([
  'conflict_error',
  'rate_limit_error',
  'api_error',
  'overloaded_error',
  'timeout_error',
]);

export const GENERATE_PATH = '/mesh/inference/generate';
export const MODELS_PATH = '/v1/models';

export const REQUEST_ID_HEADER = 'x-request-id';
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
