import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { aclToXattr, xattrToAcl } from '../../src/core/fs/ext4/acl.js';
import { parseXattrEntries } from '../../src/core/fs/ext4/readxattr.js';

const acl = (entries: Array<[number, number, number]>) => {
  const b = new Uint8Array(4 + entries.length * 8);
  const v = new DataView(b.buffer);
  v.setUint32(0, 2, true);
  entries.forEach(([t, p, id], i) => {
    v.setUint16(4 + i * 8, t, true);
    v.setUint16(6 + i * 8, p, true);
    v.setUint32(8 + i * 8, id, true);
  });
  return b;
};

describe('POSIX ACL conversion', () => {
  it('VFS form -> ext4 form -> VFS form is the identity', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom(1, 2, 4, 8, 0x10, 0x20),
            fc.integer({ min: 0, max: 7 }),
            fc.nat({ max: 0xfffffffe }),
          ),
          { maxLength: 12 },
        ),
        (es) => {
          const vfs = acl(es.map(([t, p, id]) => [t, p, t === 2 || t === 8 ? id : 0xffffffff]));
          const disk = xattrToAcl(vfs, 'system.posix_acl_access');
          expect(new DataView(disk.buffer).getUint32(0, true)).toBe(1);
          expect(Buffer.from(aclToXattr(disk, 'system.posix_acl_access', 1))).toEqual(Buffer.from(vfs));
        },
      ),
    );
  });
  it('malformed ACLs are typed errors', () => {
    expect(() => aclToXattr(new Uint8Array([2, 0, 0, 0]), 'system.posix_acl_access', 5)).toThrow(
      expect.objectContaining({ code: 'E_FORMAT_XATTR' }),
    );
    expect(() => aclToXattr(new Uint8Array([1, 0, 0, 0, 2, 0, 4, 0]), 'system.posix_acl_access', 5)).toThrow(
      expect.objectContaining({ code: 'E_FORMAT_XATTR' }),
    );
    expect(() => xattrToAcl(new Uint8Array([1, 0, 0, 0]), 'system.posix_acl_access')).toThrow(
      expect.objectContaining({ code: 'E_FORMAT_XATTR' }),
    );
  });
});

describe('xattr entry tables', () => {
  it('values outside the area are typed errors; unknown name indexes are kept, marked', () => {
    const b = new Uint8Array(64);
    const v = new DataView(b.buffer);
    b[0] = 1;
    b[1] = 1;
    v.setUint16(2, 60, true);
    v.setUint32(8, 10, true);
    b[16] = 0x61; // value runs past 64
    expect(() => parseXattrEntries(b, 0, 64, 0, {})).toThrow(expect.objectContaining({ code: 'E_FORMAT_XATTR' }));
    b[1] = 99;
    v.setUint16(2, 40, true);
    expect(parseXattrEntries(b, 0, 64, 0, {})).toEqual([
      { name: 'a', index: 99, unknownIndex: true, value: b.slice(40, 50), valueSize: 10 },
    ]);
    b[1] = 1;
    expect(parseXattrEntries(b, 0, 64, 0, {})).toEqual([
      { name: 'user.a', index: 1, value: b.slice(40, 50), valueSize: 10 },
    ]);
  });
});
