/**
 * parallelGzip's worker pool (libdeflate in worker threads): the same pieces
 * as on the calling thread, typed errors when a worker fails, and no worker
 * keeping Node alive. Workers load the built worker (dist/), as `npm test`
 * builds it first.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { DeflatePool } from '../../src/node/compress/gzip-pool.js';
import { libdeflateRaw } from '../../src/node/compress/libdeflate.js';
import { ToolError } from '../../src/core/errors.js';
import { REPO } from '../helpers/prereq.js';
import { tmpDir, type TmpDir } from '../helpers/tmp.js';

const text = (n: number, seed: number) =>
  new TextEncoder().encode(
    Array.from({ length: n }, (_, i) => `piece ${seed} line ${i} ${(i * 7919 + seed) % 1009}\n`).join(''),
  );

let t: TmpDir;
beforeAll(() => {
  t = tmpDir('tinyimage-gzpool-');
  writeFileSync(t.path('throws.mjs'), "throw new Error('boom while loading');\n");
  writeFileSync(
    t.path('replies-error.mjs'),
    "import { parentPort } from 'node:worker_threads';\n" +
      "parentPort.on('message', (j) => parentPort.postMessage({ id: j.id, error: { message: 'bad piece', code: 'E_X' } }));\n",
  );
  writeFileSync(
    t.path('exits.mjs'),
    "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(3));\n",
  );
});
afterAll(() => t.cleanup());

describe('DeflatePool', () => {
  test('pieces from the workers are the calling thread bytes, and join into one deflate stream', async () => {
    const inputs = [text(20_000, 1), text(30_000, 2), text(5_000, 3), new Uint8Array(0), text(100, 4)];
    const pool = new DeflatePool(2);
    try {
      const outs = await Promise.all(inputs.map((d, i) => pool.run(d.slice(), 6, i === inputs.length - 1)));
      expect(pool.started).toBe(2);
      outs.forEach((o, i) =>
        expect(Buffer.from(o)).toEqual(Buffer.from(libdeflateRaw(inputs[i]!, 6, i === inputs.length - 1))),
      );
      const joined = inflateRawSync(Buffer.concat(outs));
      expect(joined.equals(Buffer.concat(inputs))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  test('a piece that cannot be sent fails alone, as E_TOOL_GZIP_WORKER; the pool goes on', async () => {
    const pool = new DeflatePool(1);
    try {
      const gone = text(100, 5);
      structuredClone(gone.buffer, { transfer: [gone.buffer] }); // detaches it: it cannot be moved to the worker
      await expect(pool.run(gone, 6, false)).rejects.toMatchObject({ code: 'E_TOOL_GZIP_WORKER' });
      const d = text(1000, 6);
      expect(inflateRawSync(await pool.run(d.slice(), 6, true)).equals(Buffer.from(d))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  test.each([
    ['throws.mjs', /boom while loading/],
    ['replies-error.mjs', /bad piece/],
    ['exits.mjs', /exited with code 3/],
  ])('a worker that fails (%s) is a ToolError E_TOOL_GZIP_WORKER, for later jobs too', async (file, message) => {
    const pool = new DeflatePool(2, pathToFileURL(t.path(file)));
    try {
      const err = await pool.run(text(100, 0), 6, false).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolError);
      expect(err).toMatchObject({ code: 'E_TOOL_GZIP_WORKER', message: expect.stringMatching(message) });
      await expect(pool.run(text(100, 0), 6, false)).rejects.toMatchObject({ code: 'E_TOOL_GZIP_WORKER' });
    } finally {
      await pool.close();
    }
  });
});

describe('parallelGzip and the process', () => {
  const gzipJs = pathToFileURL(join(REPO, 'dist/node/compress/gzip.js')).href;
  const script = (body: string) =>
    `import { parallelGzip } from ${JSON.stringify(gzipJs)};\n` +
    // bytes like machine code's (skewed, many zeros, no long repeats): the runs libdeflate compresses
    'const data = new Uint8Array(16 << 20);\nlet s = 1;\n' +
    'for (let i = 0; i < data.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; data[i] = s % 3 === 0 ? 0 : (s >>> 8) & 0x3f; }\n' +
    body;
  /** A script file (ES module) that imports the built parallelGzip and has 16 MiB of binary data in `data`. */
  const file = (name: string, body: string) => {
    writeFileSync(t.path(name), script(body));
    return t.path(name);
  };

  test('a stream abandoned half-read does not keep Node running', () => {
    // 16 blocks: the workers start; the consumer stops after the first block
    const r = spawnSync(
      process.execPath,
      [
        file(
          'abandon.mjs',
          'const g = parallelGzip([data], { threads: 2 });\nawait g.next();\nawait g.next();\nconsole.log(`abandoned at ${data.length}`);\n',
        ),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^abandoned at \d{7,}/);
    expect(r.signal).toBe(null); // not killed by the timeout
    expect(r.status).toBe(0);
  });

  test('a finished stream leaves no worker running', () => {
    const r = spawnSync(
      process.execPath,
      [
        file(
          'finish.mjs',
          "import { readdirSync } from 'node:fs';\nimport { deflate } from 'node:zlib';\n" +
            "const threads = () => readdirSync('/proc/self/task').length;\n" +
            // libuv's thread pool starts on first use: start it before counting
            'await new Promise((r) => deflate(new Uint8Array(10), r));\n' +
            'const before = threads();\nlet during = 0;\nlet n = 0;\n' +
            'for await (const c of parallelGzip([data], { threads: 2 })) { n += c.length; during = Math.max(during, threads()); }\n' +
            'console.log(`${n} bytes, threads ${before} ${during} ${threads()}`);\n',
        ),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    const m = /^(\d+) bytes, threads (\d+) (\d+) (\d+)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBe(null);
    const [before, during, after] = [m![2], m![3], m![4]].map(Number);
    expect(during).toBeGreaterThanOrEqual(before! + 2); // the two workers ran
    expect(after).toBe(before);
    expect(r.status).toBe(0);
  });

  test('without WebAssembly (node --jitless) zlib compresses every run: a valid member, no worker error', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--jitless',
        file(
          'jitless.mjs',
          "import { gunzipSync } from 'node:zlib';\nconst parts = [];\n" +
            'for await (const c of parallelGzip([data], { threads: 2 })) parts.push(c);\n' +
            "console.log(`${gunzipSync(Buffer.concat(parts)).equals(Buffer.from(data)) ? 'same' : 'DIFFERENT'} ${typeof WebAssembly}`);\n",
        ),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('same undefined');
  });
});
