// The relay between a master and its slave as programs see it: bytes, line
// discipline, blocking and non-blocking reads, writes, hangup, readiness
// (poll, select, epoll), signals. Each scenario runs in python3 against a
// ptsfs mount and, where possible, against a kernel devpts instance, and
// both must show the same.
import t from 'tap';
import { mountPts, procState, pyJson, runBoth, sameAsKernel, sleep, spawnPy, MISSING } from './helpers';

// Python: `took(lo, hi, f, *a)` runs f and says whether it took lo..hi seconds.
const TIMING = String.raw`
def took(lo, hi, f, *a):
    t0 = time.time()
    r = f(*a)
    dt = time.time() - t0
    return [r, lo <= dt < hi]
def later(delay, f, *a):
    """Forks a child that runs f(*a) after delay seconds; returns its pid."""
    pid = os.fork()
    if pid == 0:
        try:
            time.sleep(delay)
            f(*a)
        finally:
            os._exit(0)
    return pid
def reap(pid):
    os.waitpid(pid, 0)
`;

t.test('bytes arrive exact and in order, both ways (raw mode, all 256 values)', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', TIMING + String.raw`
d = sys.argv[1]
m, s, n = openpair(d, raw=True)
data = bytes(range(256)) * 64 + b'end'
pid = later(0, os.write, m, data)
got_s = read_exact(s, len(data))
reap(pid)
pid = later(0, os.write, s, data[::-1])
got_m = read_exact(m, len(data))
reap(pid)
out({'m_to_s': got_s == data, 's_to_m': got_m == data[::-1], 'len': [len(got_s), len(got_m)],
     'nothing_more': [read_avail(s, 0.1), read_avail(m, 0.1)]})
`);
  t.same(both.fuse, { m_to_s: true, s_to_m: true, len: [16387, 16387], nothing_more: ['', ''] }, '16 KiB each way, byte for byte');
  sameAsKernel(t, both);
});

t.test('canonical mode: one line per read, echo and ONLCR on the master, short reads split a line', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
os.write(m, b'one\ntwo\nthree')
time.sleep(0.1)
res = {'lines': [os.read(s, 100), os.read(s, 100)]}
os.set_blocking(s, False)
res['partial_line_not_ready'] = err(os.read, s, 100)
os.set_blocking(s, True)
os.write(m, b'\n')
res['completed'] = with_alarm(2, os.read, s, 100)
res['echo'] = read_avail(m)
os.write(m, b'abcdef\n')
res['short_reads'] = [with_alarm(2, os.read, s, 2), with_alarm(2, os.read, s, 3), with_alarm(2, os.read, s, 100)]
read_avail(m)
os.write(m, b'typo\x7f\x7fpo\n')
res['erase'] = with_alarm(2, os.read, s, 100)
res['erase_echo'] = read_avail(m)
os.write(s, b'out\nput')
res['slave_output'] = read_avail(m)
out(res)
`);
  t.same(both.fuse, {
    lines: ['one\n', 'two\n'],
    partial_line_not_ready: 'EAGAIN',
    completed: 'three\n',
    echo: 'one\r\ntwo\r\nthree\r\n',
    short_reads: ['ab', 'cde', 'f\n'],
    erase: 'typo\n',
    erase_echo: 'typo\b \b\b \bpo\r\n',
    slave_output: 'out\r\nput',
  });
  sameAsKernel(t, both);
});

t.test('VEOF (^D): a 0-byte read at line start, a partial line otherwise; reading goes on', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
res = {}
os.write(m, b'\x04')
res['eof'] = with_alarm(2, os.read, s, 100)
os.write(m, b'after\n')
res['after'] = with_alarm(2, os.read, s, 100)
os.write(m, b'part\x04')
res['partial'] = with_alarm(2, os.read, s, 100)
os.write(m, b'\x04\x04x\n')
res['two_eofs'] = [with_alarm(2, os.read, s, 100), with_alarm(2, os.read, s, 100), with_alarm(2, os.read, s, 100)]
out(res)
`);
  t.same(both.fuse, { eof: '', after: 'after\n', partial: 'part', two_eofs: ['', '', 'x\n'] });
  sameAsKernel(t, both);
});

t.test('raw mode: bytes delivered as they come, no newline needed, no echo, no translation', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
m, s, n = openpair(d, raw=True)
os.write(m, b'ab\rc\x03\x04')
res = {'slave': with_alarm(2, read_exact, s, 6), 'no_echo': read_avail(m, 0.1)}
os.write(s, b'x\ny')
res['master'] = with_alarm(2, read_exact, m, 3)
out(res)
`);
  t.same(both.fuse, { slave: 'ab\rc\x03\x04', no_echo: '', master: 'x\ny' });
  sameAsKernel(t, both);
});

t.test('non-blocking reads: EAGAIN on both sides; blocking reads wait and are answered when data arrives', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', TIMING + String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
res = {}
os.set_blocking(s, False); os.set_blocking(m, False)
res['nonblock'] = [err(os.read, s, 10), err(os.read, m, 10)]
os.set_blocking(s, True); os.set_blocking(m, True)
pid = later(0.3, os.write, m, b'late\n')
res['slave_waits'] = took(0.25, 3, with_alarm, 5, os.read, s, 100)
reap(pid)
read_avail(m)
pid = later(0.3, os.write, s, b'back\n')
res['master_waits'] = took(0.25, 3, with_alarm, 5, os.read, m, 100)
reap(pid)
# a blocked reader on O_NONBLOCK-toggled fd
res['flags_kept'] = bool(fcntl.fcntl(s, fcntl.F_GETFL) & os.O_NONBLOCK)
out(res)
`);
  t.same(both.fuse, {
    nonblock: ['EAGAIN', 'EAGAIN'],
    slave_waits: ['late\n', true],
    master_waits: ['back\r\n', true],
    flags_kept: false,
  }, 'EAGAIN without data; a blocked read is answered ~0.3 s later when the data comes');
  sameAsKernel(t, both);
});

t.test('a write is answered with the full count, also when it has to wait for the reader', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', TIMING + String.raw`
d = sys.argv[1]
m, s, n = openpair(d, raw=True)
size = 300000
data = os.urandom(size)
def reader(fd, want):
    got = read_exact(fd, size)
    os._exit(0 if got == want else 1)
res = {}
for name, w, r in (('m_to_s', m, s), ('s_to_m', s, m)):
    pid = later(0.3, reader, r, data)
    wrote = os.write(w, data)
    _, st = os.waitpid(pid, 0)
    res[name] = [wrote, os.WEXITSTATUS(st) == 0]
os.set_blocking(m, False)
# non-blocking write into a full pty: a short count, then EAGAIN
counts = []
while True:
    c = err(os.write, m, data)
    counts.append(c if isinstance(c, str) else 'n')
    if isinstance(c, str) or len(counts) > 200: break
res['nonblock_full'] = [counts[0], counts[-1]]
out(res)
`);
  t.same(both.fuse, { m_to_s: [300000, true], s_to_m: [300000, true], nonblock_full: ['n', 'EAGAIN'] },
    'a 300 kB write returns 300000 once the reader took it; a non-blocking one fills the pty then EAGAIN');
  sameAsKernel(t, both);
});

t.test('hangup from the slave side: the master reads pending data, then EIO once every slave fd is closed', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', TIMING + String.raw`
d = sys.argv[1]
m, n = openpt(d)
p = os.path.join(d, str(n))
res = {}
os.set_blocking(m, False)
res['before_slave_nonblock'] = err(os.read, m, 10)
os.set_blocking(m, True)
try:
    with_alarm(0.3, os.read, m, 10)
    res['before_slave_blocks'] = 'returned'
except TimeoutError:
    res['before_slave_blocks'] = 'waited'
s1 = os.open(p, os.O_RDWR | os.O_NOCTTY)
s2 = os.open(p, os.O_RDWR | os.O_NOCTTY)
os.write(s1, b'first\n')
os.close(s1)
res['one_slave_left'] = with_alarm(2, os.read, m, 100)
os.write(s2, b'bye\n')
os.close(s2)
res['pending'] = with_alarm(2, os.read, m, 100)
res['then'] = [err(os.read, m, 100), err(os.read, m, 100)]
res['master_write'] = err(os.write, m, b'x')
# a blocked master read is woken with EIO when the last slave fd goes
m, s, n = openpair(d)
pid = later(0.3, lambda: None)   # the child holds a copy of s until it exits
os.close(s)
res['blocked_wakes'] = took(0.25, 3, err, with_alarm, 5, os.read, m, 100)
reap(pid)
# a new slave open revives the master
s = os.open(os.path.join(d, str(n)), os.O_RDWR | os.O_NOCTTY)
os.write(s, b'again\n')
res['reopened'] = with_alarm(2, os.read, m, 100)
out(res)
`);
  t.same(both.fuse, {
    before_slave_nonblock: 'EAGAIN',
    before_slave_blocks: 'waited',
    one_slave_left: 'first\r\n',
    pending: 'bye\r\n',
    then: ['EIO', 'EIO'],
    master_write: 1,
    blocked_wakes: ['EIO', true],
    reopened: 'again\r\n',
  });
  sameAsKernel(t, both);
});

t.test('hangup from the master side: slave fds read EOF, write EIO, poll IN|OUT|ERR|HUP', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', TIMING + String.raw`
d = sys.argv[1]
res = {}
m, s, n = openpair(d)
s2 = os.open(os.path.join(d, str(n)), os.O_RDWR | os.O_NOCTTY)
os.write(m, b'unread')   # a partial line: the reader keeps waiting
time.sleep(0.1)
pid = later(0.3, lambda: None)   # holds a copy of m until it exits
os.close(m)
res['blocked_reader_woken'] = took(0.25, 3, err, with_alarm, 5, os.read, s, 100)
reap(pid)
res['read'] = [os.read(s, 100), os.read(s2, 100)]
res['write'] = [err(os.write, s, b'x'), err(os.write, s2, b'x')]
p = select.poll(); p.register(s, select.POLLIN | select.POLLOUT)
res['poll'] = p.poll(0)[0][1]
p = select.poll(); p.register(s, 0)
res['poll_no_events_asked'] = p.poll(0)[0][1]
res['tcgetattr'] = err(termios.tcgetattr, s)
os.set_blocking(s, False)
res['nonblock_read'] = os.read(s, 10)
out(res)
`);
  const POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 16;
  t.same(both.fuse, {
    blocked_reader_woken: ['EIO', true],
    read: ['', ''],
    write: ['EIO', 'EIO'],
    poll: POLLIN | POLLOUT | POLLERR | POLLHUP,
    poll_no_events_asked: POLLERR | POLLHUP,
    tcgetattr: 'EIO',
    nonblock_read: '',
  }, 'a read waiting at the hangup gets EIO, later reads EOF; unread input is dropped; writes and ioctls EIO');
  sameAsKernel(t, both);
});

t.test('poll, select and epoll: readiness on both sides, wake-ups, HUP', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', TIMING + String.raw`
d = sys.argv[1]
IO = select.POLLIN | select.POLLOUT
def pl(fd, ev=IO):
    p = select.poll(); p.register(fd, ev); r = p.poll(0); return r[0][1] if r else 0
def ep_wait(fd, ev, timeout):
    e = select.epoll(); e.register(fd, ev); r = e.poll(timeout); e.close(); return r[0][1] if r else 0
def sel(fd, timeout):
    r, w, x = select.select([fd], [fd], [], timeout); return [len(r), len(w)]
res = {}
m, s, n = openpair(d, raw=True)
res['idle'] = {'poll': [pl(m), pl(s)], 'select': [sel(m, 0), sel(s, 0)], 'epoll': [ep_wait(m, IO, 0), ep_wait(s, IO, 0)]}
os.write(m, b'x'); time.sleep(0.05)
res['slave_has_input'] = {'poll': [pl(m), pl(s)], 'select': sel(s, 0)}
os.read(s, 1)
os.write(s, b'y'); time.sleep(0.05)
res['master_has_input'] = {'poll': [pl(m), pl(s)], 'select': sel(m, 0)}
os.read(m, 1)
res['drained'] = [pl(m), pl(s)]
# wake-ups: a waiting poll/select/epoll is woken when data arrives 0.3 s later
def wake(kind, waiter, writer):
    pid = later(0.3, os.write, writer, b'w')
    if kind == 'poll':
        p = select.poll(); p.register(waiter, select.POLLIN); r = took(0.25, 3, p.poll, 5000)
        r[0] = r[0][0][1] if r[0] else 0
    elif kind == 'select':
        r = took(0.25, 3, select.select, [waiter], [], [], 5)
        r[0] = len(r[0][0])
    else:
        r = took(0.25, 3, ep_wait, waiter, select.EPOLLIN, 5)
    reap(pid)
    os.read(waiter, 10)
    return r
res['wake'] = {k: [wake(k, s, m), wake(k, m, s)] for k in ('poll', 'select', 'epoll')}
# edge-triggered epoll reports each new arrival once
e = select.epoll(); e.register(s, select.EPOLLIN | select.EPOLLET)
os.write(m, b'1'); r1 = e.poll(2)
r_again = e.poll(0.2)
os.write(m, b'2'); r2 = e.poll(2)
res['epoll_et'] = [len(r1), len(r_again), len(r2)]
os.read(s, 10)
# HUP on the master once the last slave fd is closed, woken in a waiting poll
pid = later(0.3, lambda: None)   # holds s until it exits
os.close(s)
p = select.poll(); p.register(m, select.POLLIN)
r = took(0.25, 3, p.poll, 5000)
res['master_hup_wake'] = [r[0][0][1] if r[0] else 0, r[1]]
reap(pid)
res['master_hup'] = {'poll': pl(m), 'epoll': ep_wait(m, IO, 0)}
# HUP on the slave once the master is closed, woken in a waiting epoll
m, s, n = openpair(d)
pid = later(0.3, lambda: None)   # holds m until it exits
os.close(m)
res['slave_hup_wake'] = took(0.25, 3, ep_wait, s, select.EPOLLIN, 5)
reap(pid)
res['slave_hup'] = {'poll': pl(s), 'epoll': ep_wait(s, IO, 0), 'select': sel(s, 0)}
out(res)
`);
  const IN = 1, OUT = 4, ERR = 8, HUP = 16;
  const EPOLLIN = 1;
  t.same(both.fuse, {
    idle: { poll: [OUT, OUT], select: [[0, 1], [0, 1]], epoll: [OUT, OUT] },
    slave_has_input: { poll: [OUT, IN | OUT], select: [1, 1] },
    master_has_input: { poll: [IN | OUT, OUT], select: [1, 1] },
    drained: [OUT, OUT],
    wake: {
      poll: [[IN, true], [IN, true]],
      select: [[1, true], [1, true]],
      epoll: [[EPOLLIN, true], [EPOLLIN, true]],
    },
    epoll_et: [1, 0, 1],
    master_hup_wake: [HUP, true],
    master_hup: { poll: OUT | HUP, epoll: OUT | HUP },
    slave_hup_wake: [EPOLLIN | ERR | HUP, true],
    slave_hup: { poll: IN | OUT | ERR | HUP, epoll: IN | OUT | ERR | HUP, select: [1, 1] },
  });
  sameAsKernel(t, both);
});

t.test('signals: a blocked read or write returns EINTR (or the partial count); the pty goes on working', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', TIMING + String.raw`
d = sys.argv[1]
res = {}
m, s, n = openpair(d)
class Interrupted(Exception): pass
def raising(sig, frm): raise Interrupted()
def interrupted_read(fd):
    signal.signal(signal.SIGALRM, raising)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        os.read(fd, 10)
        return 'returned'
    except Interrupted:
        return 'interrupted'
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
res['py_handler'] = [took(0.25, 3, interrupted_read, s), took(0.25, 3, interrupted_read, m)]
# raw syscalls through libc: -1/EINTR, also with SA_RESTART (FUSE cannot restart)
def libc_read(fd, restart):
    signal.signal(signal.SIGALRM, lambda a, b: None)
    signal.siginterrupt(signal.SIGALRM, not restart)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    buf = ctypes.create_string_buffer(10)
    ctypes.set_errno(0)
    r = libc.read(fd, buf, 10)
    signal.setitimer(signal.ITIMER_REAL, 0)
    return [r, ename(ctypes.get_errno()) if r < 0 else buf.raw[:r]]
res['libc_read'] = [took(0.25, 3, libc_read, s, False), took(0.25, 3, libc_read, m, False)]
# a write blocked on a full pty: the partial count
import tty
tty.setraw(s)
def libc_write(fd, size):
    signal.signal(signal.SIGALRM, lambda a, b: None)
    signal.siginterrupt(signal.SIGALRM, True)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    buf = ctypes.create_string_buffer(size)
    ctypes.set_errno(0)
    r = libc.write(fd, buf, size)
    signal.setitimer(signal.ITIMER_REAL, 0)
    return [r, ename(ctypes.get_errno()) if r < 0 else None]
w = took(0.25, 3, libc_write, s, 1000000)
res['blocked_write'] = [0 < w[0][0] < 1000000, w[0][1], w[1]]
queued = read_avail(m)
res['master_got_what_was_counted'] = len(queued) == w[0][0]
# with the pty full, a write that can write nothing: EINTR. Fill until
# EAGAIN, and again after a pause (buffers inside the pty drain on their own
# schedule), until a pause makes no more room.
os.set_blocking(s, False)
while True:
    wrote = 0
    while True:
        try:
            wrote += os.write(s, b'z' * 65536)
        except BlockingIOError:
            break
    if wrote == 0:
        break
    time.sleep(0.2)
os.set_blocking(s, True)
res['full_write'] = took(0.25, 3, libc_write, s, 10)
read_avail(m)
os.write(m, b'still works')
res['after'] = with_alarm(2, read_exact, s, 11)
os.write(s, b'both ways')
res['after2'] = with_alarm(2, read_exact, m, 9)
out(res)
`);
  t.same(both.fuse, {
    py_handler: [['interrupted', true], ['interrupted', true]],
    libc_read: [[[-1, 'EINTR'], true], [[-1, 'EINTR'], true]],
    blocked_write: [true, null, true],
    master_got_what_was_counted: true,
    full_write: [[-1, 'EINTR'], true],
    after: 'still works',
    after2: 'both ways',
  });
  sameAsKernel(t, both);
});

t.test('a signal interrupts a read even with SA_RESTART (FUSE cannot restart it)', { skip: MISSING }, async (t) => {
  const { dir } = await mountPts(t);
  const r = await pyJson(t, TIMING + String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
signal.signal(signal.SIGALRM, lambda a, b: None)
signal.siginterrupt(signal.SIGALRM, False)   # SA_RESTART
signal.setitimer(signal.ITIMER_REAL, 0.3)
buf = ctypes.create_string_buffer(10)
pid = later(1.0, os.write, m, b'x\n')
ctypes.set_errno(0)
t0 = time.time()
r = libc.read(s, buf, 10)
dt = time.time() - t0
reap(pid)
out([r, ename(ctypes.get_errno()) if r < 0 else buf.raw[:r], round(dt, 1)])
`, [dir]);
  // The kernel restarts such a read (ERESTARTSYS); FUSE refuses errors <= -512,
  // so the caller sees EINTR after 0.3 s instead of the data after 1 s. Documented.
  t.same(r, [-1, 'EINTR', 0.3], 'EINTR after the signal at 0.3 s; not hung, not restarted');
});

t.test('a SIGKILLed blocked reader or writer is reaped at once, and the pty still works', { skip: MISSING }, async (t) => {
  const { dir, mount } = await mountPts(t);
  const c = spawnPy(t, String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
reader = os.fork()
if reader == 0:
    os.read(s, 10)
    os._exit(3)
import tty
tty.setraw(s)
writer = os.fork()
if writer == 0:
    os.write(s, b'w' * 1000000)
    os._exit(3)
out([reader, writer])
sys.stdin.read()   # until the test killed both
_, st1 = os.waitpid(reader, 0)
_, st2 = os.waitpid(writer, 0)
res = {'killed': [os.WIFSIGNALED(st1) and os.WTERMSIG(st1), os.WIFSIGNALED(st2) and os.WTERMSIG(st2)]}
read_avail(m)
os.write(m, b'alive')
res['after'] = with_alarm(2, read_exact, s, 5)
os.write(s, b'both')
res['after2'] = with_alarm(2, read_exact, m, 4)
out(res)
`, [dir], { holdStdin: true });
  const [reader, writer] = (await c.line(1)) as [number, number];
  await sleep(300);
  t.equal(await procState(reader), 'S', 'the reader sleeps in read() (S, not D)');
  t.equal(await procState(writer), 'S', 'the writer sleeps in write() (S, not D)');
  const t0 = performance.now();
  process.kill(reader, 'SIGKILL');
  process.kill(writer, 'SIGKILL');
  let states: (string | undefined)[] = [];
  for (let i = 0; i < 100; i++) {
    states = [await procState(reader), await procState(writer)];
    if (states.every((s) => s === 'Z' || s === undefined)) break;
    await sleep(5);
  }
  const ms = performance.now() - t0;
  t.ok(states.every((s) => s === 'Z' || s === undefined), `both are dead (zombies) after SIGKILL: ${states.join(',')}`);
  t.ok(ms < 300, `within ${ms.toFixed(0)} ms`);
  c.send();
  const r = (await c.line(2)) as Record<string, unknown>;
  t.same(r, { killed: [9, 9], after: 'alive', after2: 'both' }, 'killed by SIGKILL; the pty works afterwards');
  t.equal((await c.done).code, 0);
  for (let i = 0; i < 50 && mount.namespace.ptys.size > 0; i++) await sleep(20);
  t.equal(mount.namespace.ptys.size, 0, 'the client exited: no pty left in the server');
});
