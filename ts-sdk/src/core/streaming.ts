/** `ChatStream`: the tokens of one generation as an async iterable of strings. */

import {
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  FarLabsError,
  StreamInterruptedError,
  errorFromEnvelope,
  isRecord,
} from './errors.js';
import type { Call, HttpCore, RequestSpec } from '../internal/http.js';
import { readSSE } from '../internal/sse.js';
import { parseDone, parseToken } from '../internal/wire.js';
import type { ChatResponse, FinishReason, Usage } from '../types.js';

/**
 * A running generation. `await mesh.chatStream(…)` resolves once the response headers arrive;
 * iterate it (once) for tokens, or call `finalMessage()` for the whole answer.
 *
 * Before the first token, a retryable failure (dropped connection, `overloaded_error` event, …)
 * reconnects with the same idempotency key; after it, failures throw with `partialText`.
 */
export class ChatStream implements AsyncIterable<string> {
  private readonly parts: string[] = [];
  private iterating = false;
  private readonly final: Promise<ChatResponse>;
  private settle!: { resolve: (r: ChatResponse) => void; reject: (e: unknown) => void };

  /** The request id (from the `X-Request-ID` header, then the events). */
  requestId: string | undefined;
  /** Tokens received so far. */
  tokensGenerated = 0;
  /** Cumulative cost so far in $FAR, a decimal string. */
  costFar: string | undefined;
  /** Token counts, once the stream has finished. */
  usage: Usage | undefined;
  finishReason: FinishReason | undefined;

  /** @internal Built by `FarMesh.chatStream`. */
  constructor(
    private response: Response,
    private readonly call: Call,
    private readonly core: HttpCore,
    private readonly spec: RequestSpec,
  ) {
    this.requestId = response.headers.get('x-request-id') ?? undefined;
    this.final = new Promise<ChatResponse>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Nobody may ever ask for the final message: its rejection must not go unhandled.
    this.final.catch(() => {});
  }

  /** The text received so far. */
  get text(): string {
    return this.parts.join('');
  }

  /** The signal that aborts this stream (the caller's signal, the deadline, or `abort()`). */
  get signal(): AbortSignal {
    return this.call.signal;
  }

  /** Stop the generation: the request is aborted and iteration throws `APIUserAbortError`. */
  abort(): void {
    this.call.abort(new APIUserAbortError('the stream was aborted'));
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.iterating) throw new FarLabsError('a ChatStream can be iterated only once', { code: 'stream_consumed' });
    this.iterating = true;
    return this.tokens();
  }

  /** The whole answer once the stream ends (reads the stream if nobody iterates it). */
  finalMessage(): Promise<ChatResponse> {
    if (!this.iterating) void this.drain();
    return this.final;
  }

  /** UTF-8 text of the tokens, e.g. as the body of a `Response` in a route handler.
   * Cancelling the readable stream aborts the generation. */
  toReadableStream(): ReadableStream<Uint8Array> {
    const iterator = this[Symbol.asyncIterator]();
    const encoder = new TextEncoder();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const { value, done } = await iterator.next();
          if (done) controller.close();
          else controller.enqueue(encoder.encode(value));
        } catch (error) {
          controller.error(error);
        }
      },
      cancel: () => {
        this.abort();
        void iterator.return?.();
      },
    });
  }

  private async drain(): Promise<void> {
    try {
      for await (const _token of this) {
        // reading for finalMessage(); the text accumulates in this.parts
      }
    } catch {
      // already delivered through this.final
    }
  }

  private async *tokens(): AsyncGenerator<string> {
    let settled = false;
    try {
      const response = yield* this.readTokens();
      settled = true;
      this.settle.resolve(response);
    } catch (error) {
      settled = true;
      this.settle.reject(error);
      throw error;
    } finally {
      if (!settled) {
        // The consumer left the loop early: stop the generation rather than let it run on.
        this.abort();
        this.settle.reject(new APIUserAbortError('the stream was closed before it ended', { partialText: this.text }));
      }
      this.call.finish();
    }
  }

  /** Reads the current response, reconnecting while no token has arrived. */
  private async *readTokens(): AsyncGenerator<string, ChatResponse> {
    for (;;) {
      try {
        return yield* this.readResponse(this.response);
      } catch (error) {
        const failure = error instanceof FarLabsError ? error : this.call.reasonOr(error);
        if (this.tokensGenerated > 0 || this.call.signal.aborted) throw this.withPartial(failure);
        await this.core.waitBeforeRetry(failure, this.call);
        this.response = await this.core.send(this.spec, this.call);
        this.requestId = this.response.headers.get('x-request-id') ?? this.requestId;
      }
    }
  }

  private async *readResponse(response: Response): AsyncGenerator<string, ChatResponse> {
    if (!response.body) throw new APIConnectionError('the server sent an empty stream', { code: 'empty_stream' });
    const idleMs = this.call.timeouts.idleMs;
    const events = readSSE(response.body, {
      idleMs,
      idleError: () => new APITimeoutError(`no event from the server for ${idleMs} ms`, 'idle'),
      signal: this.call.signal,
    });
    for await (const event of events) {
      const payload = parseJson(event.data);
      if (event.event === 'error') {
        const envelope = isRecord(payload) && isRecord(payload['error']) ? payload['error'] : isRecord(payload) ? payload : {};
        throw errorFromEnvelope(envelope, { requestId: this.requestId });
      }
      if (event.event === 'done') {
        const done = parseDone(payload, this.text, this.requestId ?? '');
        this.usage = done.usage;
        this.finishReason = done.finishReason;
        this.costFar = done.costFar;
        this.requestId = done.requestId || this.requestId;
        return done;
      }
      const token = parseToken(payload);
      if (token === undefined) continue; // an event this SDK version does not know: skip it
      this.parts.push(token.token);
      this.tokensGenerated += 1;
      this.costFar = token.costFar ?? this.costFar;
      this.requestId = token.requestId ?? this.requestId;
      yield token.token;
    }
    throw new APIConnectionError('the stream ended without a done event', { code: 'incomplete_stream' });
  }

  /** The error to throw once tokens have flowed (or the call was aborted): it carries the text so far. */
  private withPartial(error: FarLabsError): FarLabsError {
    const details = { partialText: error.partialText ?? this.text, requestId: error.requestId ?? this.requestId, cause: error };
    if (error instanceof APITimeoutError) return new APITimeoutError(error.message, error.kind, details);
    if (error instanceof APIUserAbortError) return new APIUserAbortError(error.message, details);
    if (error instanceof APIConnectionError) {
      return new StreamInterruptedError(`the stream broke off after ${this.tokensGenerated} tokens: ${error.message}`, {
        ...details,
        code: error.code,
      });
    }
    if (error.partialText === undefined && this.tokensGenerated > 0) {
      const Cls = error.constructor as new (message: string, d: object) => FarLabsError;
      return new Cls(error.message, { ...error, ...details, retryAfterMs: (error as { retryAfterMs?: number }).retryAfterMs });
    }
    return error;
  }
}

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new APIConnectionError(`the server sent an event that is not JSON: ${data.slice(0, 200)}`, { code: 'invalid_response' });
  }
}
