import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatChunks } from '../../src/core/compress/gzip.js';
import { initramfsChunks, tinyInitramfsTree } from '../../src/core/initramfs/tiny.js';
import { bootQemu, kvmWorks, liveQemuCount, qemuArgs, resolveOvmf, startQemu } from '../../src/node/qemu/index.js';
import { main } from '../../src/node/cli/main.js';
import { capture } from '../helpers/cli.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { debianKernel, missing, REPO } from '../helpers/prereq.js';

const BUSYBOX = '/bin/busybox';
const kernel = debianKernel();
const work = mkdtempSync(join(tmpdir(), 'tinyimage-qemu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead too.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
async function gone(pid: number | undefined, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

describe('QEMU command line (pure)', () => {
  it('direct kernel boot: serial on stdio, no reboot, no NIC, default memory', () => {
    const a = qemuArgs({ kernel: '/k', initrd: '/i', append: 'console=ttyS0 x=1' }, 'tcg', {});
    const s = a.join(' ');
    expect(s).toContain('-machine pc,accel=tcg');
    expect(s).toContain('-m 256');
    expect(s).toContain('-serial stdio');
    expect(s).toContain('-no-reboot');
    expect(s).toContain('-nic none');
    expect(a.slice(a.indexOf('-kernel'), a.indexOf('-kernel') + 6)).toEqual([
      '-kernel',
      '/k',
      '-initrd',
      '/i',
      '-append',
      'console=ttyS0 x=1',
    ]);
    expect(s).not.toContain('-cpu');
    expect(qemuArgs({ kernel: '/k' }, 'kvm', {}).join(' ')).toContain('-cpu max');
  });

  it('disks, UEFI pflash, network, memory', () => {
    const a = qemuArgs(
      {
        disk: [{ path: '/a,b.img', interface: 'ide', snapshot: true }, '/c.img'],
        firmware: 'uefi',
        net: { type: 'user', model: 'virtio-net' },
      },
      'tcg',
      { code: '/code.fd', vars: '/tmp/v.fd' },
    );
    const s = a.join(' ');
    expect(s).toContain('-drive file=/a,,b.img,format=raw,if=ide,snapshot=on');
    expect(s).toContain('-drive file=/c.img,format=raw,if=virtio');
    expect(s).toContain('-drive if=pflash,format=raw,unit=0,readonly=on,file=/code.fd');
    expect(s).toContain('-drive if=pflash,format=raw,unit=1,file=/tmp/v.fd');
    expect(s).toContain('-m 512');
    expect(s).toContain('-nic user,model=virtio-net-pci');
    expect(qemuArgs({ disk: '/d', firmware: 'uefi', net: true }, 'tcg', { bios: '/OVMF.fd' }).join(' ')).toMatch(
      /-bios \/OVMF\.fd.*-nic user,model=e1000/,
    );
    expect(() => qemuArgs({}, 'tcg', {})).toThrow(expect.objectContaining({ code: 'E_USAGE_QEMU' }));
    expect(() => qemuArgs({ disk: '/d', initrd: '/i' }, 'tcg', {})).toThrow(
      expect.objectContaining({ code: 'E_USAGE_QEMU' }),
    );
    expect(() => qemuArgs({ kernel: '/k', memory: 1 }, 'tcg', {})).toThrow(
      expect.objectContaining({ code: 'E_USAGE_QEMU' }),
    );
  });
});

const skipOvmf = missing({ files: ['/usr/share/OVMF/OVMF_CODE_4M.fd'] });
describe.skipIf(skipOvmf)('OVMF discovery', () => {
  it('pairs code with a private copy of the vars image, removed by cleanup', () => {
    const fw = resolveOvmf();
    expect(fw.code).toMatch(/OVMF_CODE/);
    expect(fw.vars && existsSync(fw.vars)).toBe(true);
    expect(fw.vars).not.toMatch(/^\/usr\/share/);
    const vars = fw.vars!;
    fw.cleanup();
    expect(existsSync(vars)).toBe(false);
    expect(() => resolveOvmf({ ovmfCode: '/nonexistent/OVMF.fd' })).toThrow(
      expect.objectContaining({ code: 'E_TOOL_OVMF' }),
    );
  });
});

const skip = missing({ tools: ['qemu-system-x86_64'], files: [kernel.vmlinuz, BUSYBOX] });
describe.skipIf(skip)("QEMU harness with Debian's kernel", () => {
  let initrd = '';
  let noInit = '';
  beforeAll(async () => {
    initrd = join(work, 'tiny.img');
    writeFileSync(
      initrd,
      await concatChunks(initramfsChunks(tinyInitramfsTree({ busybox: new Uint8Array(readFileSync(BUSYBOX)) }))),
    );
    // /init exists but cannot be executed (no #! line, not ELF) and nothing else does: "No working init found".
    const t = new FileTree();
    t.mkdir('/dev');
    t.addDevice('/dev/console', 'char', 5, 1);
    t.addFile('/init', 'this is not a program\n', { mode: 0o755 });
    noInit = join(work, 'noinit.img');
    writeFileSync(noInit, await concatChunks(initramfsChunks(t)));
  });

  it('probes KVM once and says why', () => {
    const v = kvmWorks();
    expect(typeof v.ok).toBe('boolean');
    expect(v.why.length).toBeGreaterThan(5);
    expect(kvmWorks()).toBe(v);
  });

  it('reports a kernel panic quickly with the console tail, and leaves no QEMU behind', async () => {
    const t0 = Date.now();
    const err = await bootQemu({
      kernel: kernel.vmlinuz,
      initrd: noInit,
      append: 'console=ttyS0',
      expect: /never printed/,
      timeoutMs: 180_000,
    }).catch((e) => e);
    const took = Date.now() - t0;
    expect(err).toMatchObject({ code: 'E_TOOL_QEMU_PANIC' });
    expect(err.message).toMatch(/kernel panic after [\d.]+ s: Kernel panic - not syncing: No working init found/);
    expect(err.data.tail).toMatch(/Kernel panic - not syncing: No working init found/);
    expect(err.data.tail).toMatch(/end Kernel panic/);
    console.log(`panic reported after ${(took / 1000).toFixed(1)} s`);
    expect(took).toBeLessThan(120_000);
    expect(liveQemuCount()).toBe(0);
    expect(
      execFileSync('sh', ['-c', 'pgrep -f "[q]emu-system-x86_64.*noinit.img" || true'], { encoding: 'utf8' }).trim(),
    ).toBe('');
  }, 200_000);

  it('times out cleanly with the console tail', async () => {
    const s = startQemu({ kernel: kernel.vmlinuz, initrd, append: 'console=ttyS0' });
    await s.waitFor(/Linux version/, 120_000);
    const t0 = Date.now();
    const err = await s.waitFor(/this text never appears/, 8000).catch((e) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(7900);
    expect(err).toMatchObject({ code: 'E_TOOL_QEMU_TIMEOUT' });
    expect(err.message).toMatch(/timed out after 8\.0 s waiting for \/this text never appears\//);
    expect(err.data.tail).toMatch(/\S/);
    expect(s.output().replace(/\r/g, '')).toContain(err.data.tail.split('\n')[0]);
    expect(err.data.elapsedMs).toBeGreaterThanOrEqual(7900);
    expect(s.running()).toBe(true);
    await s.stop();
    expect(await gone(s.pid, 100)).toBe(true);
    expect(liveQemuCount()).toBe(0);
    // Through bootQemu as well: the process is gone when the promise settles.
    let seen = '';
    const e2 = await bootQemu({
      kernel: kernel.vmlinuz,
      initrd,
      append: 'console=ttyS0',
      expect: /nope/,
      timeoutMs: 15_000,
      onOutput: (t) => {
        seen += t;
      },
    }).catch((e) => e);
    expect(e2).toMatchObject({ code: 'E_TOOL_QEMU_TIMEOUT' });
    // The tail is the end of what the console showed (possibly nothing yet on a slow machine).
    expect(seen.replace(/\r/g, '').trimEnd().endsWith(e2.data.tail)).toBe(true);
    expect(liveQemuCount()).toBe(0);
  }, 300_000);

  it('QEMU dies with the Node process: exit(), SIGTERM and SIGKILL', async () => {
    // Compile the harness to plain JS for a child Node process.
    const out = join(work, 'js');
    execFileSync(
      join(REPO, 'node_modules/.bin/tsc'),
      [
        '--outDir',
        out,
        '--rootDir',
        join(REPO, 'src'),
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--skipLibCheck',
        '--strict',
        join(REPO, 'src/node/qemu/index.ts'),
      ],
      { cwd: REPO },
    );
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    const script = join(out, 'child.mjs');
    writeFileSync(
      script,
      `
      import { startQemu } from './node/qemu/index.js';
      const s = startQemu({ kernel: ${JSON.stringify(kernel.vmlinuz)}, initrd: ${JSON.stringify(initrd)} });
      await s.waitFor(/Linux version/, 120000);
      console.log('PID ' + s.pid);
      const how = process.argv[2];
      if (how === 'exit') process.exit(3);
      setInterval(() => {}, 1000);
    `,
    );
    for (const how of ['exit', 'SIGTERM', 'SIGKILL'] as const) {
      const child = spawn(process.execPath, [script, how], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d) => {
          buf += d;
          const m = /PID (\d+)/.exec(buf);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', () => {
          const m = /PID (\d+)/.exec(buf);
          if (m) resolve(Number(m[1]));
          else reject(new Error(`child exited before starting QEMU: ${buf}`));
        });
      });
      expect(pid).toBeGreaterThan(0);
      if (how !== 'exit') {
        expect(alive(pid)).toBe(true);
        child.kill(how);
      }
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r)));
      expect(await gone(pid), `QEMU ${pid} still running after the parent got ${how}`).toBe(true);
    }
  }, 400_000);

  it('CLI: tinyimage boot exits 0 on --expect, 1 with the console tail on panic, 2 on bad usage', async () => {
    const c = capture();
    const code = await main(
      [
        'boot',
        '--kernel',
        kernel.vmlinuz,
        '--initrd',
        initrd,
        '--append',
        'console=ttyS0',
        '--expect',
        'Welcome to Tiny Linux!',
        '--timeout',
        '180',
      ],
      c,
    );
    expect(code).toBe(0);
    expect(c.out()).toMatch(/Linux version[\s\S]*Welcome to Tiny Linux!/);
    expect(c.err()).toMatch(/matched \/Welcome to Tiny Linux!\/ after [\d.]+ s \((tcg|kvm)\)/);

    const consoleFile = join(work, 'console.log');
    const c2 = capture();
    const code2 = await main(
      [
        'boot',
        '--kernel',
        kernel.vmlinuz,
        '--initrd',
        noInit,
        '--expect',
        'Welcome',
        '--timeout',
        '180',
        '--console',
        consoleFile,
      ],
      c2,
    );
    expect(code2).toBe(1);
    expect(c2.out()).toBe('');
    expect(c2.err()).toMatch(/kernel panic[\s\S]*--- console \(last lines\) ---[\s\S]*No working init found/);
    expect(readFileSync(consoleFile, 'utf8')).toMatch(/Linux version[\s\S]*end Kernel panic/);

    for (const bad of [
      [],
      ['--initrd', initrd],
      ['--kernel', kernel.vmlinuz, '--firmware', 'coreboot'],
      ['--kernel', kernel.vmlinuz, '--expect', '('],
      ['--kernel', '/nonexistent'],
      ['--kernel', kernel.vmlinuz, '--timeout', '-1'],
      ['--kernel', kernel.vmlinuz, '--accel', 'hvf'],
    ]) {
      expect(await main(['boot', ...bad], capture()), bad.join(' ')).toBe(2);
    }
    expect(liveQemuCount()).toBe(0);
  }, 400_000);
});

/** A 512-byte MBR whose code writes `text` to COM1 and halts (mov dx,0x3f8; {mov al,c; out dx,al}*; hlt). */
function serialMbr(text: string): Uint8Array {
  const code = [0xba, 0xf8, 0x03];
  for (const c of text) code.push(0xb0, c.charCodeAt(0), 0xee);
  code.push(0xf4, 0xeb, 0xfe);
  const mbr = new Uint8Array(512);
  mbr.set(code);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

const skipQemu = missing({ tools: ['qemu-system-x86_64'] });
describe.skipIf(skipQemu)('BIOS disk boot (SeaBIOS)', () => {
  it('boots a raw disk on virtio and IDE, with and without user networking', async () => {
    const disk = join(work, 'mbr.raw');
    writeFileSync(disk, serialMbr('TINYMBR-OK\r\n'));
    truncateSync(disk, 1 << 20);
    const before = readFileSync(disk);
    for (const [iface, net] of [
      ['virtio', undefined],
      ['ide', true],
      ['virtio', { type: 'user', model: 'virtio-net' }],
    ] as const) {
      const r = await bootQemu({
        disk: { path: disk, interface: iface, snapshot: true },
        ...(net ? { net } : {}),
        expect: /TINYMBR-OK/,
        timeoutMs: 120_000,
      });
      expect(r.match?.[0]).toBe('TINYMBR-OK');
    }
    expect(Buffer.compare(readFileSync(disk), before)).toBe(0);
    // Through the CLI too.
    const c = capture();
    expect(
      await main(
        [
          'boot',
          '--disk',
          disk,
          '--snapshot',
          '--disk-if',
          'ide',
          '--accel',
          'tcg',
          '--expect',
          'TINYMBR-OK',
          '--timeout',
          '120',
        ],
        c,
      ),
    ).toBe(0);
    expect(c.err()).toMatch(/\(tcg\)/);
    expect(c.out()).toContain('TINYMBR-OK');
  }, 400_000);

  it('without expect, resolves when the guest powers off (QEMU exits)', async () => {
    const disk = join(work, 'exit.raw');
    const mbr = serialMbr('BYE');
    // Replace the final hlt with: mov al,0x2a; out 0xf4,al (isa-debug-exit: QEMU exits with status 85).
    const end = 3 + 3 * 3;
    mbr.set([0xb0, 0x2a, 0xe6, 0xf4, 0xf4, 0xeb, 0xfe], end);
    writeFileSync(disk, mbr);
    const r = await bootQemu({
      disk: { path: disk, interface: 'ide', snapshot: true },
      extraArgs: ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
      timeoutMs: 60_000,
    });
    expect(r.exit.code).toBe(85);
    expect(r.output).toBe('BYE');
    expect(r.match).toBeUndefined();
  }, 120_000);

  it('a missing disk image is a QEMU failure with its stderr, not a hang', async () => {
    const err = await bootQemu({ disk: join(work, 'does-not-exist.raw'), expect: /x/, timeoutMs: 60_000 }).catch(
      (e) => e,
    );
    expect(err).toMatchObject({ code: 'E_TOOL_QEMU_EXIT' });
    expect(err.data.stderr).toMatch(/does-not-exist\.raw/);
  }, 120_000);
});

describe.skipIf(skip || skipOvmf)('UEFI (OVMF)', () => {
  it('boots the kernel and initramfs under OVMF', async () => {
    const initrd = join(work, 'uefi.img');
    writeFileSync(
      initrd,
      await concatChunks(initramfsChunks(tinyInitramfsTree({ busybox: new Uint8Array(readFileSync(BUSYBOX)) }))),
    );
    const r = await bootQemu({
      firmware: 'uefi',
      kernel: kernel.vmlinuz,
      initrd,
      append: 'console=ttyS0',
      expect: /Welcome to Tiny Linux!/,
      timeoutMs: 300_000,
    });
    console.log(`UEFI kernel boot to welcome: ${(r.elapsedMs / 1000).toFixed(1)} s (${r.accel})`);
    expect(r.output).toMatch(/EFI v\d/);
  }, 400_000);

  it('attaches a raw disk (snapshot) and shows the firmware console', async () => {
    const disk = join(work, 'empty.raw');
    writeFileSync(disk, '');
    truncateSync(disk, 8 << 20);
    const r = await bootQemu({
      firmware: 'uefi',
      disk: { path: disk, snapshot: true },
      expect: /BdsDxe: failed to load Boot\d+ "UEFI Misc Device"/,
      timeoutMs: 300_000,
    });
    expect(r.match?.[0]).toMatch(/UEFI Misc Device/);
    expect(liveQemuCount()).toBe(0);
  }, 400_000);
});
