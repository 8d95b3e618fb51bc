/** `FarMesh`: the client of a Far Mesh server (the reference server or a hosted one). */

import { FarLabsError } from './core/errors.js';
import { ChatStream } from './core/streaming.js';
import { DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, ENV_API_KEY, ENV_BASE_URL, GENERATE_PATH } from './internal/constants.js';
import { isBrowserLike, randomId, readEnv } from './internal/env.js';
import { Call, HttpCore, type RequestSpec } from './internal/http.js';
import { resolveTimeouts, type ResolvedTimeouts } from './internal/timeouts.js';
import { generateBody, parseDone } from './internal/wire.js';
import { Models } from './resources/models.js';
import { Provider } from './resources/provider.js';
import type { ChatOptions, ChatRequest, ChatResponse, ClientOptions, RequestOptions } from './types.js';

function checkRetries(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`maxRetries must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** A prompt string or a request object, plus per-call options, as one request. A bare string is one user
 * message, so chat models answer it through their chat template; `{ prompt }` sends raw text to complete. */
function toRequest(input: string | ChatRequest, options: ChatOptions | undefined): ChatRequest {
  if (typeof input === 'string') {
    if (input.trim() === '') throw new TypeError('prompt must be a non-empty string');
    return { ...options, messages: [{ role: 'user', content: input }] } as ChatRequest;
  }
  if (typeof input !== 'object' || input === null) {
    throw new TypeError('chat() takes a prompt string or an object with prompt or messages');
  }
  return { ...options, ...input } as ChatRequest;
}

/**
 * ```ts
 * const mesh = new FarMesh({ apiKey: 'fl_…' });
 * const response = await mesh.chat('Explain quantum computing');
 * for await (const token of await mesh.chatStream('Explain quantum computing')) process.stdout.write(token);
 * ```
 */
export class FarMesh {
  readonly baseURL: string;
  readonly maxRetries: number;
  readonly timeouts: Readonly<ResolvedTimeouts>;
  readonly models: Models;
  private readonly core: HttpCore;

  constructor(options: ClientOptions = {}) {
    const apiKey = options.apiKey ?? readEnv(ENV_API_KEY);
    if (apiKey !== undefined && typeof apiKey !== 'string' && typeof apiKey !== 'function') {
      throw new TypeError('apiKey must be a string or a function returning one');
    }
    // A long-lived secret in a page is readable by every visitor: refuse unless told otherwise.
    if (typeof apiKey === 'string' && apiKey.startsWith('fl_') && isBrowserLike() && !options.dangerouslyAllowBrowser) {
      throw new FarLabsError(
        "refusing to use a secret fl_ API key in a browser, where anyone can read it. Pass a function that fetches a short-lived token from your backend as apiKey, call the API through your backend, or set dangerouslyAllowBrowser: true if you understand the risk.",
        { code: 'browser_secret_key' },
      );
    }
    const baseURL = (options.baseURL ?? readEnv(ENV_BASE_URL) ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/.test(baseURL) && !baseURL.startsWith('/') && baseURL !== '') {
      throw new TypeError(`baseURL must be an http(s) URL or a path on this origin, got ${baseURL}`);
    }
    this.baseURL = baseURL;
    this.maxRetries = checkRetries(options.maxRetries ?? DEFAULT_MAX_RETRIES);
    this.timeouts = resolveTimeouts(options.timeout);
    const fetchImpl = options.fetch;
    if (fetchImpl !== undefined && typeof fetchImpl !== 'function') throw new TypeError('fetch must be a function');
    this.core = new HttpCore(
      {
        baseURL,
        // Looked up per call (tests and polyfills may replace it) and never called as a method of
        // another object (browsers throw "Illegal invocation").
        fetch: fetchImpl ?? ((input, init) => globalThis.fetch(input, init)),
        defaultHeaders: { ...options.defaultHeaders },
      },
      apiKey === '' ? undefined : apiKey,
    );
    this.models = new Models((method, path, opts) => this.request(method, path, opts));
  }

  /** A wallet's provider numbers: `mesh.provider('0x…').stats()`. */
  provider(wallet: string): Provider {
    return new Provider((method, path, opts) => this.request(method, path, opts), wallet);
  }

  /** Generate a whole answer. */
  async chat(input: string | ChatRequest, options?: ChatOptions): Promise<ChatResponse> {
    const request = toRequest(input, options);
    const spec = this.generateSpec(request, false);
    const call = this.newCall(request);
    const payload = await this.core.json(spec, call);
    return parseDone(payload, '', request.requestId ?? '');
  }

  /** Start a streamed generation; resolves once the response headers arrive (HTTP errors throw here). */
  async chatStream(input: string | ChatRequest, options?: ChatOptions): Promise<ChatStream> {
    const request = toRequest(input, options);
    const spec = this.generateSpec(request, true);
    const call = this.newCall(request);
    try {
      const response = await this.core.send(spec, call);
      return new ChatStream(response, call, this.core, spec);
    } catch (error) {
      call.finish();
      throw error;
    }
  }

  private generateSpec(request: ChatRequest, stream: boolean): RequestSpec {
    const body = generateBody(request, stream);
    // One key for every attempt of this call: the server never charges a retry twice.
    const idempotencyKey = request.idempotencyKey ?? request.requestId ?? `sdk_${randomId()}`;
    return { method: 'POST', path: GENERATE_PATH, body, stream, idempotencyKey };
  }

  private newCall(options: RequestOptions): Call {
    const maxRetries = options.maxRetries === undefined ? this.maxRetries : checkRetries(options.maxRetries);
    return new Call(resolveTimeouts(options.timeout, this.timeouts), maxRetries, options.signal);
  }

  private request(method: 'GET' | 'POST', path: string, options: RequestOptions): Promise<unknown> {
    return this.core.json({ method, path, stream: false }, this.newCall(options));
  }
}
