/**
 * The one request core every endpoint shares: headers and credentials, connect/idle/total
 * timeouts, the retry loop with backoff and `Retry-After`, and error mapping.
 */

import { APIConnectionError, APITimeoutError, APIUserAbortError, FarLabsError, errorFromResponse } from '../core/errors.js';
import { RetryPolicy } from '../core/retry.js';
import { VERSION } from '../version.js';
import { childController, sleep } from './abort.js';
import { IDLE, readChunk } from './sse.js';
import type { ResolvedTimeouts } from './timeouts.js';
import type { ApiKeySource } from '../types.js';

export interface CoreConfig {
  baseURL: string;
  fetch: typeof fetch;
  defaultHeaders: Record<string, string>;
}

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  body?: Record<string, unknown> | undefined;
  /** Ask for `text/event-stream` and leave the body unread. */
  stream: boolean;
  idempotencyKey?: string | undefined;
}

/** One logical call across all its attempts: the overall deadline, the caller's signal, retries. */
export class Call {
  /** Aborting it ends every attempt; its reason is always a `FarLabsError`. */
  readonly controller = new AbortController();
  readonly retry: RetryPolicy;
  readonly timeouts: ResolvedTimeouts;
  private readonly deadlineAt: number | undefined;
  private readonly cleanups: Array<() => void> = [];

  constructor(timeouts: ResolvedTimeouts, maxRetries: number, userSignal?: AbortSignal) {
    this.timeouts = timeouts;
    this.retry = new RetryPolicy(maxRetries);
    this.deadlineAt = timeouts.totalMs === undefined ? undefined : Date.now() + timeouts.totalMs;
    if (userSignal) {
      const onAbort = (): void => this.abort(new APIUserAbortError());
      if (userSignal.aborted) onAbort();
      else {
        userSignal.addEventListener('abort', onAbort, { once: true });
        this.cleanups.push(() => userSignal.removeEventListener('abort', onAbort));
      }
    }
    if (timeouts.totalMs !== undefined) {
      const totalMs = timeouts.totalMs;
      const timer = setTimeout(
        () => this.abort(new APITimeoutError(`the call did not finish within ${totalMs} ms`, 'total')),
        totalMs,
      );
      // An unread stream must not keep a Node process alive for the whole deadline.
      (timer as { unref?: () => void }).unref?.();
      this.cleanups.push(() => clearTimeout(timer));
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Abort with `reason` unless already aborted (the first reason wins). */
  abort(reason: FarLabsError): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** What is left of the overall deadline in ms, or undefined without one. */
  remainingMs(): number | undefined {
    return this.deadlineAt === undefined ? undefined : Math.max(0, this.deadlineAt - Date.now());
  }

  /** Run `fn` when the call is finished. */
  onFinish(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Release timers and listeners; the call is over. */
  finish(): void {
    for (const fn of this.cleanups.splice(0)) fn();
  }

  /** The call's abort reason when it was aborted, else `fallback`. */
  reasonOr(fallback: unknown): FarLabsError {
    const reason: unknown = this.signal.aborted ? this.signal.reason : fallback;
    if (reason instanceof FarLabsError) return reason;
    return new APIConnectionError(`connection error: ${describe(reason)}`, { code: 'connection_error', cause: reason });
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

/** Sends requests for one client. */
export class HttpCore {
  // A private field: printing or serializing the client never shows the credential.
  readonly #apiKey: ApiKeySource | undefined;

  constructor(
    readonly config: CoreConfig,
    apiKey: ApiKeySource | undefined,
  ) {
    this.#apiKey = apiKey;
  }

  private async headers(spec: RequestSpec): Promise<Headers> {
    const headers = new Headers(this.config.defaultHeaders);
    headers.set('Accept', spec.stream ? 'text/event-stream' : 'application/json');
    headers.set('X-FarLabs-SDK', `ts/${VERSION}`);
    if (spec.body !== undefined) headers.set('Content-Type', 'application/json');
    if (spec.idempotencyKey !== undefined) headers.set('Idempotency-Key', spec.idempotencyKey);
    const key = this.#apiKey;
    // A function is called per request: short-lived browser tokens stay fresh across retries.
    const token = typeof key === 'function' ? await key() : key;
    if (typeof key === 'function' && (typeof token !== 'string' || token === '')) {
      throw new FarLabsError('the apiKey function must return a non-empty string', { code: 'invalid_api_key' });
    }
    if (token) headers.set('Authorization', `Bearer ${token}`);
    return headers;
  }

  url(path: string): string {
    return `${this.config.baseURL}${path}`;
  }

  /** One attempt: resolves with a 2xx response (body unread) or throws a mapped error. */
  private async attempt(spec: RequestSpec, call: Call): Promise<Response> {
    if (call.signal.aborted) throw call.reasonOr(undefined);
    const { controller, release } = childController(call.signal);
    call.onFinish(release);
    const { connectMs, idleMs } = call.timeouts;
    // A whole answer arrives with its headers only once generation is done: idle bounds that wait.
    const headerMs = spec.stream ? connectMs : maxDefined(connectMs, idleMs);
    const timer =
      headerMs === undefined
        ? undefined
        : setTimeout(
            () => controller.abort(new APITimeoutError(`no response headers within ${headerMs} ms`, spec.stream ? 'connect' : 'idle')),
            headerMs,
          );
    let response: Response;
    try {
      const headers = await this.headers(spec);
      response = await this.config.fetch(this.url(spec.path), {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: controller.signal,
      });
    } catch (error) {
      if (error instanceof FarLabsError) throw error;
      if (controller.signal.aborted && controller.signal.reason instanceof FarLabsError) throw controller.signal.reason;
      throw call.reasonOr(error);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    if (response.ok) return response;
    const text = await readText(response, call, idleMs);
    throw errorFromResponse(response.status, text, response.headers);
  }

  /** Attempts until one succeeds, the error is final, retries run out or the deadline passes. */
  async send(spec: RequestSpec, call: Call): Promise<Response> {
    for (;;) {
      try {
        return await this.attempt(spec, call);
      } catch (error) {
        const failure = error instanceof FarLabsError ? error : call.reasonOr(error);
        await this.waitBeforeRetry(failure, call);
      }
    }
  }

  /** Sleep before the next attempt, or throw `error` when it should not be retried. */
  async waitBeforeRetry(error: FarLabsError, call: Call): Promise<void> {
    if (call.signal.aborted) throw call.reasonOr(error);
    const delay = call.retry.delayBeforeRetry(error, call.remainingMs());
    if (delay === undefined) throw error;
    try {
      await sleep(delay, call.signal);
    } catch {
      throw call.reasonOr(error);
    }
  }

  /** A JSON request: sends, then reads and parses the body under the idle limit. */
  async json(spec: RequestSpec, call: Call): Promise<unknown> {
    try {
      for (;;) {
        const response = await this.send(spec, call);
        let text: string;
        try {
          text = await readText(response, call, call.timeouts.idleMs);
        } catch (error) {
          // The body broke off: as retryable as a failed connection (nothing reached the caller).
          await this.waitBeforeRetry(error instanceof FarLabsError ? error : call.reasonOr(error), call);
          continue;
        }
        try {
          return JSON.parse(text);
        } catch {
          throw new APIConnectionError(`the server sent a body that is not JSON: ${text.slice(0, 200)}`, {
            code: 'invalid_response',
            requestId: response.headers.get('x-request-id') ?? undefined,
          });
        }
      }
    } finally {
      call.finish();
    }
  }
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  return Math.max(a, b);
}

/** Read a whole body as text; silence longer than `idleMs` between chunks is a timeout. */
async function readText(response: Response, call: Call, idleMs: number | undefined): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const result = await readChunk(reader, idleMs, call.signal).catch((error: unknown) => {
        throw call.reasonOr(error);
      });
      if (result === IDLE) throw new APITimeoutError(`no data from the server for ${idleMs} ms`, 'idle');
      if (result.done) return text + decoder.decode();
      text += decoder.decode(result.value, { stream: true });
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  }
}
