// @vitest-environment jsdom
import { useState } from 'react';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { FarMesh } from '../../src/index.js';
import { FarMeshProvider, useFarMesh } from '../../src/react/index.js';
import { serverEnv } from './env.js';

const { baseURL, apiKey } = serverEnv();

afterEach(cleanup);

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

describe('useFarMesh against the reference server', () => {
  it("runs the plan's hook example in a browser-like page", async () => {
    // A page must not hold an fl_ key: it gets a short-lived credential through a function
    // (here the test key itself, standing in for a token from the app's backend).
    const mesh = new FarMesh({ baseURL, apiKey: async () => apiKey });
    render(
      <FarMeshProvider client={mesh}>
        <ChatComponent prompt="Explain quantum computing" />
      </FarMeshProvider>,
    );
    fireEvent.click(screen.getByText('ask'));
    await waitFor(() => expect(screen.getByTestId('loading').textContent).toBe('true'));
    await waitFor(() => expect(screen.getByTestId('result').textContent!.length).toBeGreaterThan(0), { timeout: 100_000 });
    expect(screen.getByTestId('loading').textContent).toBe('false');
  });
});
