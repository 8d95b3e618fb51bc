/** A scripted fetch for unit tests: each call takes the next handler; requests are recorded. */

export interface Recorded {
  url: string;
  method: string;
  headers: Headers;
  body: Record<string, unknown> | undefined;
  signal: AbortSignal;
}

export type Handler = (request: Recorded) => Response | Promise<Response>;

export function scriptedFetch(...handlers: Handler[]): { fetch: typeof fetch; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const impl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request: Recorded = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined,
      signal: init?.signal ?? new AbortController().signal,
    };
    calls.push(request);
    const handler = handlers[calls.length - 1];
    if (!handler) throw new Error(`unexpected request #${calls.length}: ${request.method} ${request.url}`);
    return abortable(request.signal, Promise.resolve(handler(request)));
  };
  return { fetch: impl as typeof fetch, calls };
}

/** Like a real fetch: an abort rejects the pending promise with the signal's reason. */
function abortable<T>(signal: AbortSignal, promise: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    promise.then(resolve, reject);
  });
}

/** A handler whose response never comes (until the request is aborted). */
export const hang: Handler = () => new Promise<Response>(() => {});

/** A handler that fails like a refused connection. */
export const refuse: Handler = () => Promise.reject(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') }));

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function envelope(status: number, type: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Response {
  return json(status, { error: { type, message, request_id: 'req_err', ...extra } }, headers);
}

export const done = (text: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  request_id: 'req_1',
  session_id: 'sess_1',
  model_id: 'HuggingFaceTB/SmolLM2-135M-Instruct',
  finish_reason: 'length',
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
  cost_far: '0.0002',
  text,
  route: [{ node_id: 'n1', peer_id: '12D3KooA', start_block: 0, end_block: 15 }],
  time_to_first_token_ms: 12.5,
  ...extra,
});

export const tokenFrame = (token: string, n: number): string =>
  `data: ${JSON.stringify({ token, request_id: 'req_1', tokens_generated: n, cost_far: `0.000${n}` })}\n\n`;
export const doneFrame = (text: string, extra: Record<string, unknown> = {}): string =>
  `event: done\ndata: ${JSON.stringify(done(text, extra))}\n\n`;
export const errorFrame = (type: string, message: string, extra: Record<string, unknown> = {}): string =>
  `event: error\ndata: ${JSON.stringify({ error: { type, message, request_id: 'req_1', ...extra } })}\n\n`;

/** An SSE body the test writes to; aborting the request errors the body like a real fetch. */
export class SSEBody {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly stream: ReadableStream<Uint8Array>;
  cancelled = false;
  closed = false;
  private readonly encoder = new TextEncoder();

  constructor(initial: string[] = []) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.controller = c;
        for (const chunk of initial) c.enqueue(this.encoder.encode(chunk));
      },
      cancel: () => {
        this.cancelled = true;
      },
    });
  }

  /** Write `text`; false once the reader cancelled or the request was aborted. */
  push(text: string): boolean {
    if (this.cancelled || this.closed) return false;
    this.controller.enqueue(this.encoder.encode(text));
    return true;
  }

  close(): void {
    this.closed = true;
    this.controller.close();
  }

  /** Hand this body out as the response of `request`. */
  respond(request: Recorded, headers: Record<string, string> = {}): Response {
    request.signal.addEventListener('abort', () => {
      this.closed = true;
      try {
        this.controller.error(request.signal.reason);
      } catch {
        // already closed
      }
    });
    return new Response(this.stream, { status: 200, headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_1', ...headers } });
  }
}

/** A handler answering with a finished SSE stream made of `frames`. */
export function sseHandler(frames: string[], headers: Record<string, string> = {}): Handler {
  return (request) => {
    const body = new SSEBody(frames);
    body.close();
    return body.respond(request, headers);
  };
}

/** Drain a stream of strings into an array. */
export async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
