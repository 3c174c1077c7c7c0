"""Make the rich source directory the tar tests archive with GNU tar (run as root).

Every entry type and the awkward cases: long names and link targets, hard
links (also of a symlink), devices with large numbers, a FIFO, setuid and
sticky modes, large and negative owners and times, nanosecond mtimes,
xattrs (binary values), POSIX ACLs (access and default, set as the kernel
stores them), sparse files ending in a hole and in data.
"""
import os, struct, sys

root = sys.argv[1]
U = 0xFFFFFFFF


def acl(entries):
    return struct.pack('<I', 2) + b''.join(struct.pack('<HHI', t, p, i) for t, p, i in entries)


def path(p):
    full = os.path.join(root, p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def meta(p, mode, uid=0, gid=0, mtime=(1700000000, 0), link=False):
    full = os.path.join(root, p)
    os.chown(full, uid, gid, follow_symlinks=not link)
    if not link:
        os.chmod(full, mode)
    ns = mtime[0] * 1_000_000_000 + mtime[1]
    os.utime(full, ns=(ns, ns), follow_symlinks=not link)


def file(p, data, mode=0o644, **kw):
    with open(path(p), 'wb') as f:
        f.write(data)
    meta(p, mode, **kw)


rand = bytes((i * 2654435761 >> 13) & 0xFF for i in range(200_000))
file('etc/passwd', b'root:x:0:0:root:/root:/bin/sh\n', mtime=(1700000001, 123456789))
file('bin/busybox', rand, 0o4755, mtime=(1700000002, 5))
file('empty', b'', 0o600, uid=1000, gid=1000)
file('exact512', b'A' * 512, uid=65534, gid=65534)
file('bigids', b'big owner\n', uid=3000000, gid=4000000)
file('old', b'before 1970\n', mtime=(-100000000, 250000000))
longdir = 'usr/lib/' + 'd' * 90 + '/' + 'e' * 90
file(longdir + '/' + 'n' * 200, b'long path\n')
file('x/attrs', b'xattrs here\n')
os.setxattr(path('x/attrs'), 'user.a', b'hello')
os.setxattr(path('x/attrs'), 'user.bin', bytes(range(256)))
os.setxattr(path('x/attrs'), 'trusted.t', b'\x00\x01')
file('x/acl', b'acl\n', 0o640)
os.setxattr(path('x/acl'), 'system.posix_acl_access', acl([(1, 6, U), (2, 4, 1000), (4, 4, U), (0x10, 6, U), (0x20, 0, U)]))
meta('x/acl', 0o660)
os.makedirs(path('x/acldir/.keep'), exist_ok=True)
os.setxattr(path('x/acldir'), 'system.posix_acl_default', acl([(1, 7, U), (4, 5, U), (8, 5, 12345), (0x10, 7, U), (0x20, 5, U)]))
meta('x/acldir/.keep', 0o755)
meta('x/acldir', 0o2775, gid=50)
file('links/a', b'one inode, three names\n', mtime=(1700000003, 0))
os.link(path('links/a'), path('links/b'))
os.link(path('links/a'), path('links/c'))
os.symlink('a', path('links/sym'))
meta('links/sym', 0o777, uid=7, gid=8, link=True)
os.link(path('links/sym'), path('links/sym2'), follow_symlinks=False)
os.symlink('/etc/passwd', path('links/abs'))
os.symlink('../../../../outside', path('links/escape'))
os.symlink('t' * 300, path('links/longtarget'))
for p in ['links/abs', 'links/escape', 'links/longtarget']:
    meta(p, 0o777, link=True)
os.makedirs(path('dev/.d'), exist_ok=True)
os.mknod(path('dev/null'), 0o666 | 0o020000, os.makedev(1, 3))
os.mknod(path('dev/sda1'), 0o660 | 0o060000, os.makedev(8, 1))
os.mknod(path('dev/big'), 0o600 | 0o060000, os.makedev(259, 131072))
os.mkfifo(path('dev/fifo'), 0o644)
for p, m in [('dev/null', 0o666), ('dev/sda1', 0o660), ('dev/big', 0o600), ('dev/fifo', 0o644), ('dev/.d', 0o700)]:
    meta(p, m, gid=6 if p == 'dev/sda1' else 0)
os.makedirs(path('tmp/.x'), exist_ok=True)
meta('tmp/.x', 0o755)
meta('tmp', 0o1777)
with open(path('sparse/hole-end'), 'wb') as f:
    f.write(b'S' * 4096)
    f.seek(1 << 20)
    f.write(b'middle')
    f.truncate(10 << 20)
meta('sparse/hole-end', 0o644)
with open(path('sparse/data-end'), 'wb') as f:
    f.seek(3 << 20)
    f.write(b'E' * 10000)
meta('sparse/data-end', 0o644)
for d in ['etc', 'bin', 'usr/lib/' + 'd' * 90, 'usr/lib', 'usr', 'x', 'links', 'dev', 'sparse', longdir]:
    meta(d, 0o755, mtime=(1700000100, 999999999))
meta('.', 0o755, mtime=(1700000200, 1))
