import type { RequestOptions } from '../types.js';

/** @internal How resources send a JSON request through the client's core. */
export type Requester = (method: 'GET' | 'POST', path: string, options: RequestOptions) => Promise<unknown>;
