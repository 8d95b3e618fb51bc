/** Turning the public `timeout` option into three limits in ms. */

import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TOTAL_TIMEOUT_MS } from './constants.js';
import type { Timeout } from '../types.js';

export interface ResolvedTimeouts {
  connectMs: number | undefined;
  idleMs: number | undefined;
  totalMs: number | undefined;
}

export const DEFAULT_TIMEOUTS: ResolvedTimeouts = {
  connectMs: DEFAULT_CONNECT_TIMEOUT_MS,
  idleMs: DEFAULT_IDLE_TIMEOUT_MS,
  totalMs: DEFAULT_TOTAL_TIMEOUT_MS,
};

function checkMs(name: string, value: unknown): number | undefined {
  if (value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`timeout${name ? `.${name}` : ''} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/** Resolve `value` over `base`; a number is the overall deadline (connect/idle capped by it). */
export function resolveTimeouts(value: Timeout | undefined, base: ResolvedTimeouts = DEFAULT_TIMEOUTS): ResolvedTimeouts {
  if (value === undefined) return base;
  if (typeof value === 'number' || value === null || typeof value !== 'object') {
    const total = checkMs('', value) as number;
    const cap = (ms: number | undefined): number => (ms === undefined ? total : Math.min(ms, total));
    return { connectMs: cap(base.connectMs), idleMs: cap(base.idleMs), totalMs: total };
  }
  return {
    connectMs: value.connect === undefined ? base.connectMs : checkMs('connect', value.connect),
    idleMs: value.idle === undefined ? base.idleMs : checkMs('idle', value.idle),
    totalMs: value.total === undefined ? base.totalMs : checkMs('total', value.total),
  };
}
