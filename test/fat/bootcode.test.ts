/**
 * The boot code really runs: SeaBIOS (QEMU) boots each FAT image as a hard
 * disk, our stub prints its message through int 10h (mirrored to the serial
 * port by SeaBIOS's sercon), waits for a key (int 16h) and then int 19h
 * restarts the boot sequence.
 */
import { describe, expect, test, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { writeFat } from '../../src/core/fs/fat/index.js';
import { missing } from '../helpers/prereq.js';
import { tmp } from './helpers.js';

const skip = missing({ tools: ['qemu-system-x86_64'] });
const work = tmp('fat-boot-');
afterAll(() => work.cleanup());

const boots = (s: string) => s.split('Booting from Hard Disk').length - 1;

/** Boot, wait 1.5 s after the message (the stub must still be waiting), press a key, wait for the second boot. */
function boot(image: string, port: string): Promise<{ out: string; bootsBeforeKey: number }> {
  return new Promise((resolve, reject) => {
    const q = spawn(
      'qemu-system-x86_64',
      [
        '-drive',
        `file=${image},format=raw,if=ide`,
        '-fw_cfg',
        `name=etc/sercon-port,file=${port}`,
        '-display',
        'none',
        '-serial',
        'stdio',
        '-net',
        'none',
        '-m',
        '32',
        '-no-reboot',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let pressed = false;
    let bootsBeforeKey = -1;
    const timer = setTimeout(() => {
      q.kill('SIGKILL');
      reject(new Error(`timeout; serial output:\n${out}`));
    }, 90_000);
    q.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (!pressed && out.includes('press any key to try again')) {
        pressed = true;
        setTimeout(() => {
          bootsBeforeKey = boots(out);
          q.stdin.write('x');
        }, 1500);
      }
      if (bootsBeforeKey >= 0 && boots(out) >= 2) {
        clearTimeout(timer);
        q.kill('SIGKILL');
        resolve({ out, bootsBeforeKey });
      }
    });
    q.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe.skipIf(skip)('boot code under SeaBIOS', () => {
  test.each([
    ['fat12', 4 << 20],
    ['fat16', 16 << 20],
    ['fat32', 40 << 20],
  ] as const)(
    '%s: prints the message, waits for a key, then int 19h boots again',
    async (type, size) => {
      const t = new FileTree();
      t.addFile('/hello.txt', 'hi');
      const dev = new MemoryDevice(size);
      await writeFat(t, dev, { type });
      const img = join(work.dir, `${type}.img`);
      writeFileSync(img, dev.bytes);
      const port = join(work.dir, 'port.bin');
      writeFileSync(port, new Uint8Array([0xf8, 0x03])); // COM1 0x3f8, little endian
      const { out, bootsBeforeKey } = await boot(img, port);
      expect(out).toContain('This is not a bootable disk.  Please insert a bootable floppy and');
      expect(bootsBeforeKey).toBe(1);
      expect(boots(out)).toBeGreaterThanOrEqual(2);
    },
    120_000,
  );
});
