/**
 * The two layers are enforced by the tools, not by convention: the core's
 * tsconfig rejects Buffer, process and node: imports, and the linter rejects
 * Node modules in the core and upward imports into the CLI.
 */
import { describe, expect, it, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';

const t = tmpDir('tinyimage-layers-');
afterAll(() => t.cleanup());

describe('the core compiles without Node', () => {
  it('tsc with the core tsconfig rejects Buffer, process and node:fs', () => {
    writeFileSync(
      t.path('probe.ts'),
      "import { readFileSync } from 'node:fs';\nexport const a = Buffer.from('x');\nexport const b = process.env;\nexport const c = readFileSync;\n",
    );
    writeFileSync(
      t.path('ok.ts'),
      "export const d = new TextEncoder().encode('x');\nexport const e = crypto.getRandomValues(new Uint8Array(4));\n",
    );
    const config = {
      extends: join(REPO, 'src/core/tsconfig.json'),
      compilerOptions: { noEmit: true, composite: false, rootDir: t.dir },
      include: [join(REPO, 'src/core/runtime.d.ts'), t.path('*.ts')],
    };
    writeFileSync(t.path('tsconfig.json'), JSON.stringify(config));
    const r = run(join(REPO, 'node_modules/.bin/tsc'), ['-p', t.path('tsconfig.json')]);
    expect(r.code).not.toBe(0);
    const errors = r.stdout.split('\n').filter((l) => l.includes('error TS'));
    expect(errors.some((l) => l.includes("Cannot find module 'node:fs'"))).toBe(true);
    expect(errors.some((l) => l.includes("Cannot find name 'Buffer'"))).toBe(true);
    expect(errors.some((l) => l.includes("Cannot find name 'process'"))).toBe(true);
    // what every runtime has compiles
    expect(errors.filter((l) => l.includes('ok.ts'))).toEqual([]);
  });

  it('eslint rejects Node modules and the Node layer in the core, and the CLI below it', () => {
    const lint = (file: string, code: string) =>
      run(join(REPO, 'node_modules/.bin/eslint'), ['--stdin', '--stdin-filename', join(REPO, file)], {
        input: code,
        cwd: REPO,
      });
    const core = lint(
      'src/core/fs/probe.ts',
      "import { readFileSync } from 'fs';\nimport { x } from '../../node/io/file.js';\nexport const y = [readFileSync, x];\n",
    );
    expect(core.code).toBe(1);
    expect(core.stdout).toContain('The core is pure');
    expect(core.stdout).toContain('The core must not import the Node layer');
    const up = lint('src/node/build/probe.ts', "import { main } from '../cli/main.js';\nexport const z = main;\n");
    expect(up.stdout).toContain('only the CLI imports the CLI');
    const fine = lint(
      'src/node/host/probe.ts',
      "import { readFileSync } from 'node:fs';\nexport const z = readFileSync;\n",
    );
    expect(fine.code).toBe(0);
  }, 60_000);
});
