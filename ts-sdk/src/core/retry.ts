/** When to try a call again, and how long to wait first (the same policy as the Python SDK). */

import {
  INITIAL_RETRY_DELAY_MS,
  MAX_RETRY_AFTER_MS,
  MAX_RETRY_DELAY_MS,
  RETRYABLE_ERROR_TYPES,
  RETRYABLE_STATUS_CODES,
} from '../internal/constants.js';
import { APIConnectionError, APIStatusError, APITimeoutError, type FarLabsError } from './errors.js';

/** Whether another attempt could succeed (callers also check that no token has flowed). */
export function isRetryable(error: FarLabsError): boolean {
  if (error instanceof APITimeoutError) return error.kind !== 'total';
  if (error instanceof APIConnectionError) return true;
  if (error instanceof APIStatusError) {
    if (error.type !== undefined) return RETRYABLE_ERROR_TYPES.has(error.type);
    return error.status !== undefined && RETRYABLE_STATUS_CODES.has(error.status);
  }
  return false;
}

/** Exponential backoff with jitter in the upper half: ~0.5 s, 1 s, 2 s … capped at 8 s. */
export function backoffDelayMs(retriesDone: number, random: () => number = Math.random): number {
  const base = Math.min(INITIAL_RETRY_DELAY_MS * 2 ** retriesDone, MAX_RETRY_DELAY_MS);
  return base * (0.5 + random() / 2);
}

/** Counts the attempts of one call and decides whether and when to try again. */
export class RetryPolicy {
  retriesDone = 0;

  constructor(
    readonly maxRetries: number,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Milliseconds to wait before the next attempt, or undefined to throw `error` now.
   * `remainingMs` is what is left of the call's overall deadline (undefined: no deadline).
   */
  delayBeforeRetry(error: FarLabsError, remainingMs?: number): number | undefined {
    if (this.retriesDone >= this.maxRetries || !isRetryable(error)) return undefined;
    const retryAfter = error instanceof APIStatusError ? error.retryAfterMs : undefined;
    // A server asking for a long pause gets the error back: the caller decides.
    if (retryAfter !== undefined && retryAfter > MAX_RETRY_AFTER_MS) return undefined;
    const delay = retryAfter ?? backoffDelayMs(this.retriesDone, this.random);
    if (remainingMs !== undefined && delay >= remainingMs) return undefined;
    this.retriesDone += 1;
    return delay;
  }
}
