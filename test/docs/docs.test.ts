/**
 * Docs that run: every fenced block of README.md and docs/*.md is checked
 * against the packed package (test/helpers/packed.ts) by its language:
 * ts/js type-checked as a module of a user's project (and run with node
 * when marked `run`), every `tinyimage` command line of sh/bash/console
 * blocks parsed by the real CLI without running it, and yaml/json build
 * specs loaded by the real spec loader. Conventions: CONTRIBUTING.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { missing, REPO } from '../helpers/prereq.js';
import { packedProject } from '../helpers/packed.js';
import type { TmpDir } from '../helpers/tmp.js';
import { blockName, commandLines, extractBlocks, type Block } from './blocks.js';
import { checkBlocks, type CheckResult } from './check.js';

const skip = missing({ tools: ['npm'] });

const DOCS = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const blocks = DOCS.flatMap((f) => extractBlocks(readFileSync(join(REPO, f), 'utf8'), f));

/** Broken on purpose: the checker must report each of these with its line. */
const BROKEN = [
  '```ts',
  "import { notExported } from 'tinyimage';",
  '```',
  '```ts run',
  "throw new Error('the example ran and failed');",
  '```',
  '```sh',
  'tinyimage mkfs ext4 --root rootfs -o root.img --lable root',
  'tinyimage mkfs ext5 --root rootfs -o root.img',
  '```',
  '```console',
  '$ tinyimage cpio --root rootfs -o x.cpio --level 12',
  'tinyimage cpio: this is output, not a command --bogus',
  '```',
  '```yaml',
  'preset: uefi',
  'disk: { lable: x }',
  '```',
  '```python',
  'print(1)',
  '```',
  // fine: parsed, never run (the paths do not exist)
  '```sh',
  'tinyimage mkfs ext4 --root /nonexistent -o /nonexistent/x.img | cat > /dev/null # a comment',
  '```',
].join('\n');
const broken = extractBlocks(BROKEN, 'broken.md');

let result: CheckResult;
let work: TmpDir;
afterAll(() => work?.cleanup());

describe.skipIf(skip)('the code blocks of README.md and docs/*.md', () => {
  beforeAll(async () => {
    const packed = packedProject();
    work = packed.workDir('docs-');
    result = await checkBlocks([...blocks, ...broken], packed, work);
  }, 600_000);

  for (const b of blocks) {
    it(`${blockName(b)} ${b.lang || 'text'}${b.flags.length ? ` ${b.flags.join(' ')}` : ''}`, () => {
      const problems = result.problems.get(blockName(b)) ?? [];
      if (problems.length) throw new Error(problems.join('\n'));
    });
  }

  it('nothing outside the blocks fails (the declarations the blocks import)', () => {
    expect(result.other.join('\n')).toBe('');
  });

  it('the checker reports broken blocks, with their file:line', () => {
    const got = (line: number) => (result.problems.get(`broken.md:${line}`) ?? []).join('\n');
    expect(got(1)).toMatch(/^broken\.md:2:\d+: error TS2305: .*notExported/);
    expect(got(4)).toMatch(/^broken\.md:4: running the example failed \(exit 1\):[\s\S]*the example ran and failed/);
    expect(got(7)).toMatch(
      /broken\.md:8: tinyimage mkfs ext4 .*: exit 2:\n.*unknown option --lable; did you mean --label/,
    );
    expect(got(7)).toMatch(/broken\.md:9: tinyimage mkfs ext5 .*: exit 2:\n.*ext5/);
    expect(got(11)).toMatch(/broken\.md:12: tinyimage cpio [^\n]*: exit 2:\n.*--level must be an integer from 1 to 9/);
    expect(got(11)).not.toMatch(/bogus/);
    expect(got(15)).toMatch(/lable/);
    expect(got(19)).toMatch(/unknown language 'python'/);
    expect(got(22)).toBe('');
  });

  it('blocks of every kind were checked', () => {
    const commands = blocks.flatMap((b: Block) => (b.kind === 'shell' || b.kind === 'console' ? commandLines(b) : []));
    expect(result.counts.commands).toBeGreaterThan(commands.length); // the broken ones too
    expect(result.counts.ran).toBeGreaterThan(0);
    expect(result.counts.specs).toBeGreaterThan(1);
  });
});
