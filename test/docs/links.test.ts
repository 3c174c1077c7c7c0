/**
 * Every relative link in README.md, CONTRIBUTING.md, docs/ and design/
 * points at a file that exists, and a #fragment at a heading of that file.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO } from '../helpers/prereq.js';

const FILES = [
  'README.md',
  'CONTRIBUTING.md',
  ...['docs', 'design'].flatMap((d) =>
    existsSync(join(REPO, d))
      ? readdirSync(join(REPO, d))
          .filter((f) => f.endsWith('.md'))
          .sort()
          .map((f) => `${d}/${f}`)
      : [],
  ),
];

/** Markdown without fenced blocks and inline code (links there are examples, not links). */
function prose(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((l) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(l);
    if (m && (fence === undefined || m[1]!.startsWith(fence))) {
      fence = fence === undefined ? m[1] : undefined;
      return '';
    }
    return fence === undefined ? l.replace(/`+[^`]*`+/g, '') : '';
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const l of text.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(l)) fence = !fence;
    const m = fence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!m) continue;
    const base = m[1]!
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export interface Link {
  line: number;
  target: string;
}

export function links(text: string): Link[] {
  const out: Link[] = [];
  prose(text).forEach((l, i) => {
    for (const m of l.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line: i + 1, target: m[1]! });
    const def = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(l);
    if (def) out.push({ line: i + 1, target: def[1]! });
  });
  return out;
}

/** Problems with the relative links of `file` (relative to root). */
export function brokenLinks(root: string, file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const problems: string[] = [];
  for (const { line, target } of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [path, fragment] = target.split('#', 2) as [string, string | undefined];
    const abs = path ? join(root, dirname(file), decodeURIComponent(path)) : join(root, file);
    const at = `${file}:${line}: ${target}`;
    if (!abs.startsWith(root) || !existsSync(abs)) {
      problems.push(`${at}: ${relative(root, abs)} does not exist`);
      continue;
    }
    if (fragment !== undefined && statSync(abs).isFile() && abs.endsWith('.md')) {
      if (!anchors(readFileSync(abs, 'utf8')).has(fragment))
        problems.push(`${at}: no heading #${fragment} in ${relative(root, abs)}`);
    }
  }
  return problems;
}

describe('relative links', () => {
  it('CONTRIBUTING.md and the design notes exist', () => {
    expect(existsSync(join(REPO, 'CONTRIBUTING.md'))).toBe(true);
    expect(FILES.some((f) => f.startsWith('design/'))).toBe(true);
  });

  for (const file of FILES) {
    it(`${file}: every relative link points at a file (and heading) that exists`, () => {
      expect(brokenLinks(REPO, file)).toEqual([]);
    });
  }

  it('the checker finds broken links and headings, and ignores code', () => {
    const text = [
      '# A title',
      '## The `API`, in short',
      'see [x](missing.md), [y](#the-api-in-short), [z](#nope), [w](https://example.org/x)',
      '`[not](a-link.md)`',
      '```',
      '[not](a-link-either.md)',
      '```',
      '[ref]: also-missing.md',
      '[self](README.md#a-title)',
    ].join('\n');
    expect(links(text).map((l) => l.target)).toEqual([
      'missing.md',
      '#the-api-in-short',
      '#nope',
      'https://example.org/x',
      'also-missing.md',
      'README.md#a-title',
    ]);
    expect([...anchors(text)]).toEqual(['a-title', 'the-api-in-short']);
  });
});
