/**
 * POSIX ACLs in both forms: ext4 stores its own compact one (version 1,
 * 4-byte entries for USER_OBJ, GROUP_OBJ, MASK and OTHER, 8-byte ones with
 * an id for USER and GROUP); getfattr, setxattr and the FileTree hold the
 * VFS form (version 2, every entry 8 bytes). The writer converts VFS -> ext4,
 * the reader ext4 -> VFS.
 */
import { FormatError } from '../../errors.js';
import {
  ACL_TAG,
  ACL_UNDEFINED_ID,
  EXT4_ACL_VERSION,
  POSIX_ACL_XATTR_VERSION,
  ext4AclEntry,
  ext4AclEntryShort,
  ext4AclHeader,
  posixAclXattrEntry,
  posixAclXattrHeader,
} from './structs.js';

interface AclEntry {
  tag: number;
  perm: number;
  id: number;
}

function xerr(msg: string, data: Record<string, unknown>): FormatError {
  return new FormatError('E_FORMAT_XATTR', msg, { format: 'ext4', ...data });
}

/** Bytes of an entry with tag `tag` in ext4's form; undefined for an unknown tag. */
function diskEntrySize(tag: number): number | undefined {
  if (tag === ACL_TAG.USER || tag === ACL_TAG.GROUP) return ext4AclEntry.size;
  if (tag === ACL_TAG.USER_OBJ || tag === ACL_TAG.GROUP_OBJ || tag === ACL_TAG.MASK || tag === ACL_TAG.OTHER)
    return ext4AclEntryShort.size;
  return undefined;
}

/** ext4 on-disk ACL (version 1) -> VFS posix_acl_xattr (version 2). Throws FormatError when malformed. */
export function aclToXattr(value: Uint8Array, name: string, ino: number): Uint8Array {
  const bad = () =>
    xerr(`inode ${ino}: ${name} is not a valid ext4 ACL`, { structure: 'ext4_acl', inode: ino, field: name });
  if (value.length < ext4AclHeader.size || ext4AclHeader.decode(value).a_version !== EXT4_ACL_VERSION) throw bad();
  const entries: AclEntry[] = [];
  let o = ext4AclHeader.size;
  while (o < value.length) {
    if (o + ext4AclEntryShort.size > value.length) throw bad();
    const { e_tag: tag, e_perm: perm } = ext4AclEntryShort.decode(value, o);
    const size = diskEntrySize(tag);
    if (size === undefined || o + size > value.length) throw bad();
    entries.push({ tag, perm, id: size === ext4AclEntry.size ? ext4AclEntry.decode(value, o).e_id : ACL_UNDEFINED_ID });
    o += size;
  }
  const out = new Uint8Array(posixAclXattrHeader.size + entries.length * posixAclXattrEntry.size);
  posixAclXattrHeader.encode({ a_version: POSIX_ACL_XATTR_VERSION }, out);
  entries.forEach((e, i) =>
    posixAclXattrEntry.encode(
      { e_tag: e.tag, e_perm: e.perm, e_id: e.id },
      out,
      posixAclXattrHeader.size + i * posixAclXattrEntry.size,
    ),
  );
  return out;
}

type Conversion = { acl: Uint8Array } | { badTag?: number };

/** VFS form -> ext4's form, or why not (not the VFS form at all, or an unknown tag). */
function vfsToDisk(value: Uint8Array): Conversion {
  const head = posixAclXattrHeader.size;
  const es = posixAclXattrEntry.size;
  if (value.length < head || (value.length - head) % es !== 0) return {};
  if (posixAclXattrHeader.decode(value).a_version !== POSIX_ACL_XATTR_VERSION) return {};
  const entries: AclEntry[] = [];
  let size = ext4AclHeader.size;
  for (let o = head; o < value.length; o += es) {
    const e = posixAclXattrEntry.decode(value, o);
    const n = diskEntrySize(e.e_tag);
    if (n === undefined) return { badTag: e.e_tag };
    entries.push({ tag: e.e_tag, perm: e.e_perm, id: e.e_id });
    size += n;
  }
  const out = new Uint8Array(size);
  ext4AclHeader.encode({ a_version: EXT4_ACL_VERSION }, out);
  let o = ext4AclHeader.size;
  for (const e of entries) {
    if (diskEntrySize(e.tag) === ext4AclEntry.size) {
      ext4AclEntry.encode({ e_tag: e.tag, e_perm: e.perm, e_id: e.id }, out, o);
      o += ext4AclEntry.size;
    } else {
      ext4AclEntryShort.encode({ e_tag: e.tag, e_perm: e.perm }, out, o);
      o += ext4AclEntryShort.size;
    }
  }
  return { acl: out };
}

/** VFS posix_acl_xattr (version 2) -> ext4's on-disk ACL (version 1). Throws FormatError on a malformed value. */
export function xattrToAcl(value: Uint8Array, name: string): Uint8Array {
  const r = vfsToDisk(value);
  if ('acl' in r) return r.acl;
  if (r.badTag !== undefined)
    throw xerr(`${name}: unknown ACL tag 0x${r.badTag.toString(16)}`, {
      structure: 'posix_acl_xattr',
      field: name,
      actual: r.badTag,
    });
  throw xerr(`${name} is not a POSIX ACL in xattr form (version 2, 8-byte entries)`, {
    structure: 'posix_acl_xattr',
    field: name,
  });
}

/** What the writer stores for an ACL xattr: ext4's form, or the value as given when it is not a VFS ACL. */
export function aclForDisk(value: Uint8Array): Uint8Array {
  const r = vfsToDisk(value);
  return 'acl' in r ? r.acl : value;
}
