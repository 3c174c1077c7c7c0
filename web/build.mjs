// Bundles the static page into web/dist: index.html, style.css, app.js (the
// page) and worker.js (the core and everything that reads or writes images).
// `npm run build:web` type-checks first, then runs this. docs/web.md says why esbuild.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const here = import.meta.dirname;
const out = join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src/page/main.ts'), worker: join(here, 'src/worker/main.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(here, f), join(out, f));
for (const f of ['index.html', 'style.css', 'app.js', 'worker.js']) {
  const p = join(out, f);
  console.log(
    `${f.padEnd(10)} ${String(statSync(p).size).padStart(8)} bytes, ${String(gzipSync(readFileSync(p)).length).padStart(7)} gzipped`,
  );
}
