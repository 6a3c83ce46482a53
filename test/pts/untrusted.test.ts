// Attacks by unprivileged users in a container on the daemon that serves
// them (issue "untrusted callers"). Each scenario runs in a private mount
// namespace whose /dev/pts is the mount under test, its attackers and
// victims as uids 65534 and 65533, and where the kernel has the same
// behaviour it runs on a kernel devpts instance too and must match.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { mountTestFs } from '../fuse/testfs';
import { mountDevpts, mountPts, pyJson, sleep, spawnPy, MISSING, PRELUDE, devptsUnavailable, type TestLike } from './helpers';

/** Prepended to each scenario: enter a container whose /dev/pts is argv[1]. */
const CONTAINER = String.raw`
MS_REC, MS_PRIVATE, MS_BIND = 16384, 1 << 18, 4096
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
def container(d):
    if libc.unshare(0x00020000) != 0: raise OSError(ctypes.get_errno(), 'unshare')
    if libc.mount(None, b'/', None, MS_REC | MS_PRIVATE, None) != 0: raise OSError(ctypes.get_errno(), 'private')
    if d == 'devpts':
        # A kernel instance mounted inside the container, as runtimes do: only
        # such a mount keeps kernel.pty.reserve (devpts_init_fs_context).
        opts = b'newinstance,ptmxmode=666,mode=620,gid=5'
        if libc.mount(b'devpts', b'/dev/pts', b'devpts', 0, opts) != 0: raise OSError(ctypes.get_errno(), 'devpts')
        d = '/dev/pts'
    for src, dst in ((d, '/dev/pts'), (d + '/ptmx', '/dev/ptmx')):
        if src == dst: continue
        if libc.mount(src.encode(), dst.encode(), None, MS_BIND, None) != 0: raise OSError(ctypes.get_errno(), 'bind ' + dst)
def as_child(uid, f, *a):
    """Runs f(*a) in a child as uid (its gid too); returns what it returned, through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            as_user(uid, uid)
            res = f(*a)
        except BaseException as x:
            res = {'error': repr(x)}
        os.write(w, json.dumps(res, default=_jsonable).encode()); os._exit(0)
    os.close(w)
    data = b''
    while True:
        b = os.read(r, 65536)
        if not b: break
        data += b
    os.waitpid(pid, 0)
    return json.loads(data)
container(sys.argv[1])
`;

/** Runs `script` against a fresh ptsfs mount and a kernel devpts instance with the same options. */
async function both(t: TestLike, options: string, script: string, args: (string | number)[] = []): Promise<{ fuse: any; kernel: any }> {
  const p = await mountPts(t, options);
  const fuse = await pyJson(t, CONTAINER + script, [p.dir, ...args], { timeoutMs: 30_000 });
  const k = await mountDevpts(t, options);
  if (!k) t.comment(`no kernel devpts to compare with: ${devptsUnavailable}`);
  const kernel = k ? await pyJson(t, CONTAINER + script, [k.dir, ...args], { timeoutMs: 30_000 }) : undefined;
  return { fuse, kernel };
}

// 1. A legacy ioctl whose pointer is an untouched MAP_PRIVATE mapping of a
// ptsfs entry: the copy of it faults, the fault is a READ of that entry.
// It must fail (EFAULT) at once, and every other pty go on being served.
const FREEZE = String.raw`
import mmap
def attack():
    m, s, n = openpair('/dev/pts')
    r = {}
    os.write(m, b'x' * 8192)  # a write grows the kernel's i_size of ptmx, so the mapping has pages
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    addr = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_PRIVATE, m, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        return {'mmap': ename(ctypes.get_errno())}
    t0 = time.time()
    r['mmap'] = 'ok'
    r['swinsz'] = raw_ioctl(s, TIOCSWINSZ, addr)
    r['gwinsz'] = raw_ioctl(s, TIOCGWINSZ, addr)
    r['fast'] = time.time() - t0 < 5
    return r
def bystander():
    m, s, n = openpair('/dev/pts', raw=True)
    os.write(m, b'still served')
    got = read_exact(s, 12, timeout=5)
    ws = struct.pack('HHHH', 24, 80, 0, 0)
    fcntl.ioctl(s, TIOCSWINSZ, ws)
    return {'relay': got.decode(), 'winsz': struct.unpack('HHHH', fcntl.ioctl(m, TIOCGWINSZ, b'\0' * 8))[:2]}
out({'attack': as_child(65534, attack), 'bystander': as_child(65533, bystander)})
`;

t.test('1. a pointer into a mapping of a ptsfs entry: EFAULT at once, the daemon serves on', { skip: MISSING }, async (t) => {
  const r = await both(t, 'ptmxmode=666,mode=666', FREEZE);
  t.same(r.fuse.attack, { mmap: 'ok', swinsz: 'EFAULT', gwinsz: 'EFAULT', fast: true }, 'the fault fails the copy, at once');
  t.same(r.fuse.bystander, { relay: 'still served', winsz: [24, 80] }, 'another user\'s pty works meanwhile');
  if (r.kernel) {
    t.equal(r.kernel.attack.mmap, 'ENODEV', 'a kernel tty cannot be mapped at all (tty_fops has no mmap)');
    t.same(r.kernel.bystander, r.fuse.bystander, 'the bystander sees what it sees on a kernel devpts instance');
  }
});

// 1b. The same with a page of another FUSE server that never answers: the
// copy waits in the kernel until the helper making it is killed (after
// ACCESS_TIMEOUT_MS); meanwhile another user's ioctls are served.
const STALLED = String.raw`
import mmap, threading
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
def attack(path):
    m, s, n = openpair('/dev/pts')
    f = os.open(path, os.O_RDONLY)
    addr = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_PRIVATE, f, 0)
    r = raw_ioctl(s, TIOCSWINSZ, addr)
    return {'swinsz': r, 'at': time.time()}
def bystander():
    m, s, n = openpair('/dev/pts', raw=True)
    termios.tcgetattr(s)
    fcntl.ioctl(s, TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    os.write(m, b'ping')
    return {'relay': read_exact(s, 4, timeout=5).decode(), 'at': time.time()}
res = {}
th = threading.Thread(target=lambda: res.update(attack=as_child(65534, attack, sys.argv[2])))
th.start()
time.sleep(0.3)
res['bystander'] = as_child(65533, bystander)
th.join()
out(res)
`;

t.test('1b. a pointer into a page a FUSE server never delivers: EFAULT after the timeout, others served meanwhile', { skip: MISSING }, async (t) => {
  const tfs = await mountTestFs(t, { waitSize: 4096 });
  t.teardown(() => { tfs.fs.releaseWaiters(); });
  const p = await mountPts(t, 'ptmxmode=666,mode=666');
  const r = await pyJson(t, CONTAINER + STALLED, [p.dir, path.join(tfs.dir, 'wait')], { timeoutMs: 30_000 });
  t.equal(r.attack.swinsz, 'EFAULT', 'the copy is given up: EFAULT');
  t.equal(r.bystander.relay, 'ping', 'the bystander\'s pty works');
  t.ok(r.bystander.at < r.attack.at, 'and was served while the attacker\'s copy still waited');
});

// 2. A master writer blocked on its full pty must not hold up the master
// writes of another user in the same namespace.
const PARALLEL = String.raw`
def blocker(ready_w):
    m, n = openpt('/dev/pts')
    os.write(ready_w, b'%d\n' % n)
    os.write(m, b'y' * (1 << 20))  # nobody opens the slave: this blocks for good
    return {}
def other():
    m, s, n = openpair('/dev/pts', raw=True)
    t0 = time.time()
    r = with_alarm(5, lambda: os.write(m, b'hello'))
    return {'wrote': r, 'fast': time.time() - t0 < 3, 'read': read_exact(s, 5, timeout=5).decode()}
rd, wr = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(rd); as_user(65534, 65534)
    try: blocker(wr)
    finally: os._exit(0)
os.close(wr)
line = os.read(rd, 64)
time.sleep(0.5)  # the blocker is in its write by now
res = as_child(65533, other)
os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
out({'blocker_index': int(line), 'other': res})
`;

t.test('2. one master blocked on a full pty does not block another user\'s master writes', { skip: MISSING }, async (t) => {
  const r = await both(t, 'ptmxmode=666,mode=666', PARALLEL);
  t.same(r.fuse.other, { wrote: 5, fast: true, read: 'hello' }, 'the other write goes through at once');
  if (r.kernel) t.same(r.fuse, r.kernel, 'same as a kernel devpts instance');
});

// 3. An O_PATH fd kept on a freed entry N must not reach the next pty at N.
const STALE = String.raw`
def attacker(go_r, done_w):
    m, n = openpt('/dev/pts')
    o = os.open('/dev/pts/%d' % n, os.O_PATH)
    os.close(m)                      # N is free
    os.write(done_w, b'%d\n' % n)
    os.read(go_r, 1)                 # the victim has its pty at N now
    r = {'chmod': err(os.chmod, '/proc/self/fd/%d' % o, 0o666)}
    r['chown'] = err(os.chown, '/proc/self/fd/%d' % o, 65534, 65534)
    r['open_victim'] = err(lambda: (os.open('/dev/pts/%d' % n, os.O_RDWR | os.O_NOCTTY), 'opened')[1])
    return r
def victim(n):
    # No lookup of the entry before the attack: the kernel then still holds
    # the attacker's inode as valid (a LOOKUP with a new generation would
    # mark it bad), and only ptsfs can tell which pty the request meant.
    m, got = openpt('/dev/pts')
    return {'index_reused': got == n}
a_r, a_w = os.pipe(); b_r, b_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(a_r); os.close(b_w); as_user(65534, 65534)
    res = attacker(b_r, a_w)
    os.write(a_w, json.dumps(res).encode()); os._exit(0)
os.close(a_w); os.close(b_r)
n = int(os.read(a_r, 16).split(b'\n')[0])
vr, vw = os.pipe()
vpid = os.fork()
if vpid == 0:
    # the victim holds its pty open while the attacker tries
    as_user(65533, 65533)
    v = victim(n)
    os.write(vw, json.dumps(v).encode()); time.sleep(5); os._exit(0)
os.close(vw)
v = json.loads(os.read(vr, 4096))
os.write(b_w, b'g')
data = b''
while True:
    b = os.read(a_r, 4096)
    if not b: break
    data += b
os.waitpid(pid, 0)
st = os.stat('/dev/pts/%d' % n)
os.kill(vpid, signal.SIGKILL); os.waitpid(vpid, 0)
out({'victim': v, 'attacker': json.loads(data), 'after': {'mode': oct(st.st_mode & 0o777), 'uid': st.st_uid}})
`;

t.test('3. a stale inode (O_PATH on a freed entry) cannot reach the pty that reuses its index', { skip: MISSING }, async (t) => {
  const r = await both(t, 'ptmxmode=666,mode=620,gid=5', STALE);
  const f = r.fuse;
  t.same(f.victim, { index_reused: true }, 'the victim took index N');
  t.equal(f.attacker.open_victim, 'EACCES', 'the attacker cannot open the victim\'s pty');
  t.same(f.after, { mode: '0o620', uid: 65533 }, 'the victim\'s entry kept its mode and owner');
  t.same([f.attacker.chmod, f.attacker.chown], ['ENOENT', 'ENOENT'], 'the stale inode is gone (ENOENT)');
  if (r.kernel) {
    // The kernel changes the dead inode itself, harmlessly; the rest must match.
    t.same({ victim: r.kernel.victim, open: r.kernel.attacker.open_victim, after: r.kernel.after },
      { victim: f.victim, open: f.attacker.open_victim, after: f.after }, 'same as a kernel devpts instance');
  }
});

// 6. Containers may not take the ptys the host keeps (kernel.pty.reserve).
const BUDGET = String.raw`
def take():
    fds = []
    while len(fds) < 64:
        try:
            fds.append(os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY))
        except OSError as e:
            return {'opened': len(fds), 'then': ename(e.errno)}
    return {'opened': len(fds), 'then': None}
out(as_child(65534, take))
`;

const PTY_SYSCTL = '/proc/sys/kernel/pty';

t.test('6. a container cannot take the host\'s reserved ptys', { skip: MISSING }, async (t) => {
  const read = (n: string): number => Number(fs.readFileSync(`${PTY_SYSCTL}/${n}`, 'latin1'));
  const max = read('max');
  t.teardown(() => fs.writeFileSync(`${PTY_SYSCTL}/max`, String(max)));
  const p = await mountPts(t, 'ptmxmode=666');
  const limit = (): void => fs.writeFileSync(`${PTY_SYSCTL}/max`, String(read('nr') + read('reserve') + 3));
  limit();
  const fuse = await pyJson(t, CONTAINER + BUDGET, [p.dir]);
  // devpts_new_index() refuses the pty that would make max - reserve.
  t.same(fuse, { opened: 2, then: 'ENOSPC' }, 'two ptys, then ENOSPC: the reserve stays the host\'s');
  limit();
  const kernel = await pyJson(t, CONTAINER + BUDGET, ['devpts']);
  t.same(fuse, kernel, 'same as a kernel devpts instance mounted in the container');
});

// 4. A session leader takes a pty as ctty and exits; its pid goes to an
// unrelated process (forced here with ns_last_pid in a pid namespace). The
// resize and the hangup that follow must not reach that process.
const REUSE = String.raw`
def leader(w):
    os.setsid()
    s = os.open('/dev/pts/%d' % n, os.O_RDWR | os.O_NOCTTY)
    fcntl.ioctl(s, 0x540E, 0)  # TIOCSCTTY
    os.write(w, b'%d\n' % os.getpid())
    os._exit(0)
m, n = openpt('/dev/pts')
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r); as_user(65534, 65534); leader(w)
os.close(w)
lpid = int(os.read(r, 32)); os.waitpid(pid, 0)
with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
    f.write(str(lpid - 1))
vr, vw = os.pipe()
victim = os.fork()
if victim == 0:
    os.close(vr); as_user(65533, 65533)
    os.setsid()
    sigs = [signal.SIGWINCH, signal.SIGHUP, signal.SIGCONT, signal.SIGINT]
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs + [signal.SIGUSR1])
    os.write(vw, b'%d\n' % os.getpid())
    got = []
    while True:
        i = signal.sigwaitinfo(sigs + [signal.SIGUSR1])
        if i.si_signo == signal.SIGUSR1: break
        got.append(signal.Signals(i.si_signo).name)
    os.write(vw, json.dumps(got).encode()); os._exit(0)
os.close(vw)
vpid = int(os.read(vr, 32))
fcntl.ioctl(m, TIOCSWINSZ, struct.pack('HHHH', 7, 9, 0, 0))
os.write(m, b'\x03')
os.close(m)
time.sleep(0.5)
os.kill(victim, signal.SIGUSR1)
got = json.loads(os.read(vr, 4096)); os.waitpid(victim, 0)
out({'pid_reused': vpid == lpid, 'victim_got': got})
`;

t.test('4. a dead session leader\'s pid, reused, receives nothing from its old pty', { skip: MISSING }, async (t) => {
  // In a pid namespace of its own, where ns_last_pid is the scenario's to set.
  const inPidns = (d: string): Promise<any> => pyJson(t, `
import subprocess
p = subprocess.run(['unshare', '-p', '-f', '--mount-proc', sys.executable, '-c', sys.argv[2], sys.argv[1]], capture_output=True, text=True, timeout=25)
out(json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {'rc': p.returncode, 'err': p.stderr[-400:]})
`, [d, PRELUDE + CONTAINER + REUSE], { timeoutMs: 30_000 });
  const p = await mountPts(t, 'ptmxmode=666,mode=666');
  const fuse = await inPidns(p.dir);
  t.same(fuse, { pid_reused: true, victim_got: [] }, 'the pid was reused, and its new owner got no signal');
  const k = await mountDevpts(t, 'ptmxmode=666,mode=666');
  if (k) t.same(await inPidns(k.dir), fuse, 'same as a kernel devpts instance');
});

// 5. TIOCSPGRP from a caller in a pid namespace: the daemon translates the
// group through nsfs and reads /proc of nobody but the caller, instead of
// scanning every host process on the event loop. Watched with strace on
// the serving process (this one) while a loop of the calls runs.
const SPGRP_LOOP = String.raw`
os.setsid()
m, n = openpt('/dev/pts')
s = os.open('/dev/pts/%d' % n, os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(s, 0x540E, 0)  # TIOCSCTTY
pg = array.array('i', [os.getpgrp()])
print('ready', flush=True)
sys.stdin.readline()
for i in range(200):
    fcntl.ioctl(s, 0x5410, pg, True)
    err(fcntl.ioctl, s, 0x5410, array.array('i', [99999]), True)
out({'done': 200})
`;

t.test('5. TIOCSPGRP in a pid namespace reads /proc of no other process', { skip: MISSING }, async (t) => {
  const p = await mountPts(t, 'ptmxmode=666,mode=666');
  const log = path.join(await fs.promises.mkdtemp(path.join(os.tmpdir(), 'ptsfs-strace-')), 'trace');
  t.teardown(() => fs.promises.rm(path.dirname(log), { recursive: true, force: true }));
  const caller = spawnPy(t, `
import subprocess
p = subprocess.Popen(['unshare', '-p', '-f', '--mount-proc', sys.executable, '-c', sys.argv[2], sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(p.stdout.readline().strip(), flush=True)
sys.stdin.readline(); p.stdin.write('go\\n'); p.stdin.flush()
print(p.stdout.read().strip().splitlines()[-1], flush=True)
p.wait()
`, [p.dir, PRELUDE + CONTAINER.replace('container(sys.argv[1])', '') + `as_user(65534, 65534)\n` + SPGRP_LOOP.replace("'/dev/pts'", 'sys.argv[1]').replace("'/dev/pts/%d' % n", "os.path.join(sys.argv[1], str(n))")], { timeoutMs: 60_000, holdStdin: true });
  t.equal(await caller.line(1), 'ready');
  const strace = spawn('strace', ['-f', '-qq', '-e', 'trace=openat,open', '-o', log, '-p', String(process.pid)], { stdio: 'ignore' });
  t.teardown(() => { strace.kill('SIGKILL'); });
  await sleep(1000); // strace attached
  caller.send('go\n', false);
  t.same(await caller.line(2, 30_000), { done: 200 }, 'the loop ran');
  strace.kill('SIGINT');
  await new Promise((resolve) => strace.once('close', resolve));
  const trace = await fs.promises.readFile(log, 'utf8');
  const pids = new Set([...trace.matchAll(/"\/proc\/(\d+)\//g)].map((m) => m[1]));
  t.ok(pids.size <= 2, `the daemon opened /proc files of ${pids.size} process(es) (the caller only), not of every host process`);
});
