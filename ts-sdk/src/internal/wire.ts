/** Converting between the public camelCase shapes and the wire's snake_case JSON. */

import { isRecord } from '../core/errors.js';
import type { ChatMessage, ChatRequest, ChatResponse, RouteHop, TokenEvent, Usage } from '../types.js';

const ROLES = new Set(['system', 'user', 'assistant']);

function fail(message: string): never {
  throw new TypeError(message);
}

function checkNumber(name: string, value: unknown, min: number, max: number, opts: { integer?: boolean; minExclusive?: boolean } = {}): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${name} must be a number, got ${String(value)}`);
  if (opts.integer && !Number.isInteger(value)) fail(`${name} must be an integer, got ${value}`);
  const belowMin = opts.minExclusive ? value <= min : value < min;
  if (belowMin || value > max) fail(`${name} must be in ${opts.minExclusive ? '(' : '['}${min}, ${max}], got ${value}`);
}

function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) fail('messages must be a non-empty array');
  messages.forEach((m: unknown, i) => {
    if (!isRecord(m)) fail(`messages[${i}] must be an object with role and content`);
    if (typeof m['role'] !== 'string' || !ROLES.has(m['role'])) fail(`messages[${i}].role must be one of system, user, assistant`);
    if (typeof m['content'] !== 'string') fail(`messages[${i}].content must be a string`);
  });
  return (messages as ChatMessage[]).map((m) => ({ role: m.role, content: m.content }));
}

/** Validate a request and build the JSON body of `POST /mesh/inference/generate`. */
export function generateBody(request: ChatRequest, stream: boolean): Record<string, unknown> {
  if (!isRecord(request)) fail('chat() takes a prompt string or an object with prompt or messages');
  const hasPrompt = request.prompt !== undefined;
  const hasMessages = request.messages !== undefined;
  if (hasPrompt === hasMessages) fail('give exactly one of prompt and messages');
  const body: Record<string, unknown> = {};
  if (hasPrompt) {
    if (typeof request.prompt !== 'string' || request.prompt.trim() === '') fail('prompt must be a non-empty string');
    body['prompt'] = request.prompt;
  } else {
    body['messages'] = checkMessages(request.messages);
  }
  checkNumber('maxTokens', request.maxTokens, 1, 4096, { integer: true });
  checkNumber('temperature', request.temperature, 0, 2);
  checkNumber('topP', request.topP, 0, 1, { minExclusive: true });
  checkNumber('seed', request.seed, 0, Number.MAX_SAFE_INTEGER, { integer: true });
  const stop = request.stop;
  if (stop !== undefined) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || list.length > 4 || list.some((s) => typeof s !== 'string' || s === '')) {
      fail('stop must be a non-empty string or an array of up to 4 non-empty strings');
    }
  }
  for (const [name, value] of [['model', request.model], ['requestId', request.requestId], ['userWallet', request.userWallet], ['region', request.region]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) fail(`${name} must be a non-empty string`);
  }
  const optional: Record<string, unknown> = {
    max_tokens: request.maxTokens,
    model_id: request.model,
    request_id: request.requestId,
    user_wallet: request.userWallet,
    temperature: request.temperature,
    top_p: request.topP,
    stop: request.stop,
    seed: request.seed,
    region: request.region,
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) body[key] = value;
  body['stream'] = stream;
  return body;
}

function int(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function optStr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function parseUsage(value: unknown): Usage {
  const u = isRecord(value) ? value : {};
  const promptTokens = int(u['prompt_tokens']);
  const completionTokens = int(u['completion_tokens']);
  const total = u['total_tokens'];
  return { promptTokens, completionTokens, totalTokens: typeof total === 'number' ? total : promptTokens + completionTokens };
}

function parseRoute(value: unknown): RouteHop[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((hop) => ({
    nodeId: optStr(hop['node_id']),
    peerId: optStr(hop['peer_id']),
    startBlock: int(hop['start_block']),
    endBlock: int(hop['end_block']),
  }));
}

/** A decimal string kept exactly as sent (a number is converted without float arithmetic). */
function decimal(value: unknown): string {
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return '0';
}

/** The `done` payload (or a whole non-streamed answer) as a `ChatResponse`. */
export function parseDone(payload: unknown, fallbackText = '', fallbackRequestId = ''): ChatResponse {
  const p = isRecord(payload) ? payload : {};
  const ttft = p['time_to_first_token_ms'];
  return {
    text: typeof p['text'] === 'string' ? p['text'] : fallbackText,
    usage: parseUsage(p['usage']),
    costFar: decimal(p['cost_far']),
    requestId: optStr(p['request_id']) ?? fallbackRequestId,
    sessionId: optStr(p['session_id']),
    modelId: optStr(p['model_id']),
    route: parseRoute(p['route']),
    finishReason: optStr(p['finish_reason']) ?? 'stop',
    timeToFirstTokenMs: typeof ttft === 'number' ? ttft : undefined,
  };
}

/** A token event's payload, or undefined when it carries no token string. */
export function parseToken(payload: unknown): TokenEvent | undefined {
  if (!isRecord(payload) || typeof payload['token'] !== 'string') return undefined;
  const generated = payload['tokens_generated'];
  return {
    token: payload['token'],
    requestId: optStr(payload['request_id']),
    tokensGenerated: typeof generated === 'number' ? generated : undefined,
    costFar: payload['cost_far'] === undefined ? undefined : decimal(payload['cost_far']),
  };
}
