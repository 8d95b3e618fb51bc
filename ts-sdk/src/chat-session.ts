/**
 * `ChatSession`: the state of a chat (messages, status, error, usage) outside any UI framework,
 * after the Vercel AI SDK's chat class. `useFarMesh` is a thin React adapter over it; Vue, Svelte
 * or plain DOM code can `subscribe()` to it the same way.
 */

import { FarMesh } from './client.js';
import { APIUserAbortError } from './core/errors.js';
import { randomId } from './internal/env.js';
import type { ChatMessage, ChatOptions, ChatRequest, ChatResponse, Role, Usage } from './types.js';

/** `submitted`: waiting for the first token; `streaming`: tokens arriving. */
export type ChatStatus = 'ready' | 'submitted' | 'streaming' | 'error';

export interface UIMessage {
  id: string;
  role: Role;
  content: string;
  /** For an assistant message: the finished answer's details (usage, cost, route). */
  response?: ChatResponse | undefined;
}

export interface ChatSessionState {
  messages: readonly UIMessage[];
  status: ChatStatus;
  error: Error | undefined;
  /** Token counts of the last finished answer. */
  usage: Usage | undefined;
  /** The text of the running (or last) `chat()` call, as it streams in. */
  completion: string;
}

/** Generation options applied to every request of the session, plus callbacks. */
export interface ChatSessionOptions extends Omit<ChatOptions, 'signal' | 'requestId' | 'idempotencyKey'> {
  /** The client to use (default: `new FarMesh()`, configured from the environment). */
  client?: FarMesh | undefined;
  /** A system message sent before the conversation (not shown in `messages`). */
  system?: string | undefined;
  initialMessages?: UIMessage[] | undefined;
  onToken?: ((token: string) => void) | undefined;
  onFinish?: ((response: ChatResponse) => void) | undefined;
  onError?: ((error: Error) => void) | undefined;
}

type Listener = () => void;

export class ChatSession {
  private state: ChatSessionState;
  private readonly listeners = new Set<Listener>();
  private controller: AbortController | undefined;
  private defaultClient: FarMesh | undefined;
  private readonly getOptions: () => ChatSessionOptions;

  /** Options, or a function returning the latest ones (read at each request: never stale). */
  constructor(options: ChatSessionOptions | (() => ChatSessionOptions) = {}) {
    this.getOptions = typeof options === 'function' ? options : () => options;
    const initial = this.getOptions().initialMessages ?? [];
    this.state = { messages: [...initial], status: 'ready', error: undefined, usage: undefined, completion: '' };
  }

  /** The current state; a new object after every change (for `useSyncExternalStore`). */
  getSnapshot = (): ChatSessionState => this.state;

  /** Call `listener` after every change; returns the unsubscribe function. */
  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  get loading(): boolean {
    return this.state.status === 'submitted' || this.state.status === 'streaming';
  }

  private set(patch: Partial<ChatSessionState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }

  private client(): FarMesh {
    const given = this.getOptions().client;
    if (given) return given;
    this.defaultClient ??= new FarMesh();
    return this.defaultClient;
  }

  /** Send a user message and stream the assistant's answer into `messages`.
   * Resolves with the answer, or undefined when it failed (see `error`) or was stopped. */
  async send(content: string, options: ChatOptions = {}): Promise<ChatResponse | undefined> {
    if (typeof content !== 'string' || content.trim() === '') throw new TypeError('send() needs a non-empty message');
    const user: UIMessage = { id: randomId(), role: 'user', content };
    this.set({ messages: [...this.state.messages, user] });
    return this.answer(options);
  }

  /** Generate the last answer again (drops the last assistant message, keeps the user's). */
  async reload(options: ChatOptions = {}): Promise<ChatResponse | undefined> {
    const messages = [...this.state.messages];
    while (messages.length > 0 && messages[messages.length - 1]!.role === 'assistant') messages.pop();
    if (!messages.some((m) => m.role === 'user')) return undefined;
    this.set({ messages });
    return this.answer(options);
  }

  /** A single prompt outside the conversation (`messages` is untouched); rejects on failure.
   * Its text streams into `completion`. */
  async chat(prompt: string | ChatRequest, options: ChatOptions = {}): Promise<ChatResponse> {
    if (typeof prompt === 'string' && prompt.trim() === '') throw new TypeError('prompt must be a non-empty string');
    const request: ChatRequest = typeof prompt === 'string'
      ? { ...options, messages: [{ role: 'user', content: prompt }] }
      : { ...options, ...prompt };
    this.set({ completion: '' });
    return this.run(request, (text) => this.set({ completion: text }));
  }

  /** Abort the running request; what streamed so far stays. */
  stop(): void {
    const controller = this.controller;
    this.controller = undefined;
    controller?.abort();
    if (controller && this.loading) this.set({ status: 'ready' });
  }

  /** Replace the conversation (a list, or a function of the current one). */
  setMessages(messages: UIMessage[] | ((current: readonly UIMessage[]) => UIMessage[])): void {
    const next = typeof messages === 'function' ? messages(this.state.messages) : messages;
    if (!Array.isArray(next)) throw new TypeError('setMessages() needs an array of messages');
    this.set({ messages: [...next] });
  }

  clearError(): void {
    if (this.state.error !== undefined || this.state.status === 'error') {
      this.set({ error: undefined, status: this.state.status === 'error' ? 'ready' : this.state.status });
    }
  }

  private async answer(options: ChatOptions): Promise<ChatResponse | undefined> {
    const system = this.getOptions().system;
    const history: ChatMessage[] = this.state.messages.map((m) => ({ role: m.role, content: m.content }));
    const messages = system ? [{ role: 'system' as const, content: system }, ...history] : history;
    const assistant: UIMessage = { id: randomId(), role: 'assistant', content: '' };
    this.set({ messages: [...this.state.messages, assistant] });
    const update = (patch: Partial<UIMessage>): void =>
      this.set({ messages: this.state.messages.map((m) => (m.id === assistant.id ? { ...m, ...patch } : m)) });
    try {
      const response = await this.run({ ...options, messages }, (content) => update({ content }));
      update({ content: response.text, response });
      return response;
    } catch {
      // An empty placeholder helps nobody; partial text is kept.
      if (this.state.messages.find((m) => m.id === assistant.id)?.content === '') {
        this.set({ messages: this.state.messages.filter((m) => m.id !== assistant.id) });
      }
      return undefined;
    }
  }

  /** Stream one request; superseded or stopped runs never touch the state again. */
  private async run(request: ChatRequest, onText: (text: string) => void): Promise<ChatResponse> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const current = (): boolean => this.controller === controller;
    const { client: _client, system: _system, initialMessages: _initial, onToken, onFinish, onError, ...defaults } = this.getOptions();
    this.set({ status: 'submitted', error: undefined });
    try {
      const stream = await this.client().chatStream({ ...defaults, ...request, signal: controller.signal } as ChatRequest);
      for await (const token of stream) {
        if (!current()) break;
        if (this.state.status !== 'streaming') this.set({ status: 'streaming' });
        onText(stream.text);
        onToken?.(token);
      }
      const response = await stream.finalMessage();
      if (current()) {
        this.controller = undefined;
        this.set({ status: 'ready', usage: response.usage });
        onFinish?.(response);
      }
      return response;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (current()) {
        this.controller = undefined;
        if (failure instanceof APIUserAbortError) this.set({ status: 'ready' });
        else {
          this.set({ status: 'error', error: failure });
          onError?.(failure);
        }
      }
      throw failure;
    }
  }
}
