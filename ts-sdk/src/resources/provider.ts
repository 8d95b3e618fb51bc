/** `mesh.provider(wallet)`: a provider's numbers (`GET /provider/{wallet}/…`).
 * The server's shapes are not final, so the types are permissive: the JSON as the server sent it. */

import type { RequestOptions } from '../types.js';
import type { Requester } from './requester.js';

/** A JSON object as the server sent it (amounts of $FAR are decimal strings). */
export type ProviderData = Record<string, unknown>;

const WALLET = /^0x[0-9a-fA-F]{40}$/;

export class Provider {
  /** @internal */
  constructor(
    private readonly request: Requester,
    readonly wallet: string,
  ) {
    if (typeof wallet !== 'string' || !WALLET.test(wallet)) {
      throw new TypeError(`wallet must be a 0x-prefixed 20-byte hex address, got ${String(wallet)}`);
    }
  }

  private get(what: string, options: RequestOptions): Promise<ProviderData> {
    return this.request('GET', `/provider/${encodeURIComponent(this.wallet)}/${what}`, options) as Promise<ProviderData>;
  }

  /** Totals: tokens served, $FAR earned and unpaid, nodes online. */
  stats(options: RequestOptions = {}): Promise<ProviderData> {
    return this.get('stats', options);
  }

  /** Earnings over time. */
  earnings(options: RequestOptions = {}): Promise<ProviderData> {
    return this.get('earnings', options);
  }

  /** Payout batches that paid this wallet. */
  payments(options: RequestOptions = {}): Promise<ProviderData> {
    return this.get('payments', options);
  }

  /** The wallet's nodes and their status. */
  nodes(options: RequestOptions = {}): Promise<ProviderData> {
    return this.get('nodes', options);
  }
}
