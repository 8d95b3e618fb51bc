// vite 7 without plugin-react: esbuild's automatic JSX runtime is enough for this small app.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/dashboard/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: '../src/farlabs_server/dashboard',
    emptyOutDir: true,
    rollupOptions: {
      // The SDK's React entry starts with "use client" (for server-component bundlers); a SPA ignores it.
      onwarn(warning, warn) { if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning); },
    },
  },
});
