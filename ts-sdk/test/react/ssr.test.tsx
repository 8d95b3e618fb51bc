// A server render: no window, no document (the default node environment).
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { FarMesh } from '../../src/index.js';
import { useFarMesh } from '../../src/react/index.js';

function Chat() {
  const { loading, status, messages } = useFarMesh({ client: new FarMesh({ baseURL: 'http://h' }) });
  return <p>{`${status} ${String(loading)} ${messages.length}`}</p>;
}

describe('useFarMesh on the server', () => {
  it('renders without a window and sends nothing', () => {
    expect(typeof window).toBe('undefined');
    expect(renderToString(<Chat />)).toBe('<p>ready false 0</p>');
  });
});
