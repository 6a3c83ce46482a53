// A pts namespace as a user sees it: options, inodes, owners and modes,
// permissions, the index policy, the lock, `tty`, statfs. Every client is a
// child process (python3); where a kernel devpts instance can be mounted,
// the same scenario runs against it and the results are compared.
import t from 'tap';
import { DEFAULT_OPTIONS, mountNamespace, NR_UNIX98_PTY_MAX, OptionError, parseOptions } from '../../src/pts';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../../src/sys/libc';
import { leftMounted, mountedDirs, mountPts, mountsOfType, pyJson, runBoth, sameAsKernel, sleep, spawnPy, MISSING } from './helpers';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

t.test('parseOptions: devpts options and their defaults', async (t) => {
  t.same(parseOptions(''), DEFAULT_OPTIONS, 'empty text: the defaults');
  t.equal(DEFAULT_OPTIONS.mode, 0o600, 'default mode 0600');
  t.equal(DEFAULT_OPTIONS.ptmxmode, 0o000, 'default ptmxmode 0000');
  t.equal(DEFAULT_OPTIONS.max, 1048576, 'default max 1048576');
  t.equal(DEFAULT_OPTIONS.uid, undefined, 'no uid: the opener');
  t.equal(DEFAULT_OPTIONS.gid, undefined, 'no gid: the opener');

  const o = parseOptions('newinstance,ptmxmode=666,mode=620,gid=5,uid=1000,max=12');
  t.same(
    { uid: o.uid, gid: o.gid, mode: o.mode, ptmxmode: o.ptmxmode, max: o.max },
    { uid: 1000, gid: 5, mode: 0o620, ptmxmode: 0o666, max: 12 },
    'the container runtime set, plus uid and max',
  );
  t.equal(parseOptions('mode=0620').mode, 0o620, 'a leading zero is fine');
  t.equal(parseOptions('mode=17777').mode, 0o7777, 'modes are masked with 07777');
  t.equal(parseOptions('ptmxmode=100666').ptmxmode, 0o666, 'ptmxmode too');
  t.equal(parseOptions('max=1048576').max, NR_UNIX98_PTY_MAX, 'max=1048576 is the upper bound, accepted');
  t.equal(parseOptions('max=0').max, 0, 'max=0 accepted (every ptmx open is ENOSPC)');
  t.equal(parseOptions('newinstance').mode, 0o600, 'newinstance alone: accepted, no effect');
  t.equal(parseOptions('nosuid,noexec,nodev').mountFlags, MS_NOSUID | MS_NOEXEC | MS_NODEV, 'generic flags a runtime passes');
  t.equal(parseOptions('mode=600,mode=644').mode, 0o644, 'the last one wins, as in the kernel');
});

t.test('parseOptions: malformed and unknown options are refused, naming the option', async (t) => {
  const bad: [string, RegExp][] = [
    ['bogus', /bogus/],
    ['ptmxmode=666,frobnicate=1', /frobnicate/],
    ['mode=abc', /mode/],
    ['mode=8', /mode/],
    ['mode=', /mode/],
    ['ptmxmode=-1', /ptmxmode/],
    ['uid=x', /uid/],
    ['uid=-1', /uid/],
    ['gid=1.5', /gid/],
    ['max=1048577', /max/],
    ['max=99999999999', /max/],
    ['max=-1', /max/],
    ['newinstance=1', /newinstance/],
  ];
  for (const [text, name] of bad) {
    let thrown: unknown;
    try {
      parseOptions(text);
    } catch (err) {
      thrown = err;
    }
    t.ok(thrown instanceof OptionError, `"${text}" is refused with an OptionError`);
    t.match((thrown as Error | undefined)?.message ?? '', name, `"${text}": the message names the option`);
  }
});

t.test('a refused option mounts nothing', { skip: MISSING }, async (t) => {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'ptsfs-test-'));
  t.teardown(() => fs.promises.rmdir(dir).catch(() => undefined));
  const before = await mountsOfType();
  let thrown: unknown;
  try {
    const m = await mountNamespace(dir, parseOptions('mode=620,nonsense'));
    await m.stop();
  } catch (err) {
    thrown = err;
  }
  t.ok(thrown instanceof OptionError, 'refused before mounting');
  t.same(await mountsOfType(), before, 'no new fuse.ptsfs mount');
});

const STAT_LAYOUT = String.raw`
d = sys.argv[1]
def st(p):
    s = os.stat(os.path.join(d, p))
    return {'ino': s.st_ino, 'perm': oct(s.st_mode & 0o7777), 'uid': s.st_uid, 'gid': s.st_gid, 'dir': bool(s.st_mode & 0o040000)}
res = {'root': st('.'), 'ptmx': st('ptmx'), 'ls0': sorted(x for x in os.listdir(d) if x != 'tty')}
ms = [openpt(d) for i in range(3)]
res['indexes'] = [n for m, n in ms]
res['entries'] = [st(str(n)) for m, n in ms]
res['ls3'] = sorted(x for x in os.listdir(d) if x != 'tty')
out(res)
`;

t.test('inodes and modes: root 1 (0755), ptmx 2 (ptmxmode), entry N ino N+3 (mode)', { skip: MISSING }, async (t) => {
  const defaults = await runBoth(t, '', STAT_LAYOUT);
  const f = defaults.fuse;
  t.same(f.root, { ino: 1, perm: '0o755', uid: 0, gid: 0, dir: true }, 'root: ino 1, 0755, owned by the mounter');
  t.same(f.ptmx, { ino: 2, perm: '0o0', uid: 0, gid: 0, dir: false }, 'ptmx: ino 2, default ptmxmode 0000');
  t.same(f.ls0, ['ptmx'], 'a fresh mount lists only ptmx (and tty)');
  t.same(f.indexes, [0, 1, 2], 'three opens: indexes 0, 1, 2');
  t.same(f.entries.map((e: { ino: number }) => e.ino), [3, 4, 5], 'entry N has ino N+3');
  t.same(f.entries.map((e: { perm: string }) => e.perm), ['0o600', '0o600', '0o600'], 'default entry mode 0600');
  t.same(f.entries.map((e: { uid: number; gid: number }) => [e.uid, e.gid]), [[0, 0], [0, 0], [0, 0]], 'owned by the opener (root)');
  t.same(f.ls3, ['0', '1', '2', 'ptmx'], 'the entries are listed');
  sameAsKernel(t, defaults);

  const set = await runBoth(t, 'ptmxmode=666,mode=620,gid=5,uid=1000', STAT_LAYOUT);
  t.equal(set.fuse.ptmx.perm, '0o666', 'ptmxmode=666');
  t.same(set.fuse.entries[0], { ino: 3, perm: '0o620', uid: 1000, gid: 5, dir: false }, 'mode=620, uid=1000, gid=5 on entry 0');
  sameAsKernel(t, set);

  const masked = await runBoth(t, 'ptmxmode=10640,mode=4604', STAT_LAYOUT);
  t.equal(masked.fuse.ptmx.perm, '0o640', 'ptmxmode masked to 07777 (10640 -> 0640)');
  t.equal(masked.fuse.entries[0].perm, '0o4604', 'mode masked to 07777 keeps setuid (4604)');
  sameAsKernel(t, masked);
});

t.test('tty is listed and opening it gives ENXIO', { skip: MISSING }, async (t) => {
  const { dir } = await mountPts(t);
  const r = await pyJson(t, String.raw`
d = sys.argv[1]
s = os.stat(os.path.join(d, 'tty'))
out({'listed': 'tty' in os.listdir(d), 'open': err(os.open, os.path.join(d, 'tty'), os.O_RDWR | os.O_NOCTTY),
     'perm': oct(s.st_mode & 0o7777), 'after': ptn(openpt(d)[0])})
`, [dir]);
  t.same(r, { listed: true, open: 'ENXIO', perm: '0o666', after: 0 }, 'listed, 0666, ENXIO; the namespace still works');
});

// Runs as a non-root user (argv[2], argv[3]): opens ptmx, reports its entry.
const OPEN_AS_USER = String.raw`
d = sys.argv[1]
as_user(int(sys.argv[2]), int(sys.argv[3]))
m, n = openpt(d)
s = os.stat(os.path.join(d, str(n)))
own = os.open(os.path.join(d, str(n)), os.O_RDWR | os.O_NOCTTY)
os.write(m, b'hi\n')
out({'index': n, 'perm': oct(s.st_mode & 0o7777), 'uid': s.st_uid, 'gid': s.st_gid, 'own_read': with_alarm(2, os.read, own, 10)})
`;

t.test('an entry is owned by uid=/gid= or else the opener\'s fsuid/fsgid', { skip: MISSING }, async (t) => {
  const opener = await runBoth(t, 'ptmxmode=666', OPEN_AS_USER, [1000, 1001]);
  t.same(opener.fuse, { index: 0, perm: '0o600', uid: 1000, gid: 1001, own_read: 'hi\n' },
    'a user opening ptmx owns the entry (1000:1001, 0600) and can open it');
  sameAsKernel(t, opener);

  const fixed = await runBoth(t, 'ptmxmode=666,mode=620,uid=2000,gid=5', OPEN_AS_USER, [2000, 1001]);
  t.same(fixed.fuse, { index: 0, perm: '0o620', uid: 2000, gid: 5, own_read: 'hi\n' }, 'uid=2000,gid=5,mode=620 override the opener');
  sameAsKernel(t, fixed);

  const gidOnly = await runBoth(t, 'ptmxmode=666,mode=620,gid=5', OPEN_AS_USER, [1000, 1000]);
  t.same([gidOnly.fuse.uid, gidOnly.fuse.gid], [1000, 5], 'gid=5 alone: uid from the opener, gid 5');
  sameAsKernel(t, gidOnly);

  // The filesystem ids, not the effective ones: root with setfsuid/setfsgid.
  const fsids = await runBoth(t, 'ptmxmode=666', String.raw`
d = sys.argv[1]
libc.setfsgid(1600)
libc.setfsuid(1500)
m, n = openpt(d)
libc.setfsuid(0)
libc.setfsgid(0)
s = os.stat(os.path.join(d, str(n)))
out({'euid': os.geteuid(), 'owner': [s.st_uid, s.st_gid]})
`);
  t.same(fsids.fuse, { euid: 0, owner: [1500, 1600] }, 'root with fsuid 1500/fsgid 1600: the entry is 1500:1600');
  sameAsKernel(t, fsids);
});

t.test('permissions: ptmx mode and entry modes are enforced; chmod/chown as on devpts', { skip: MISSING }, async (t) => {
  const script = String.raw`
d = sys.argv[1]
res = {}
def as_child(f):
    """Runs f() as uid/gid 1000 in a child; returns what it printed (JSON)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            as_user(1000, 1000)
            v = f()
        except Exception as e:
            v = repr(e)
        os.write(w, json.dumps(v, default=_jsonable).encode())
        os._exit(0)
    os.close(w)
    data = b''
    while True:
        b = os.read(r, 65536)
        if not b: break
        data += b
    os.waitpid(pid, 0)
    os.close(r)
    return json.loads(data)
ptmx = os.path.join(d, 'ptmx')
res['ptmx_0000_user'] = as_child(lambda: err(os.open, ptmx, os.O_RDWR | os.O_NOCTTY))
os.chmod(ptmx, 0o666)
res['ptmx_chmod'] = oct(os.stat(ptmx).st_mode & 0o7777)
m, n = openpt(d)   # root's pty: entry 0600 root:root
p = os.path.join(d, str(n))
res['root_entry_user'] = as_child(lambda: err(os.open, p, os.O_RDWR | os.O_NOCTTY))
res['root_entry_user_chmod'] = as_child(lambda: err(os.chmod, p, 0o666))
def own():
    m2, n2 = openpt(d)
    p2 = os.path.join(d, str(n2))
    r = {'index': n2}
    r['chmod_own'] = err(os.chmod, p2, 0o620)
    r['perm_own'] = oct(os.stat(p2).st_mode & 0o7777)
    r['chown_own_to_root'] = err(os.chown, p2, 0, -1)
    return r
res['user_pty'] = as_child(own)
os.chmod(p, 0o606)
os.chown(p, 1234, 4321)
s = os.stat(p)
res['root_chmod_chown'] = [oct(s.st_mode & 0o7777), s.st_uid, s.st_gid]
def open_rw():
    fd = os.open(p, os.O_RDWR | os.O_NOCTTY)
    os.write(fd, b'from user\n')
    return 'ok'
res['user_after_chmod'] = as_child(open_rw)
res['master_sees'] = read_avail(m)
os.chmod(p, 0o600)
res['user_after_chmod_back'] = as_child(lambda: err(os.open, p, os.O_RDWR | os.O_NOCTTY))
out(res)
`;
  const both = await runBoth(t, '', script);
  t.same(both.fuse, {
    ptmx_0000_user: 'EACCES',
    ptmx_chmod: '0o666',
    root_entry_user: 'EACCES',
    root_entry_user_chmod: 'EPERM',
    user_pty: { index: 1, chmod_own: null, perm_own: '0o620', chown_own_to_root: 'EPERM' },
    root_chmod_chown: ['0o606', 1234, 4321],
    user_after_chmod: 'ok',
    master_sees: 'from user\r\n',
    user_after_chmod_back: 'EACCES',
  }, 'a user cannot open ptmx 0000 or root\'s 0600 entry (EACCES), chmod/chown work and are enforced');
  sameAsKernel(t, both);
});

t.test('statfs: bsize 4096, namelen 255', { skip: MISSING }, async (t) => {
  const { dir } = await mountPts(t);
  const r = await pyJson(t, String.raw`
v = os.statvfs(sys.argv[1])
out({'bsize': v.f_bsize, 'namemax': v.f_namemax})
`, [dir]);
  t.same(r, { bsize: 4096, namemax: 255 });
});

// --- the index policy ---

t.test('lowest free index first, per namespace', { skip: MISSING }, async (t) => {
  const a = await mountPts(t);
  const b = await mountPts(t);
  const c = spawnPy(t, String.raw`
a, b = sys.argv[1], sys.argv[2]
res = {}
ma = openpt(a); mb = openpt(b)
res['first'] = [ma[1], mb[1]]
more = [openpt(a) for i in range(4)]
res['a_more'] = [n for m, n in more]
os.close(more[0][0]); os.close(more[2][0])   # frees 1 and 3
time.sleep(0.05)
res['a_reuse'] = [openpt(a)[1], openpt(a)[1], openpt(a)[1]]
res['b_second'] = openpt(b)[1]
res['ls_a'] = sorted(int(x) for x in os.listdir(a) if x.isdigit())
res['ls_b'] = sorted(int(x) for x in os.listdir(b) if x.isdigit())
out(res)
sys.stdin.read()   # hold every fd until the test is done looking
`, [a.dir, b.dir], { holdStdin: true });
  const r = (await c.line(1)) as Record<string, unknown>;
  t.same(r.first, [0, 0], 'two mounts: both give index 0 (independent namespaces)');
  t.same(r.a_more, [1, 2, 3, 4], 'then 1, 2, 3, 4');
  t.same(r.a_reuse, [1, 3, 5], 'after closing 1 and 3: 1, 3, then 5 (lowest free first)');
  t.equal(r.b_second, 1, 'the other namespace is untouched: its next index is 1');
  t.same(r.ls_a, [0, 1, 2, 3, 4, 5], 'namespace a lists its 6 entries');
  t.same(r.ls_b, [0, 1], 'namespace b lists its 2');
  t.same([...a.mount.namespace.ptys.keys()].sort(), [0, 1, 2, 3, 4, 5], 'the server holds ptys 0-5 for a');
  t.same([...b.mount.namespace.ptys.keys()].sort(), [0, 1], 'and 0-1 for b');
  c.send();
  const done = await c.done;
  t.equal(done.code, 0, 'the client exits');
  for (let i = 0; i < 50 && a.mount.namespace.ptys.size + b.mount.namespace.ptys.size > 0; i++) await sleep(20);
  t.equal(a.mount.namespace.ptys.size + b.mount.namespace.ptys.size, 0, 'its exit closed every pty: the server holds none');
});

t.test('max=2: the third open gets ENOSPC; a close makes room', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, 'max=2', String.raw`
d = sys.argv[1]
m0 = openpt(d); m1 = openpt(d)
res = {'two': [m0[1], m1[1]], 'third': err(openpt, d)}
os.close(m0[0])
time.sleep(0.2)   # the kernel frees indexes from a work queue
res['after_close'] = err(lambda: openpt(d)[1])
res['full_again'] = err(openpt, d)
out(res)
`);
  t.same(both.fuse, { two: [0, 1], third: 'ENOSPC', after_close: 0, full_again: 'ENOSPC' });
  sameAsKernel(t, both);
  // Not compared: a kernel devpts with max=0 does not limit at all
  // (ida_alloc_max(max - 1) with max - 1 = -1 means no bound).
  const { dir } = await mountPts(t, 'max=0');
  t.equal(await pyJson(t, 'out(err(openpt, sys.argv[1]))', [dir]), 'ENOSPC', 'max=0: the range [0, -1] is empty, ENOSPC');
});

t.test('entry N: appears at once, locked until unlocked, gone at the master\'s last close, index freed when both sides closed', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
def entries():
    return sorted(int(x) for x in os.listdir(d) if x.isdigit())
def free_index(wait=1.0):
    """The index the next ptmx open gets (the kernel frees indexes asynchronously: retry a while for 0)."""
    end = time.time() + wait
    while True:
        m, n = openpt(d)
        os.close(m)
        if n == 0 or time.time() > end:
            return n
        time.sleep(0.05)
res = {}
m, n = openpt(d, do_unlock=False)
p = os.path.join(d, str(n))
s = os.stat(p)
res['new'] = {'index': n, 'listed': entries(), 'ino': s.st_ino}
res['locked'] = {'TIOCGPTLCK': ioctl_int(m, TIOCGPTLCK), 'open': err(os.open, p, os.O_RDWR | os.O_NOCTTY)}
ioctl_int(m, TIOCSPTLCK, 1)
res['relock_noop'] = err(os.open, p, os.O_RDWR | os.O_NOCTTY)
unlock(m)
res['unlocked'] = ioctl_int(m, TIOCGPTLCK)
sl = os.open(p, os.O_RDWR | os.O_NOCTTY)
os.write(sl, b'x')
res['slave_to_master'] = os.read(m, 10)
ioctl_int(m, TIOCSPTLCK, 1)
res['locked_again'] = err(os.open, p, os.O_RDWR | os.O_NOCTTY)
unlock(m)
m_dup = os.dup(m)
os.close(m)
res['dup_keeps_entry'] = entries()
os.close(m_dup)
res['after_master_close'] = {'listed': entries(), 'stat': err(os.stat, p), 'open': err(os.open, p, os.O_RDWR | os.O_NOCTTY),
                             'slave_read': os.read(sl, 10), 'next_index': free_index(0)}
os.close(sl)
res['after_both_closed'] = {'next_index': free_index()}
# a nonexistent entry, and names that are not entries
res['nonexistent'] = [err(os.open, os.path.join(d, x), os.O_RDWR) for x in ('7', '00', '01', 'x', '99999999')]
out(res)
`);
  const f = both.fuse;
  t.same(f.new, { index: 0, listed: [0], ino: 3 }, 'entry 0 is listed and has a stat at once');
  t.same(f.locked, { TIOCGPTLCK: 1, open: 'EIO' }, 'a new pty is locked: opening N gives EIO');
  t.equal(f.relock_noop, 'EIO', 'still EIO after TIOCSPTLCK(1)');
  t.equal(f.unlocked, 0, 'TIOCSPTLCK(0) unlocks');
  t.equal(f.slave_to_master, 'x', 'the unlocked slave opens and relays');
  t.equal(f.locked_again, 'EIO', 'locking again refuses new opens');
  t.same(f.dup_keeps_entry, [0], 'closing one of two master fds keeps the entry');
  t.same(f.after_master_close, { listed: [], stat: 'ENOENT', open: 'ENOENT', slave_read: '', next_index: 1 },
    'the master\'s last close: entry gone (ENOENT) while a slave fd is open, that fd reads EOF, index 0 still taken');
  t.same(f.after_both_closed, { next_index: 0 }, 'both sides closed: index 0 is free again');
  t.same(f.nonexistent, ['ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'ENOENT'], 'entries that do not exist: ENOENT');
  sameAsKernel(t, both);
});

t.test('a hung-up slave fd still has its inode: fstat works, reopening it gives EIO', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
os.close(m)
res = {}
res['fstat'] = err(lambda: [os.fstat(s).st_ino, oct(os.fstat(s).st_mode & 0o7777)])
res['reopen'] = err(os.open, '/proc/self/fd/%d' % s, os.O_RDWR | os.O_NOCTTY)
res['read'] = os.read(s, 10)
res['write'] = err(os.write, s, b'x')
out(res)
`);
  t.same(both.fuse, { fstat: [3, '0o600'], reopen: 'EIO', read: '', write: 'EIO' },
    'fstat of the open fd works; opening N whose master is gone gives EIO');
  sameAsKernel(t, both);
});

t.test('nothing is left mounted by this file', { skip: MISSING }, async (t) => {
  // Runs last: every earlier subtest's teardown has stopped its mount.
  t.ok(mountedDirs.length > 0, `this file mounted ${mountedDirs.length} times`);
  t.same(await leftMounted(), [], 'none of them is still mounted');
});
