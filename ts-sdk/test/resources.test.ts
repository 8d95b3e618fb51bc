import { describe, expect, it } from 'vitest';
import { FarMesh, NotFoundError, PermissionDeniedError } from '../src/index.js';
import { envelope, json, scriptedFetch } from './helpers.js';

const wallet = '0x00000000000000000000000000000000000000aB';

describe('models and provider', () => {
  it('lists models', async () => {
    const models = { object: 'list', data: [{ id: 'HuggingFaceTB/SmolLM2-135M-Instruct', object: 'model', created: 1, owned_by: 'farlabs' }] };
    const { fetch, calls } = scriptedFetch(() => json(200, models));
    const list = await new FarMesh({ baseURL: 'http://h', fetch }).models.list();
    expect(list).toEqual(models);
    expect(calls[0]).toMatchObject({ url: 'http://h/v1/models', method: 'GET' });
    expect(calls[0]!.headers.has('idempotency-key')).toBe(false);
  });

  it.each(['stats', 'earnings', 'payments', 'nodes'] as const)('GETs /provider/{wallet}/%s', async (what) => {
    const { fetch, calls } = scriptedFetch(() => json(200, { wallet_address: wallet, earned_far: '1.5' }));
    const mesh = new FarMesh({ baseURL: 'http://h', apiKey: 'fl_k', fetch });
    expect(await mesh.provider(wallet)[what]()).toEqual({ wallet_address: wallet, earned_far: '1.5' });
    expect(calls[0]!.url).toBe(`http://h/provider/${wallet}/${what}`);
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer fl_k');
  });

  it('asks for an earnings window and refuses a bad one before sending', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, { wallet_address: wallet, days: 7, daily: [], by_node: [] }));
    const provider = new FarMesh({ baseURL: 'http://h', apiKey: 'fl_k', fetch }).provider(wallet);
    expect((await provider.earnings({ days: 7 })).days).toBe(7);
    expect(calls[0]!.url).toBe(`http://h/provider/${wallet}/earnings?days=7`);
    expect(() => provider.earnings({ days: 0 })).toThrow(RangeError);
    expect(() => provider.earnings({ days: 1.5 })).toThrow(RangeError);
    expect(calls).toHaveLength(1);
  });

  it('maps provider errors', async () => {
    const { fetch } = scriptedFetch(
      () => envelope(403, 'permission_error', 'another wallet'),
      () => envelope(404, 'not_found_error', 'unknown wallet'),
    );
    const mesh = new FarMesh({ baseURL: 'http://h', fetch });
    await expect(mesh.provider(wallet).stats()).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(mesh.provider(wallet).nodes()).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a malformed wallet', () => {
    expect(() => new FarMesh({ baseURL: 'http://h' }).provider('0x123/../admin')).toThrow(/20-byte hex address/);
  });

  it('reports a body that is not JSON', async () => {
    const { fetch } = scriptedFetch(() => new Response('<html>', { status: 200 }));
    await expect(new FarMesh({ baseURL: 'http://h', fetch }).models.list()).rejects.toThrow(/not JSON/);
  });
});
