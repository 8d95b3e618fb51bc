import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Against a real server: FARLABS_BASE_URL and FARLABS_API_KEY must be set (scripts/with-mesh.py does it).
export default defineConfig({
  resolve: { alias: { '@farlabs/sdk': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/integration/**/*.test.{ts,tsx}'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
