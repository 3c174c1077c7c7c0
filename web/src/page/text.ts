/** How the page writes numbers, modes and times. */

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

const TYPE_CHAR: Record<string, string> = {
  file: '-',
  dir: 'd',
  symlink: 'l',
  chardev: 'c',
  blockdev: 'b',
  fifo: 'p',
  socket: 's',
};

/** ls -l style: drwxr-xr-x, with s/S/t/T for setuid, setgid and sticky. */
export function modeString(type: string, mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string) =>
    (bits & 4 ? 'r' : '-') +
    (bits & 2 ? 'w' : '-') +
    (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    (TYPE_CHAR[type] ?? '?') +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

export function time(sec: number): string {
  const d = new Date(sec * 1000);
  return Number.isNaN(d.getTime())
    ? String(sec)
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
}

/** Text a <pre> can show: valid UTF-8 without NUL bytes (else undefined: a binary file). */
export function asText(b: Uint8Array): string | undefined {
  if (b.includes(0)) return undefined;
  try {
    // stream: a preview may end inside a multi-byte character
    return new TextDecoder('utf-8', { fatal: true }).decode(b, { stream: true });
  } catch {
    return undefined;
  }
}

/** "rootfs.tar.gz" -> "rootfs": the name an image made from it starts with. */
export function baseName(file: string): string {
  return file.replace(/\.(tar(\.(gz|zst|xz|bz2))?|tgz|tzst|txz|tbz2?)$/i, '') || 'image';
}
