// entries=chr as a user sees it. Runs inside the VM (test/vm/chr.test.ts
// boots it), where the kernel has CUSE: everyday programs in a container on
// a chr mount against a kernel devpts instance, the host side of the CUSE
// devices, the nodev and cap rules, and what the CLI shows.
//
// Named .guest.js, not .test.js: the host's `npm test` must not run it.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { cuseUnavailable } from '../../../src/fuse';
import { mountPts, PYTHON } from '../../pts/helpers';
import {
  describe, exec, inContainer, kernel, kernelDevptsMissing, keyValues, Proc, ptsfs, startInContainer, tempDir, userEnv,
} from '../../pts/programs-helpers';
import { BIN, forceUnmount, privateDaemon } from '../../cli/helpers';

const why = cuseUnavailable();
if (why) {
  t.comment(`skipping: ${why} (this file runs in the VM)`);
  t.plan(0, why);
}
const needs = { skip: why ?? false };
const PROGRAMS = path.resolve(__dirname, '../../../../test/vm/guest/programs.py');
/** Each scenario and the programs it needs (.ci/run installs them). */
const NEEDS: Record<string, string[]> = {
  tty: ['tty'], cat: ['cat'], grep: ['grep'], sed: ['sed'], expect: ['expect'], screen: ['screen'],
  sudo: ['sudo'], who: ['login', 'who'], sshd: ['sshd', 'ssh', 'ssh-keygen'],
};
const onPath = (p: string): boolean => ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => fs.existsSync(path.join(d, p)));
const SCENARIOS = Object.keys(NEEDS).filter((s) => NEEDS[s]!.every(onPath));
for (const s of Object.keys(NEEDS).filter((x) => !SCENARIOS.includes(x))) {
  t.comment(`skipping scenario ${s}: this machine lacks ${NEEDS[s]!.filter((p) => !onPath(p)).join(', ')}`);
}

/** What each program must show, on the chr mount as on the kernel's. */
const MUST: Record<string, string> = {
  'tty.name': 'ok', 'tty.exit': 'ok',
  'cat.copied': 'ok', 'cat.exit': 'ok',
  'grep.matched': 'ok', 'grep.exit': 'ok',
  'sed.line_before_eof': 'ok', 'sed.exit': '0',
  'expect.result': 'ok',
  'screen.started': 'ok', 'screen.detached': 'ok', 'screen.detached_exit': '0', 'screen.attached': 'ok', 'screen.ended': 'ok', 'screen.exit': '0',
  'sudo.requiretty': 'ok',
  'who.prompt': 'ok', 'who.after_login': 'ok',
  'sshd.command': '/dev/pts/0', 'sshd.shell': "['/dev/pts/0'] exit=3",
};

t.test('everyday programs in a container on an entries=chr mount, as on a kernel devpts', needs, async (t) => {
  // The guest's / is a throwaway overlay: sudo's requiretty and login's utmp go there.
  fs.writeFileSync('/etc/sudoers.d/ptsfs-requiretty', 'Defaults requiretty\n', { mode: 0o440 });
  fs.writeFileSync('/run/utmp', '');
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5,entries=chr');
  t.equal(ns.mount.namespace.entries, 'chr', 'the mount has chr entries');
  // The programs' stderr goes with every failure: it says what a scenario waited for.
  const run = async (w: Parameters<typeof inContainer>[1], which: string): Promise<{ seen: Map<string, string>; stderr: string }> => {
    const r = await inContainer(t, w, [PYTHON, PROGRAMS, ...SCENARIOS], { timeoutMs: 420_000 });
    t.equal(r.code, 0, `the programs ran to their end on ${which} (${describe(r)})`);
    return { seen: keyValues(r.stdout), stderr: r.stderr.trim().slice(-1500) };
  };
  const got = await run(ptsfs(ns.dir), 'ptsfs');
  for (const [k, v] of Object.entries(MUST)) {
    if (SCENARIOS.includes(k.split('.')[0]!)) t.equal(got.seen.get(k), v, `ptsfs: ${k}`, { stderr: got.stderr });
  }
  const missing = await kernelDevptsMissing(t);
  if (missing) return t.comment(`no kernel comparison: ${missing}`);
  const want = await run(kernel, 'kernel devpts');
  t.same(Object.fromEntries(got.seen), Object.fromEntries(want.seen), 'every program behaves as on a kernel devpts',
    { stderr: got.stderr, kernelStderr: want.stderr });
});

// The two ioctls a regular file cannot carry but a CUSE device can (README, "What a FUSE file cannot be").
const IOCTLS = String.raw`
import os, fcntl, signal, struct, termios, time
TIOCSIG, TIOCGPTN, TIOCSPTLCK = 0x40045436, 0x80045430, 0x40045431
m = os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(m, TIOCSPTLCK, struct.pack('i', 0))
name = '/dev/pts/%d' % struct.unpack('i', fcntl.ioctl(m, TIOCGPTN, bytes(4)))[0]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    s = os.open(name, os.O_RDWR | os.O_NOCTTY)
    fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, lambda *a: os._exit(42))
    os.write(w, b'r')
    signal.pause()
    os._exit(1)
os.read(r, 1)
s = os.open(name, os.O_RDWR | os.O_NOCTTY)
os.write(m, b'abc\n')
# the line reaches the reader's queue asynchronously, on a kernel pty too
QUEUED_WAIT = 20.0
end, n = time.time() + QUEUED_WAIT, 0
while n == 0 and time.time() < end:
    time.sleep(0.05)
    n = struct.unpack('i', fcntl.ioctl(s, termios.FIONREAD, bytes(4)))[0]
print('fionread=%d' % n)
fcntl.ioctl(m, TIOCSIG, signal.SIGINT)
print('tiocsig_child_exit=%d' % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

t.test('FIONREAD and TIOCSIG reach a chr entry, as on a kernel devpts', needs, async (t) => {
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5,entries=chr');
  const got = await inContainer(t, ptsfs(ns.dir), [PYTHON, '-c', IOCTLS], { timeoutMs: 30_000 });
  t.equal(got.code, 0, describe(got));
  t.same(Object.fromEntries(keyValues(got.stdout)), { fionread: '4', tiocsig_child_exit: '42' }, 'FIONREAD counts the line; TIOCSIG signals the foreground group');
  const missing = await kernelDevptsMissing(t);
  if (missing) return t.comment(`no kernel comparison: ${missing}`);
  const want = await inContainer(t, kernel, [PYTHON, '-c', IOCTLS], { timeoutMs: 30_000 });
  t.equal(got.stdout, want.stdout, 'as on a kernel devpts');
});

// A hostile unprivileged caller on a chr entry: pointers the kernel cannot
// copy, commands no tty has, a slave used after its master closed. On a CUSE
// device the kernel copies the caller's memory for the server (the ioctl
// retry), so a bad pointer must come back as the kernel's own EFAULT, in the
// kernel's order of checks, and the server must go on serving.
const HOSTILE = String.raw`
import ctypes, errno, fcntl, os, struct, termios
libc = ctypes.CDLL(None, use_errno=True)
TIOCGPTN, TIOCSPTLCK = 0x80045430, 0x40045431
def openpair():
    m = os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)
    fcntl.ioctl(m, TIOCSPTLCK, struct.pack('i', 0))
    n = struct.unpack('i', fcntl.ioctl(m, TIOCGPTN, bytes(4)))[0]
    return m, os.open('/dev/pts/%d' % n, os.O_RDWR | os.O_NOCTTY)
def raw_ioctl(fd, req, arg):
    r = libc.ioctl(fd, ctypes.c_ulong(req), ctypes.c_void_p(arg))
    return 'ok' if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
HUGE_UNKNOWN = (3 << 30) | (0x3fff << 16) | (ord('T') << 8) | 0x99  # _IOWR, the largest _IOC size
m, s = openpair()
for fd, side in ((m, 'master'), (s, 'slave')):
    for name, req, arg in (('tcgets_null', termios.TCGETS, 0), ('tcgets_1', termios.TCGETS, 1),
                           ('tcgets_kernel', termios.TCGETS, 0xffffffff81000000),
                           ('tcsets_bad', termios.TCSETS, 0xdeadbeef), ('tiocswinsz_bad', termios.TIOCSWINSZ, 0xdeadbeef),
                           ('tiocgwinsz_bad', termios.TIOCGWINSZ, 0x10), ('tiocspgrp_bad', termios.TIOCSPGRP, 0x10),
                           ('tiocgptn_bad', TIOCGPTN, 0x10), ('fionread_bad', termios.FIONREAD, 0x10),
                           ('unknown_huge', HUGE_UNKNOWN, 0x1000), ('unknown_all_ones', 0xffffffff, 0)):
        print('%s.%s=%s' % (side, name, raw_ioctl(fd, req, arg)))
os.write(m, b'still\n')
print('same_pair_after=%r' % os.read(s, 100))
os.close(m)
try:
    os.write(s, b'x')
    print('hung_up.write=ok')
except OSError as e:
    print('hung_up.write=%s' % errno.errorcode[e.errno])
try:
    print('hung_up.read=%r' % os.read(s, 10))
except OSError as e:
    print('hung_up.read=%s' % errno.errorcode[e.errno])
os.close(s)
m, s = openpair()
os.write(m, b'new\n')
print('new_pair=%r' % os.read(s, 100))
`;

t.test('a hostile unprivileged caller on a chr entry gets the kernel errnos; the server goes on', needs, async (t) => {
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5,entries=chr');
  const argv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', PYTHON, '-c', HOSTILE];
  const got = await inContainer(t, ptsfs(ns.dir), argv, { timeoutMs: 60_000 });
  t.equal(got.code, 0, describe(got));
  const seen = Object.fromEntries(keyValues(got.stdout));
  t.equal(seen['slave.tcgets_kernel'], 'EFAULT', 'a kernel address is EFAULT');
  t.equal(seen['master.unknown_huge'], 'ENOTTY', 'an unknown command of the largest size is ENOTTY, nothing copied');
  t.equal(seen.new_pair, String.raw`b'new\n'`, 'a new pair carries data afterwards');
  const missing = await kernelDevptsMissing(t);
  if (missing) return t.comment(`no kernel comparison: ${missing}`);
  const want = await inContainer(t, kernel, argv, { timeoutMs: 60_000 });
  t.same(seen, Object.fromEntries(keyValues(want.stdout)), 'every answer as on a kernel devpts', { stderr: want.stderr });
});

// Opens a pty in a container and reports the entry and the host's CUSE device behind it.
const HOST_SIDE = String.raw`
import os, sys, stat, fcntl, struct
TIOCGPTN, TIOCSPTLCK = 0x80045430, 0x40045431
m = os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)
name = '/dev/pts/%d' % struct.unpack('i', fcntl.ioctl(m, TIOCGPTN, bytes(4)))[0]
fcntl.ioctl(m, TIOCSPTLCK, struct.pack('i', 0))
s = os.open(name, os.O_RDWR | os.O_NOCTTY)
st = os.fstat(s)
print('entry=%s %d:%d %s' % (name, os.major(st.st_rdev), os.minor(st.st_rdev), 'chr' if stat.S_ISCHR(st.st_mode) else 'other'))
print('ttyname=%s' % os.ttyname(s))
sys.stdout.flush()
sys.stdin.readline()  # the test looks at the host, then lets go
`;

interface HostNode { path: string; mode: string; uid: number; rdev: string }

/** The host's devtmpfs nodes of our CUSE devices (the VM's /dev is the host here). */
function hostNodes(): HostNode[] {
  const found: HostNode[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        found.push({ path: p, mode: (st.mode & 0o7777).toString(8), uid: st.uid, rdev: `${Math.floor(st.rdev / 256)}:${st.rdev % 256}` });
      }
    }
  };
  if (fs.existsSync('/dev/ptsfs')) walk('/dev/ptsfs');
  return found;
}

t.test('host hygiene: root-only nodes named per daemon and mount, gone with their pty', needs, async (t) => {
  const a = await mountPts(t, 'ptmxmode=666,mode=620,gid=5,entries=chr');
  const b = await mountPts(t, 'ptmxmode=666,mode=620,gid=5,entries=chr');
  const before = hostNodes();
  t.equal(before.filter((n) => /\/(ptmx|tty)$/.test(n.path)).length, 4, 'a ptmx and a tty device for each mount');
  t.ok(before.every((n) => n.mode === '600' && n.uid === 0), `every host node is 0600 root: ${JSON.stringify(before)}`);
  const dirs = new Set(before.map((n) => path.dirname(n.path)));
  t.equal(dirs.size, 2, `one directory per mount, named by daemon pid and mount: ${[...dirs].join(' ')}`);
  t.ok([...dirs].every((d) => d.startsWith(`/dev/ptsfs/${process.pid}.`)), 'under /dev/ptsfs/PID.N');

  // Not statSync: this process serves the mount.
  const ptmx = await fs.promises.stat(a.path('ptmx'));
  t.ok(ptmx.isCharacterDevice(), 'ptmx on the mount is a char device');
  t.ok(before.some((n) => n.path.endsWith('/ptmx') && n.rdev === `${Math.floor(ptmx.rdev / 256)}:${ptmx.rdev % 256}`), 'with the number of a host CUSE device');

  const holders = [a, b].map((ns) => startInContainer(t, ptsfs(ns.dir), [PYTHON, '-c', HOST_SIDE], { openStdin: true, timeoutMs: 60_000 }));
  for (const h of holders) await h.waitFor('ttyname=');
  const during = hostNodes();
  const entries = holders.map((h) => keyValues(h.stdout));
  t.equal(entries[0]!.get('ttyname'), '/dev/pts/0', 'container A: ttyname of its pty 0');
  t.equal(entries[1]!.get('ttyname'), '/dev/pts/0', 'container B: its own pty 0');
  const rdevs = entries.map((e) => e.get('entry')!.split(' ')[1]);
  t.not(rdevs[0], rdevs[1], `the two pty 0s are different devices (${rdevs.join(', ')})`);
  for (const r of rdevs) t.ok(during.some((n) => n.path.endsWith('/0') && n.rdev === r), `host node for ${r}`);
  for (const h of holders) h.endInput();
  for (const h of holders) t.equal((await h.done).code, 0, describe(await h.done));
  // The master's release is answered before the device goes; give the daemon's event loop a turn.
  await new Promise((r) => setTimeout(r, 200));
  t.same(hostNodes().map((n) => n.path).sort(), before.map((n) => n.path).sort(), 'the pty devices are gone with their ptys');
});

t.test('nodev: auto picks file and says why; entries=chr is refused, nothing left mounted', needs, async (t) => {
  const ns = await mountPts(t, 'nodev,entries=auto');
  t.equal(ns.mount.namespace.entries, 'file', 'a nodev mount gets file entries');
  t.match(ns.mount.entriesWhy, /^entries=file \(auto: the mount is nodev/, ns.mount.entriesWhy);
  const dir = await tempDir(t, 'ptsfs-nodev-');
  const r = await exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, 'mount', '-o', 'nodev,entries=chr', '--foreground', dir], { env: userEnv(), timeoutMs: 20_000 });
  t.not(r.code, 0, 'exit non-zero');
  t.match(r.stderr, /entries=chr: the mount is nodev/, r.stderr.trim());
  t.notOk(fs.readFileSync('/proc/self/mounts', 'utf8').includes(dir), 'not mounted');
});

t.test('the daemon-wide cap on CUSE devices: ENOSPC, never a fall back to file', needs, async (t) => {
  const dir = await tempDir(t, 'ptsfs-cap-');
  t.teardown(() => forceUnmount(dir));
  // ptmx and tty take two of the four; two ptys fit, the third does not.
  const server = new Proc(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, 'mount', '-o', 'ptmxmode=666,entries=chr', '--foreground', dir],
    { env: { ...userEnv(), PTSFS_CHR_MAX: '4' }, timeoutMs: 60_000 });
  await server.waitFor(`ptsfs: serving ${dir}: entries=chr`, 'stderr');
  const r = await exec(t, PYTHON, ['-c', String.raw`
import os, sys, errno
fds = []
for i in range(3):
    try:
        fds.append(os.open(sys.argv[1] + '/ptmx', os.O_RDWR | os.O_NOCTTY))
        print('open%d=ok' % i)
    except OSError as e:
        print('open%d=%s' % (i, errno.errorcode[e.errno]))
print('entries=%s' % ' '.join(sorted(os.listdir(sys.argv[1]))))
for f in fds: os.close(f)
fds = [os.open(sys.argv[1] + '/ptmx', os.O_RDWR | os.O_NOCTTY)]
print('after_close=ok')
`, dir]);
  const got = keyValues(r.stdout);
  t.same([got.get('open0'), got.get('open1'), got.get('open2')], ['ok', 'ok', 'ENOSPC'], 'two ptys, then ENOSPC');
  t.equal(got.get('entries'), '0 1 ptmx tty', 'only the two that fit have entries');
  t.equal(got.get('after_close'), 'ok', 'closing gives the devices back');
  server.signal('SIGTERM');
  t.equal((await server.done).code, 0, 'the server exits 0');
});

t.test('ptsfs list shows the char major a device cgroup rule needs', needs, async (t) => {
  const d = await privateDaemon(t);
  const dir = await tempDir(t, 'ptsfs-list-');
  const m = await d.cli(['mount', '-o', 'entries=chr', dir]);
  t.equal(m.code, 0, describe(m));
  const l = await d.cli(['list', '--json']);
  const mount = (JSON.parse(l.stdout) as { mounts: { mountpoint: string; options: string; major?: number }[] }).mounts.find((x) => x.mountpoint === dir);
  t.match(mount?.options, /entries=chr/, 'the options say entries=chr');
  t.equal(mount?.major, Math.floor(fs.statSync(path.join(dir, 'ptmx')).rdev / 256), 'major is the one the nodes carry');
  const text = await d.cli(['list']);
  t.match(text.stdout, new RegExp(`${dir}  .*entries=chr  char major ${mount?.major}`), text.stdout.trim());
  t.equal((await d.cli(['umount', dir])).code, 0);
});
