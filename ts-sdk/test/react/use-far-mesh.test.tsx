// @vitest-environment jsdom
import { StrictMode, useState } from 'react';
import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { FarMesh } from '../../src/index.js';
import { FarMeshProvider, useFarMesh } from '../../src/react/index.js';
import { SSEBody, doneFrame, scriptedFetch, sseHandler, tokenFrame } from '../helpers.js';

const frames = [tokenFrame('Quantum', 1), tokenFrame(' bits', 2), doneFrame('Quantum bits')];
const mesh = (fetchImpl: typeof fetch) => new FarMesh({ baseURL: 'http://h', fetch: fetchImpl, maxRetries: 0 });

afterEach(cleanup);

/** The plan's example, verbatim apart from the client given through the provider. */
function ChatComponent({ prompt }: { prompt: string }) {
  const { chat, loading } = useFarMesh();
  const [result, setResult] = useState('');
  const handleSubmit = async () => {
    const response = await chat(prompt);
    setResult(response.text);
  };
  return (
    <div>
      <button onClick={handleSubmit}>ask</button>
      <p data-testid="loading">{String(loading)}</p>
      <p data-testid="result">{result}</p>
    </div>
  );
}

describe('useFarMesh', () => {
  it("runs the plan's example", async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames));
    render(
      <FarMeshProvider client={mesh(fetch)}>
        <ChatComponent prompt="Explain quantum computing" />
      </FarMeshProvider>,
    );
    fireEvent.click(screen.getByText('ask'));
    await waitFor(() => expect(screen.getByTestId('result').textContent).toBe('Quantum bits'));
    expect(screen.getByTestId('loading').textContent).toBe('false');
    expect(calls[0]!.body).toMatchObject({ messages: [{ role: 'user', content: 'Explain quantum computing' }] });
  });

  it('streams updates into messages and status', async () => {
    const body = new SSEBody();
    const { fetch } = scriptedFetch((request) => body.respond(request));
    const { result } = renderHook(() => useFarMesh({ client: mesh(fetch) }));
    let sent!: Promise<unknown>;
    act(() => {
      sent = result.current.send('Hi');
    });
    await waitFor(() => expect(result.current.status).toBe('submitted'));
    expect(result.current.loading).toBe(true);
    act(() => void body.push(tokenFrame('Quantum', 1)));
    await waitFor(() => expect(result.current.messages.at(-1)?.content).toBe('Quantum'));
    expect(result.current.status).toBe('streaming');
    act(() => {
      body.push(tokenFrame(' bits', 2));
      body.push(doneFrame('Quantum bits'));
      body.close();
    });
    await act(async () => {
      await sent;
    });
    expect(result.current.status).toBe('ready');
    expect(result.current.loading).toBe(false);
    expect(result.current.messages.map((m) => m.content)).toEqual(['Hi', 'Quantum bits']);
    expect(result.current.usage?.totalTokens).toBe(11);
  });

  it('stop() aborts the request', async () => {
    const body = new SSEBody([tokenFrame('Quan', 1)]);
    const { fetch, calls } = scriptedFetch((request) => body.respond(request));
    const { result } = renderHook(() => useFarMesh({ client: mesh(fetch) }));
    act(() => void result.current.send('Hi'));
    await waitFor(() => expect(result.current.status).toBe('streaming'));
    act(() => result.current.stop());
    expect(calls[0]!.signal.aborted).toBe(true);
    await waitFor(() => expect(result.current.loading).toBe(false));
    expect(result.current.error).toBeUndefined();
    expect(result.current.messages.at(-1)?.content).toBe('Quan');
  });

  it('aborts the running request on unmount', async () => {
    const body = new SSEBody();
    const { fetch, calls } = scriptedFetch((request) => body.respond(request));
    const { result, unmount } = renderHook(() => useFarMesh({ client: mesh(fetch) }));
    act(() => void result.current.chat('x').catch(() => {}));
    await waitFor(() => expect(calls).toHaveLength(1));
    unmount();
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it('works under StrictMode (double effects do not break the session)', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames));
    const { result } = renderHook(() => useFarMesh({ client: mesh(fetch) }), { wrapper: StrictMode });
    await act(async () => {
      await result.current.send('Hi');
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.signal.aborted).toBe(false);
    expect(result.current.messages.map((m) => m.content)).toEqual(['Hi', 'Quantum bits']);
  });

  it('uses the options of the latest render, not stale ones', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames), sseHandler(frames));
    const client = mesh(fetch);
    const { result, rerender } = renderHook(({ temperature }) => useFarMesh({ client, temperature }), {
      initialProps: { temperature: 0.2 },
    });
    const { chat } = result.current;
    await act(async () => {
      await chat('a');
    });
    rerender({ temperature: 1.1 });
    expect(result.current.chat).toBe(chat); // stable callbacks
    await act(async () => {
      await chat('b');
    });
    expect(calls.map((c) => c.body!['temperature'])).toEqual([0.2, 1.1]);
  });

  it('builds a client from clientOptions when no provider is present', async () => {
    const { fetch, calls } = scriptedFetch(sseHandler(frames));
    const { result } = renderHook(() => useFarMesh({ clientOptions: { baseURL: 'http://example.test', fetch, apiKey: async () => 'eyJ.short' } }));
    await act(async () => {
      await result.current.chat('x');
    });
    expect(calls[0]!.url).toBe('http://example.test/mesh/inference/generate');
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer eyJ.short');
  });

  it('exposes errors and clearError', async () => {
    const { fetch } = scriptedFetch(() => new Response(JSON.stringify({ error: { type: 'rate_limit_error', message: 'slow' } }), { status: 429 }));
    const { result } = renderHook(() => useFarMesh({ client: mesh(fetch) }));
    await act(async () => {
      await result.current.send('Hi');
    });
    expect(result.current.status).toBe('error');
    expect(result.current.error?.name).toBe('RateLimitError');
    act(() => result.current.clearError());
    expect(result.current.error).toBeUndefined();
  });
});
