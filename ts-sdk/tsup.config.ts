import { defineConfig } from 'tsup';

// Dual ESM + CJS with declarations for both; `'use client'` stays on the react entry.
export default defineConfig({
  entry: { index: 'src/index.ts', 'react/index': 'src/react/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  platform: 'neutral',
  splitting: false,
  // The react entry imports the main one by name, so both share one copy of every class
  // (`instanceof RateLimitError` works whichever entry threw it).
  external: ['react', '@farlabs/sdk'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
  onSuccess: 'node scripts/add-use-client.mjs',
});
