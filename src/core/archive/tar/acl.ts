/**
 * POSIX ACLs between the text form tar stores (SCHILY.acl.access and
 * SCHILY.acl.default, as GNU tar and star write them: acl_to_text's long
 * form, entries split by newlines or commas, names or numeric ids, star's
 * optional trailing ":ID") and the xattr the kernel stores
 * (system.posix_acl_access / system.posix_acl_default, posix_acl_xattr
 * version 2: a u32 version then {u16 tag, u16 perm, u32 id} entries sorted
 * by tag then id; ids of the *_OBJ, MASK and OTHER entries are -1).
 */
export const ACL_XATTR = { access: 'system.posix_acl_access', default: 'system.posix_acl_default' } as const;

const VERSION = 2;
const UNDEFINED_ID = 0xffffffff;
const TAG = { USER_OBJ: 0x01, USER: 0x02, GROUP_OBJ: 0x04, GROUP: 0x08, MASK: 0x10, OTHER: 0x20 } as const;
const ENTRY = 8;
/** A tag's word in text ACLs (USER and GROUP carry an id after it). */
const TAG_TEXT: Partial<Record<number, string>> = {
  [TAG.USER_OBJ]: 'user',
  [TAG.USER]: 'user',
  [TAG.GROUP_OBJ]: 'group',
  [TAG.GROUP]: 'group',
  [TAG.MASK]: 'mask',
  [TAG.OTHER]: 'other',
};

/** Resolves a user or group name found in an ACL to a numeric id (undefined: unknown). */
export type AclIdResolver = (kind: 'user' | 'group', name: string) => number | undefined;

export type AclParse = { xattr: Uint8Array } | { minimal: true } | { error: string };

function perms(s: string): number | undefined {
  let p = 0;
  for (const c of s) {
    if (c === 'r') p |= 4;
    else if (c === 'w') p |= 2;
    else if (c === 'x') p |= 1;
    else if (c !== '-') return undefined;
  }
  return p;
}

/** Text ACL -> posix_acl_xattr bytes. An access ACL of only the three base entries is `minimal` (the mode says it all; the kernel stores no xattr). */
export function aclTextToXattr(text: string, kind: 'access' | 'default', resolve?: AclIdResolver): AclParse {
  const entries: Array<[number, number, number]> = [];
  for (const raw of text.split(/[,\n]/)) {
    const e = raw.replace(/#.*$/, '').trim();
    if (!e) continue;
    const f = e.split(':');
    if (f.length < 3 || f.length > 4) return { error: `ACL entry '${e}' is not TAG:QUALIFIER:PERMS` };
    const [t, q, pstr, idField] = f as [string, string, string, string | undefined];
    const p = perms(pstr);
    if (p === undefined) return { error: `ACL entry '${e}' has bad permissions '${pstr}'` };
    const named = q !== '';
    let tag: number;
    if (t === 'user' || t === 'u') tag = named ? TAG.USER : TAG.USER_OBJ;
    else if (t === 'group' || t === 'g') tag = named ? TAG.GROUP : TAG.GROUP_OBJ;
    else if ((t === 'mask' || t === 'm') && !named) tag = TAG.MASK;
    else if ((t === 'other' || t === 'o') && !named) tag = TAG.OTHER;
    else return { error: `ACL entry '${e}' has an unknown tag '${t}'` };
    let id = UNDEFINED_ID;
    if (named) {
      const k = tag === TAG.USER ? 'user' : 'group';
      const found =
        idField !== undefined && /^\d+$/.test(idField)
          ? Number(idField)
          : /^\d+$/.test(q)
            ? Number(q)
            : resolve?.(k, q);
      if (found === undefined || !(found >= 0 && found < UNDEFINED_ID))
        return { error: `ACL names ${k} '${q}' and no numeric id for it` };
      id = found;
    }
    entries.push([tag, p, id]);
  }
  entries.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  const base = entries.filter((x) => x[0] === TAG.USER_OBJ || x[0] === TAG.GROUP_OBJ || x[0] === TAG.OTHER).length;
  if (entries.length && base !== 3) return { error: 'ACL lacks one of user::, group:: and other::' };
  if (entries.some((x) => x[0] === TAG.USER || x[0] === TAG.GROUP) && !entries.some((x) => x[0] === TAG.MASK))
    return { error: 'ACL with named entries lacks mask::' };
  if (kind === 'access' && entries.length <= 3) return { minimal: true };
  const out = new Uint8Array(4 + entries.length * ENTRY);
  const v = new DataView(out.buffer);
  v.setUint32(0, VERSION, true);
  entries.forEach(([tag, p, id], i) => {
    v.setUint16(4 + i * ENTRY, tag, true);
    v.setUint16(6 + i * ENTRY, p, true);
    v.setUint32(8 + i * ENTRY, id, true);
  });
  return { xattr: out };
}

/** posix_acl_xattr bytes -> text with numeric ids ("user::rw-,user:1000:r--,..."), or undefined when the bytes are not an ACL. */
export function aclXattrToText(b: Uint8Array): string | undefined {
  if (b.length < 4 || (b.length - 4) % ENTRY !== 0) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint32(0, true) !== VERSION) return undefined;
  const parts: string[] = [];
  for (let o = 4; o < b.length; o += ENTRY) {
    const tag = v.getUint16(o, true),
      p = v.getUint16(o + 2, true),
      id = v.getUint32(o + 4, true);
    const ps = `${p & 4 ? 'r' : '-'}${p & 2 ? 'w' : '-'}${p & 1 ? 'x' : '-'}`;
    const name = TAG_TEXT[tag];
    if (name === undefined) return undefined;
    parts.push(`${name}:${tag === TAG.USER || tag === TAG.GROUP ? id : ''}:${ps}`);
  }
  return parts.join(',');
}
