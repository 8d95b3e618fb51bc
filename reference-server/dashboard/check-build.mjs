// `npm test` here: the committed build (../src/farlabs_server/dashboard, shipped with the server package) must be
// exactly what `vite build` makes of this source now — otherwise a source change never reaches users.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const committed = join(root, '../src/farlabs_server/dashboard');
const fresh = mkdtempSync(join(tmpdir(), 'farlabs-dashboard-'));

const files = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();

try {
  await build({ root, logLevel: 'warn', build: { outDir: fresh, emptyOutDir: true } });
  const want = files(fresh); const have = files(committed);
  const stale = [...new Set([...want, ...have])].filter((f) => !want.includes(f) || !have.includes(f)
    || !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))));
  if (stale.length) {
    console.error(`The committed dashboard build is stale (${stale.join(', ')}).\n`
      + 'Rebuild it: npm run build -w reference-server/dashboard, and commit reference-server/src/farlabs_server/dashboard.');
    process.exit(1);
  }
  console.log(`dashboard build is current (${have.length} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
