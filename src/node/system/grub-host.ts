/**
 * The host side of GRUB for BIOS: find grub-pc-bin's files and make core.img
 * with grub-mkimage (through the toolchain's run(), the one place that
 * spawns). The byte work is in grub.ts.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolError } from '../../core/errors.js';
import { run } from '../toolchain/run.js';
import { pathContent } from '../host/content.js';
import type { Content } from '../../core/tree/types.js';
import { GRUB_CORE_MODULES, GRUB_ELTORITO_MODULES, type GrubFiles } from '../../core/boot/grub.js';
import type { LiveIsoGrub } from '../../core/system/iso.js';

/** Where Debian/Ubuntu (grub-pc-bin) and Fedora/Arch put the i386-pc files. */
export const GRUB_I386_PC_DIRS = ['/usr/lib/grub/i386-pc', '/usr/share/grub2/i386-pc', '/usr/lib/grub2/i386-pc'];

export interface HostGrub {
  /** Directory holding boot.img, moddep.lst and the *.mod files. */
  dir: string;
  /** The grub-mkimage command (name or path). */
  mkimage: string;
  boot: Uint8Array;
  files: GrubFiles;
}

function missingGrub(what: string, data: Record<string, unknown>): ToolError {
  return new ToolError(
    'E_TOOL_MISSING',
    `GRUB for BIOS is not installed: ${what}. Install it with 'apt-get install grub-pc-bin' (Debian/Ubuntu) or 'dnf install grub2-pc-modules grub2-tools' (Fedora), or pass the directory with --grub-dir`,
    data,
  );
}

/** Locate the host's GRUB i386-pc files. Throws ToolError E_TOOL_MISSING with an install hint. */
export function findHostGrub(opts: { dir?: string; mkimage?: string } = {}): HostGrub {
  const dirs = opts.dir ? [opts.dir] : GRUB_I386_PC_DIRS;
  const dir = dirs.find((d) => existsSync(join(d, 'boot.img')) && existsSync(join(d, 'moddep.lst')));
  if (!dir) throw missingGrub(`no boot.img and moddep.lst in ${dirs.join(', ')}`, { path: dirs.join(':') });
  const mkimage = opts.mkimage ?? findOnPath(['grub-mkimage', 'grub2-mkimage']);
  if (!mkimage) throw missingGrub('grub-mkimage is not on PATH', { path: 'grub-mkimage' });
  const boot = new Uint8Array(readFileSync(join(dir, 'boot.img')));
  const names = new Set(readdirSync(dir));
  const cache = new Map<string, Uint8Array | Content>();
  const files: GrubFiles = {
    get(name) {
      if (!names.has(name)) return undefined;
      let c = cache.get(name);
      if (!c) {
        const p = join(dir, name);
        c = name.endsWith('.lst') ? new Uint8Array(readFileSync(p)) : pathContent(p, statSync(p).size);
        cache.set(name, c);
      }
      return c;
    },
  };
  return { dir, mkimage, boot, files };
}

function findOnPath(cmds: string[]): string | undefined {
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const c of cmds) for (const d of path) if (d && existsSync(join(d, c))) return join(d, c);
  return undefined;
}

export interface CoreImageOptions {
  /** 'i386-pc' (default: diskboot.img first, for the MBR gap) or 'i386-pc-eltorito' (cdboot.img first, for El Torito). */
  format?: 'i386-pc' | 'i386-pc-eltorito';
  /** GRUB's prefix: where it finds normal.mod and grub.cfg. Default '(hd0,msdos1)/boot/grub'. */
  prefix?: string;
  /** Modules built into core.img (default biosdisk part_msdos ext2). */
  modules?: readonly string[];
  signal?: AbortSignal;
}

/** Run grub-mkimage -O i386-pc (or i386-pc-eltorito) and return the core image. */
export async function makeCoreImage(grub: HostGrub, opts: CoreImageOptions = {}): Promise<Uint8Array> {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyimage-grub-'));
  try {
    const out = join(tmp, 'core.img');
    await run(
      grub.mkimage,
      [
        '-O',
        opts.format ?? 'i386-pc',
        '-d',
        grub.dir,
        '-p',
        opts.prefix ?? '(hd0,msdos1)/boot/grub',
        '-o',
        out,
        ...(opts.modules ?? GRUB_CORE_MODULES),
      ],
      {
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
    );
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * GRUB for a live ISO from the host's grub-pc-bin: the El Torito core image
 * (`grub-mkimage -O i386-pc-eltorito -p /boot/grub biosdisk iso9660`, as
 * grub-mkrescue makes it), boot_hybrid.img for booting the image as a disk,
 * and the module directory.
 */
export async function hostLiveGrub(
  opts: { dir?: string; mkimage?: string; signal?: AbortSignal } = {},
): Promise<LiveIsoGrub> {
  const g = findHostGrub({
    ...(opts.dir ? { dir: opts.dir } : {}),
    ...(opts.mkimage ? { mkimage: opts.mkimage } : {}),
  });
  const eltorito = await makeCoreImage(g, {
    format: 'i386-pc-eltorito',
    prefix: '/boot/grub',
    modules: GRUB_ELTORITO_MODULES,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const hybrid = join(g.dir, 'boot_hybrid.img');
  return {
    eltorito,
    ...(existsSync(hybrid) ? { hybridMbr: new Uint8Array(readFileSync(hybrid)) } : {}),
    files: g.files,
  };
}
