// vite 7 without plugin-react: esbuild's automatic JSX runtime is enough for this small app.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/dashboard/',
  esbuild: { jsx: 'automatic' },
  build: { outDir: '../src/farlabs_server/dashboard', emptyOutDir: true },
});
