/** Runtime detection without Node-only imports (safe to evaluate in browsers, edge runtimes and SSR). */

/** Read an environment variable where one exists (Node, Bun, Deno with `process`); else undefined. */
export function readEnv(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** True in a browser page or a browser worker (where a long-lived secret would be exposed). */
export function isBrowserLike(): boolean {
  const g = globalThis as { window?: unknown; document?: unknown; importScripts?: unknown; navigator?: { product?: string } };
  if (typeof g.window !== 'undefined' && typeof g.document !== 'undefined') return true;
  // Web workers expose importScripts; React Native announces itself through navigator.product.
  return typeof g.importScripts === 'function' || g.navigator?.product === 'ReactNative';
}

/** A random identifier (crypto.randomUUID where available: every modern runtime has it). */
export function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
