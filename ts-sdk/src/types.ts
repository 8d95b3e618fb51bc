/** Public request and response shapes (camelCase; the wire format in docs/protocol.md is snake_case). */

/** An API key (`fl_…`), a JWT, or a function returning one — called before every request, so a
 * browser can fetch a fresh short-lived token from its own backend. */
export type ApiKeySource = string | (() => string | Promise<string>);

/** Client-side time limits in milliseconds; `null` turns one off. */
export interface TimeoutOptions {
  /** Until the response headers of a stream arrive (default 10 s). A whole answer
   * (`stream: false`) only answers when done, so its wait is bounded by `idle` as well. */
  connect?: number | null;
  /** Silence allowed between two stream events or body chunks (default 60 s). Keep-alive
   * comments do not count as activity. */
  idle?: number | null;
  /** Overall deadline of one call, across every retry (default 600 s). */
  total?: number | null;
}

/** A number is the overall deadline in ms (connect and idle capped by it). */
export type Timeout = number | TimeoutOptions;

export interface ClientOptions {
  /** Defaults to the `FARLABS_API_KEY` environment variable where one exists. Optional: a proxy
   * in front of the server may add credentials itself. */
  apiKey?: ApiKeySource | undefined;
  /** Defaults to `FARLABS_BASE_URL`, then `http://127.0.0.1:8100`. */
  baseURL?: string | undefined;
  /** A fetch implementation (defaults to the global one, looked up at call time). */
  fetch?: typeof fetch | undefined;
  /** Retries before the first token (default 2). */
  maxRetries?: number | undefined;
  timeout?: Timeout | undefined;
  /** Extra headers sent with every request. */
  defaultHeaders?: Record<string, string> | undefined;
  /** Allow a long-lived `fl_` key in a browser, where every visitor can read it. */
  dangerouslyAllowBrowser?: boolean | undefined;
}

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

/** Options of one generation call. */
export interface ChatOptions {
  /** Model id; the server's `DEFAULT_MODEL_ID` when omitted. */
  model?: string | undefined;
  /** 1…4096 (server default 256). */
  maxTokens?: number | undefined;
  /** 0…2; 0 is greedy (server default 0.7). */
  temperature?: number | undefined;
  /** (0, 1]. */
  topP?: number | undefined;
  /** A stop sequence or up to 4. */
  stop?: string | string[] | undefined;
  seed?: number | undefined;
  /** Your id for the request (also used as the idempotency key unless one is given). */
  requestId?: string | undefined;
  /** Stable across retries of this call; generated when omitted. */
  idempotencyKey?: string | undefined;
  userWallet?: string | undefined;
  region?: string | undefined;
  signal?: AbortSignal | undefined;
  maxRetries?: number | undefined;
  timeout?: Timeout | undefined;
}

/** A prompt, or a whole conversation, plus options. */
export type ChatRequest = ChatOptions & ({ prompt: string; messages?: undefined } | { messages: ChatMessage[]; prompt?: undefined });

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** One server of the swarm that computed a span of the model's blocks. */
export interface RouteHop {
  nodeId?: string | undefined;
  peerId?: string | undefined;
  startBlock: number;
  endBlock: number;
}

/** `stop`: EOS or a stop sequence; `length`: `maxTokens`; `cancelled`. */
export type FinishReason = 'stop' | 'length' | 'cancelled' | (string & {});

export interface ChatResponse {
  text: string;
  usage: Usage;
  /** Total cost in $FAR as an exact decimal string (never a float). */
  costFar: string;
  requestId: string;
  sessionId?: string | undefined;
  modelId?: string | undefined;
  route: RouteHop[];
  finishReason: FinishReason;
  timeToFirstTokenMs?: number | undefined;
}

/** One token event of a stream, as the server sent it. */
export interface TokenEvent {
  token: string;
  requestId?: string | undefined;
  tokensGenerated?: number | undefined;
  /** Cumulative cost so far, a decimal string. */
  costFar?: string | undefined;
}

export interface Model {
  id: string;
  object: 'model';
  created?: number;
  owned_by?: string;
  [key: string]: unknown;
}

export interface ModelList {
  object: 'list';
  data: Model[];
}

/** Per-call options of the non-inference endpoints. */
export interface RequestOptions {
  signal?: AbortSignal | undefined;
  maxRetries?: number | undefined;
  timeout?: Timeout | undefined;
}
