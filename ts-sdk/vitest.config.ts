import { defineConfig } from 'vitest/config';

import { fileURLToPath } from 'node:url';

export default defineConfig({
  resolve: { alias: { '@farlabs/sdk': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Those need a real server: `npm run test:integration` (see scripts/with-mesh.py).
    exclude: ['test/integration/**', '**/node_modules/**'],
    environment: 'node',
    restoreMocks: true,
  },
});
