import { describe, expect, it, vi } from 'vitest';
import { AuthenticationError, ChatSession, FarMesh, type ChatSessionState } from '../src/index.js';
import { SSEBody, doneFrame, envelope, scriptedFetch, sseHandler, tokenFrame } from './helpers.js';

const frames = [tokenFrame('Hello', 1), tokenFrame(' there', 2), doneFrame('Hello there')];
const mesh = (fetchImpl: typeof fetch) => new FarMesh({ baseURL: 'http://h', fetch: fetchImpl, maxRetries: 0 });

function record(session: ChatSession): ChatSessionState[] {
  const states: ChatSessionState[] = [];
  session.subscribe(() => states.push(session.getSnapshot()));
  return states;
}

describe('ChatSession', () => {
  it('send() streams the answer into messages, with status transitions', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames));
    const onFinish = vi.fn();
    const session = new ChatSession({ client: mesh(fetch), system: 'Be brief.', maxTokens: 20, onFinish });
    const states = record(session);
    const response = await session.send('Hi');
    expect(response?.text).toBe('Hello there');
    expect(calls[0]!.body).toMatchObject({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      max_tokens: 20,
      stream: true,
    });
    const final = session.getSnapshot();
    expect(final.status).toBe('ready');
    expect(final.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hi'],
      ['assistant', 'Hello there'],
    ]);
    expect(final.messages[1]!.response?.costFar).toBe('0.0002');
    expect(final.usage).toEqual({ promptTokens: 9, completionTokens: 2, totalTokens: 11 });
    const statuses = states.map((s) => s.status);
    expect(statuses).toContain('submitted');
    expect(statuses).toContain('streaming');
    expect(states.map((s) => s.messages.at(-1)?.content)).toContain('Hello');
    expect(onFinish).toHaveBeenCalledOnce();
    // every change is a new snapshot object (what useSyncExternalStore needs)
    expect(new Set(states).size).toBe(states.length);
  });

  it('sends the whole conversation on the next turn', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames), sseHandler(frames));
    const session = new ChatSession({ client: mesh(fetch) });
    await session.send('Hi');
    await session.send('Again');
    expect((calls[1]!.body!['messages'] as unknown[]).length).toBe(3);
  });

  it('chat() is one prompt outside the conversation, streaming into completion', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames));
    const session = new ChatSession({ client: mesh(fetch) });
    const states = record(session);
    const response = await session.chat('Explain quantum computing');
    expect(response.text).toBe('Hello there');
    expect(calls[0]!.body).toMatchObject({ messages: [{ role: 'user', content: 'Explain quantum computing' }] });
    expect(session.getSnapshot().messages).toEqual([]);
    expect(session.getSnapshot().completion).toBe('Hello there');
    expect(states.map((s) => s.completion)).toContain('Hello');
  });

  it('an HTTP error sets error and status, send resolves undefined, chat rejects', async () => {
    const { fetch } = scriptedFetch(
      () => envelope(401, 'authentication_error', 'unknown key'),
      () => envelope(401, 'authentication_error', 'unknown key'),
    );
    const onError = vi.fn();
    const session = new ChatSession({ client: mesh(fetch), onError });
    expect(await session.send('Hi')).toBeUndefined();
    expect(session.getSnapshot().status).toBe('error');
    expect(session.getSnapshot().error).toBeInstanceOf(AuthenticationError);
    expect(session.getSnapshot().messages.map((m) => m.role)).toEqual(['user']);
    expect(onError).toHaveBeenCalledOnce();
    session.clearError();
    expect(session.getSnapshot()).toMatchObject({ status: 'ready', error: undefined });
    await expect(session.chat('x')).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('stop() aborts the request and keeps the partial answer', async () => {
    const body = new SSEBody([tokenFrame('Hel', 1)]);
    const { fetch, calls } = scriptedFetch((request) => body.respond(request));
    const session = new ChatSession({ client: mesh(fetch) });
    const sent = session.send('Hi');
    await vi.waitFor(() => expect(session.getSnapshot().status).toBe('streaming'));
    session.stop();
    expect(await sent).toBeUndefined();
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(session.getSnapshot()).toMatchObject({ status: 'ready', error: undefined });
    expect(session.getSnapshot().messages.at(-1)).toMatchObject({ role: 'assistant', content: 'Hel' });
  });

  it('a new request supersedes the running one', async () => {
    const body = new SSEBody();
    const { fetch, calls } = scriptedFetch((request) => body.respond(request), sseHandler(frames));
    const session = new ChatSession({ client: mesh(fetch) });
    const first = session.chat('one').catch((e: unknown) => e);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    const second = await session.chat('two');
    expect(second.text).toBe('Hello there');
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(await first).toMatchObject({ name: 'APIUserAbortError' });
    expect(session.getSnapshot()).toMatchObject({ status: 'ready', completion: 'Hello there' });
  });

  it('reload() regenerates the last answer', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames), sseHandler(frames));
    const session = new ChatSession({ client: mesh(fetch) });
    await session.send('Hi');
    await session.reload();
    expect(calls[1]!.body!['messages']).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(session.getSnapshot().messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('reads options at each request, never stale ones', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames), sseHandler(frames));
    let options = { client: mesh(fetch), temperature: 0.1 };
    const session = new ChatSession(() => options);
    await session.chat('a');
    options = { ...options, temperature: 0.9 };
    await session.chat('b');
    expect(calls.map((c) => c.body!['temperature'])).toEqual([0.1, 0.9]);
  });

  it('setMessages, initialMessages and unsubscribe', () => {
    const session = new ChatSession({ initialMessages: [{ id: '1', role: 'user', content: 'x' }] });
    const listener = vi.fn();
    const unsubscribe = session.subscribe(listener);
    session.setMessages((current) => [...current, { id: '2', role: 'assistant', content: 'y' }]);
    expect(session.getSnapshot().messages).toHaveLength(2);
    unsubscribe();
    session.setMessages([]);
    expect(listener).toHaveBeenCalledOnce();
    expect(() => session.setMessages('nope' as never)).toThrow(/array/);
  });

  it('refuses an empty message', async () => {
    await expect(new ChatSession().send('  ')).rejects.toThrow(/non-empty/);
  });
});
