"""Make the two layer tars of the OCI tests (run as root).

base/ (argv[1]) is filled with a small root filesystem; GNU tar makes layer
1 from it. Layer 2 is written member by member with Python's tarfile (pax
format), because it holds what no directory can: whiteouts deleting a
directory (.wh.del), an opaque directory (opq/.wh..wh..opq) replacing its
lower contents, a hard link to a file of the lower layer, a new file and a
changed mode.
"""
import io, os, sys, tarfile

base, l2 = sys.argv[1], sys.argv[2]


def put(p, data=b'', mode=0o644, uid=0, gid=0, ns=1700000000_000000000):
    full = os.path.join(base, p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'wb') as f:
        f.write(data)
    os.chown(full, uid, gid)
    os.chmod(full, mode)
    os.utime(full, ns=(ns, ns))


put('etc/passwd', b'root:x:0:0::/root:/bin/sh\n', ns=1700000001_123456789)
put('bin/sh', bytes(range(256)) * 100, 0o755)
put('del/sub/file', b'deleted by layer 2\n')
put('del/top', b'also deleted\n')
put('opq/a', b'hidden by the opaque whiteout\n')
put('opq/b', b'hidden too\n')
put('opq/sub/deep', b'and this\n')
put('mode/file', b'mode changes\n', 0o644, uid=1000, gid=1000)
put('keep/file', b'untouched\n', 0o640, uid=5, gid=6, ns=1600000000_000000001)
os.link(os.path.join(base, 'keep/file'), os.path.join(base, 'keep/link'))
os.symlink('../etc/passwd', os.path.join(base, 'keep/sym'))
os.mknod(os.path.join(base, 'keep/null'), 0o666 | 0o020000, os.makedev(1, 3))
os.mkfifo(os.path.join(base, 'keep/fifo'), 0o600)
for d in ['etc', 'bin', 'del/sub', 'del', 'opq/sub', 'opq', 'mode', 'keep', '.']:
    os.utime(os.path.join(base, d), ns=(1700000100_000000000, 1700000100_000000000))

T = 1700000500


def info(name, type=tarfile.REGTYPE, mode=0o644, data=b'', **kw):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.size = type, mode, T, len(data)
    ti.uname = ti.gname = ''
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, io.BytesIO(data) if data else None


with tarfile.open(l2, 'w', format=tarfile.PAX_FORMAT) as t:
    for ti, f in [
        info('.wh.del'),
        info('opq', tarfile.DIRTYPE, 0o750),
        info('opq/.wh..wh..opq'),
        info('opq/c', data=b'the only entry of opq now\n'),
        info('new', tarfile.DIRTYPE, 0o755),
        info('new/file', data=b'added by layer 2\n', mode=0o600, uid=33, gid=33),
        info('mode/file', data=b'mode changes\n', mode=0o4750, uid=1000, gid=1000),
        info('keep/passwd-link', tarfile.LNKTYPE, linkname='etc/passwd'),
    ]:
        t.addfile(ti, f)
