/**
 * Prerequisites for tests that need external tools or fetched artifacts.
 * Locally a missing prerequisite skips the test with a visible reason; in CI
 * (CI=true) it fails, so a green CI never hides a test that did not run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
export const REPO = resolve(import.meta.dirname, '../..');
export const CACHE = process.env.TINYIMAGE_CACHE ?? join(REPO, '.cache');

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v "$0"`, cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns undefined when all prerequisites are there, else the reason. In CI a
 * missing prerequisite throws (the test file fails loudly).
 */
export function missing(opts: { tools?: string[]; files?: string[] }): string | undefined {
  const gone = [
    ...(opts.tools ?? []).filter((t) => !have(t)).map((t) => `tool ${t}`),
    ...(opts.files ?? []).filter((f) => !existsSync(f)).map((f) => `file ${f}`),
  ];
  if (gone.length === 0) return undefined;
  const reason = `missing ${gone.join(', ')}`;
  if (IN_CI) throw new Error(`CI prerequisite ${reason} (.ci/run should install/fetch it)`);
  console.warn(`skipping: ${reason}`);
  return reason;
}

/** Debian's kernel fetched by scripts/fetch-debian-kernel.sh. */
export function debianKernel(): { vmlinuz: string; modules: string; version: string } {
  const dir = join(CACHE, 'debian-kernel');
  const version = existsSync(join(dir, 'version')) ? readFileSync(join(dir, 'version'), 'utf8').trim() : '';
  return { vmlinuz: join(dir, 'vmlinuz'), modules: join(dir, 'lib/modules', version), version };
}

/** Debian's arm64 packages unpacked by scripts/fetch-debian-arm64.sh: kernel, modules, device trees, busybox-static, EFI stub. */
export function debianArm64(): {
  dir: string;
  vmlinuz: string;
  modules: string;
  dtbs: string;
  busybox: string;
  stub: string;
  version: string;
  files: string[];
} {
  const dir = join(CACHE, 'debian-arm64');
  const version = existsSync(join(dir, 'version')) ? readFileSync(join(dir, 'version'), 'utf8').trim() : '';
  const a = {
    dir,
    vmlinuz: join(dir, 'vmlinuz'),
    modules: join(dir, 'lib/modules', version),
    dtbs: join(dir, 'dtbs'),
    busybox: join(dir, 'busybox'),
    stub: join(dir, 'linuxaa64.efi.stub'),
    version,
  };
  return { ...a, files: [a.vmlinuz, a.modules, a.dtbs, a.busybox, a.stub] };
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string | Uint8Array; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, {
      encoding: 'utf8',
      input: opts.input,
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 1 << 28,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
