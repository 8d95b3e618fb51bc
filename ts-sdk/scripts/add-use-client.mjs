// esbuild removes module-level directives when it bundles, so put back the `'use client'` that
// React Server Components frameworks need at the top of the react entry (ESM and CJS).
import { readFileSync, writeFileSync } from 'node:fs';

for (const file of ['dist/react/index.js', 'dist/react/index.cjs']) {
  const code = readFileSync(file, 'utf8');
  if (!code.startsWith("'use client'")) writeFileSync(file, `'use client';\n${code}`);
}
