/** `mesh.provider(wallet)`: a provider's numbers (`GET /provider/{wallet}/…`). Only the wallet's owner (a
 * provider token from a wallet sign-in or `far-node dashboard`) or an admin may read them.
 * Amounts of $FAR are exact decimal strings ("0.000400000000000000"): parse them with a decimal library, not Number. */

import type { RequestOptions } from '../types.js';
import type { Requester } from './requester.js';

/** Any provider response, as JSON (kept for code written against 0.1's untyped results). */
export type ProviderData = Record<string, unknown>;

/** Hardware a node reports; unknown fields are kept as reported. */
export interface NodeHardware {
  gpu_name?: string | null;
  vram_used_gb?: number | null;
  vram_total_gb?: number | null;
  gpu_temp_c?: number | null;
  cpu_count?: number | null;
  cpu_percent?: number | null;
  ram_used_gb?: number | null;
  ram_total_gb?: number | null;
  [key: string]: unknown;
}

export interface ProviderStats {
  wallet_address: string;
  nodes_total: number;
  nodes_online: number;
  sessions: number;
  tokens_contributed: number;
  block_tokens: number;
  total_earned_far: string;
  paid_far: string;
  unpaid_far: string;
  last_payment_at: string | null;
}

export interface ProviderEarnings {
  wallet_address: string;
  days: number;
  /** One entry per day of the window, oldest first, zero days included. */
  daily: { date: string; far: string; tokens: number }[];
  by_node: { node_id: string; node_name: string; tokens: number; earned_far: string; paid_far: string; unpaid_far: string }[];
  paid_far: string;
  unpaid_far: string;
}

export interface ProviderPayment {
  batch_id: string;
  date: string;
  amount_far: string;
  status: 'planned' | 'signed' | 'broadcast' | 'confirmed' | 'failed' | 'abandoned';
  network: string;
  chain_id: number | null;
  tx_hash: string | null;
  /** The transaction on a public block explorer; null on a local chain. */
  tx_url: string | null;
  block_number: number | null;
}

export interface ProviderPayments {
  wallet_address: string;
  payments: ProviderPayment[];
}

export interface ProviderNode {
  node_id: string;
  node_name: string;
  status: 'online' | 'offline';
  model_id: string;
  start_block: number;
  end_block: number;
  mode: 'swarm' | 'local';
  peer_id: string | null;
  region: string | null;
  gateway_url: string | null;
  last_seen: string;
  online_since: string;
  /** Seconds online without a gap of three missed heartbeats; 0 when offline. */
  uptime_s: number;
  tokens_served: number;
  hardware: NodeHardware;
}

export interface ProviderNodes {
  wallet_address: string;
  nodes: ProviderNode[];
}

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

  private get<T>(what: string, options: RequestOptions): Promise<T> {
    return this.request('GET', `/provider/${encodeURIComponent(this.wallet)}/${what}`, options) as Promise<T>;
  }

  /** Totals: tokens served, $FAR earned and unpaid, nodes online. */
  stats(options: RequestOptions = {}): Promise<ProviderStats> {
    return this.get('stats', options);
  }

  /** $FAR per day over the last `days` days (the server's default 30, at most 366) and per node, paid vs unpaid. */
  earnings(options: RequestOptions & { days?: number } = {}): Promise<ProviderEarnings> {
    const { days, ...rest } = options;
    if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 366)) {
      throw new RangeError(`days must be an integer from 1 to 366, got ${String(days)}`);
    }
    return this.get(days === undefined ? 'earnings' : `earnings?days=${days}`, rest);
  }

  /** Payout batches that paid this wallet, newest first, with their transactions. */
  payments(options: RequestOptions = {}): Promise<ProviderPayments> {
    return this.get('payments', options);
  }

  /** The wallet's nodes: status, uptime, last seen, hardware, blocks. */
  nodes(options: RequestOptions = {}): Promise<ProviderNodes> {
    return this.get('nodes', options);
  }
}
