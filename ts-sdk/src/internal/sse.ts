/**
 * A server-sent-events decoder over a fetch body, with an idle timeout that only real events
 * reset: `: keep-alive` comments keep proxies happy but do not prove the swarm is making progress.
 */

export interface SSEEvent {
  /** The `event:` field; `message` when absent. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

export interface ReadSSEOptions {
  /** Silence allowed between two events, in ms (undefined: none). */
  idleMs?: number | undefined;
  /** Build the error thrown when the idle limit passes. */
  idleError: () => Error;
  /** Aborts the read; the iterator rejects with `signal.reason`. */
  signal: AbortSignal;
}

/** What `readChunk` resolves to when the idle limit passed first. */
export const IDLE: unique symbol = Symbol('idle');

/** Race one read against the idle deadline and the abort signal. */
export function readChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  waitMs: number | undefined,
  signal: AbortSignal,
): Promise<ReadableStreamReadResult<Uint8Array> | typeof IDLE> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason);
    };
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    if (waitMs !== undefined) {
      timer = setTimeout(() => {
        cleanup();
        resolve(IDLE);
      }, Math.max(0, waitMs));
    }
    reader.read().then(
      (result) => {
        cleanup();
        resolve(result);
      },
      (error: unknown) => {
        cleanup();
        reject(signal.aborted ? signal.reason : error);
      },
    );
  });
}

/** Split decoded text into complete lines, keeping the unfinished tail. */
function takeLines(buffer: string): [string[], string] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < buffer.length; i++) {
    const ch = buffer[i];
    if (ch === '\n' || ch === '\r') {
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (ch === '\r' && i === buffer.length - 1) break;
      lines.push(buffer.slice(start, i));
      if (ch === '\r' && buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
  }
  return [lines, buffer.slice(start)];
}

/** Yield the events of an SSE body until it ends; throws the idle error or the abort reason. */
export async function* readSSE(body: ReadableStream<Uint8Array>, options: ReadSSEOptions): AsyncGenerator<SSEEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let eventName = '';
  let dataLines: string[] = [];
  let lastEventAt = Date.now();
  let finished = false;
  try {
    for (;;) {
      const waitMs = options.idleMs === undefined ? undefined : lastEventAt + options.idleMs - Date.now();
      const result = await readChunk(reader, waitMs, options.signal);
      if (result === IDLE) throw options.idleError();
      if (result.done) {
        buffer += decoder.decode();
      } else {
        buffer += decoder.decode(result.value, { stream: true });
      }
      const [lines, rest] = takeLines(result.done ? `${buffer}\n` : buffer);
      buffer = result.done ? '' : rest;
      for (const line of lines) {
        if (line === '') {
          if (dataLines.length > 0) {
            lastEventAt = Date.now();
            yield { event: eventName || 'message', data: dataLines.join('\n') };
          }
          eventName = '';
          dataLines = [];
          continue;
        }
        if (line.startsWith(':')) continue; // a comment: keep-alive, not progress
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') eventName = value;
        else if (field === 'data') dataLines.push(value);
      }
      if (result.done) {
        // A final event without its blank line still counts (a server may close right after it).
        if (dataLines.length > 0) yield { event: eventName || 'message', data: dataLines.join('\n') };
        finished = true;
        return;
      }
    }
  } finally {
    if (!finished) {
      // Stop the download: abort, idle timeout, or the consumer broke out of the loop.
      reader.cancel().catch(() => {});
    }
    try {
      reader.releaseLock();
    } catch {
      // an older runtime refuses while the cancelled read is pending; the stream is done anyway
    }
  }
}
