// Untrusted callers against a dying daemon: `bin/ptsfs mount --foreground`
// as a child process, callers blocked inside it (a slave read, a master write
// against a full pty, a poll, a multi-threaded reader), then the daemon is
// SIGKILLed or SIGTERMed. No caller may be left in D state, every one must
// get an error or a hangup and exit, and the mount must go away (SIGKILL:
// `ptsfs umount` cleans the dead mount; SIGTERM: the daemon unmounts itself
// and exits 0). Each scenario runs with the callers outside and inside a pid
// namespace (unshare -m -p -f --kill-child --mount-proc, the mount bound
// over /dev/pts).
//
// The daemon is another process: this one may read /proc and mountinfo
// freely, but never touches the mount itself.
import t, { type Test } from 'tap';
import * as fs from 'fs';
import { PYTHON, procState, sleep } from '../pts/helpers';
import {
  describe, Proc, ptsfs, startInContainer, tempDir, type Ran, type TestLike, userEnv,
} from '../pts/programs-helpers';
import { forceUnmount, needs, ptsfsArgv, ptsfsRun, why } from './helpers';

if (why) t.comment(`skipping: ${why}`);

/** Mountpoints in /proc/self/mountinfo (field 5), unescaped. */
async function mountinfoPoints(): Promise<string[]> {
  const text = await fs.promises.readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => m !== undefined)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

async function inMountinfo(dir: string): Promise<boolean> {
  return (await mountinfoPoints()).includes(dir);
}

/** `ptsfs mount -o ptmxmode=666 --foreground DIR`, serving; killed and unmounted at teardown. */
async function serve(t: TestLike): Promise<{ dir: string; server: Proc }> {
  const dir = await tempDir(t, 'ptsfs-faults-');
  t.teardown(() => forceUnmount(dir));
  const server = new Proc(t, ...ptsfsArgv(['mount', '-o', 'ptmxmode=666', '--foreground', dir]), { timeoutMs: 60_000, env: userEnv() });
  await server.waitFor(`ptsfs: serving ${dir}: `, 'stderr');
  return { dir, server };
}

// argv: the mount directory, the role. Prints "ready ..." once about to
// block, then one line per blocked call: "<name> eof", "<name> error
// <ERRNO>", "<name> events <mask>" or "<name> data <n>".
const CALLER = String.raw`
import os, sys, errno, select, threading, fcntl, struct, tty
d, role = sys.argv[1], sys.argv[2]
def openpair():
    m = os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY)
    n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]
    fcntl.ioctl(m, 0x40045431, struct.pack('i', 0))
    s = os.open('%s/%d' % (d, n), os.O_RDWR | os.O_NOCTTY)
    tty.setraw(s)
    return m, s
lock = threading.Lock()
def say(line):
    with lock:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()
def attempt(name, f):
    try:
        r = f()
        if isinstance(r, bytes):
            say('%s %s' % (name, 'eof' if r == b'' else 'data %d' % len(r)))
        else:
            say('%s %s' % (name, r))
    except OSError as e:
        say('%s error %s' % (name, errno.errorcode.get(e.errno, str(e.errno))))
keep = []
if role == 'reader':
    m, s = openpair()
    keep.append(m)
    say('ready')
    attempt('read', lambda: os.read(s, 100))
elif role == 'writer':
    m, s = openpair()
    keep.append(s)
    os.set_blocking(m, False)
    total = 0
    while total < (64 << 20):
        try:
            total += os.write(m, b'x' * 4096)
        except BlockingIOError:
            break
    os.set_blocking(m, True)
    say('ready %d' % total)
    attempt('write', lambda: os.write(m, b'y' * 4096))
elif role == 'poller':
    m, s = openpair()
    keep.append(m)
    p = select.poll()
    p.register(s, select.POLLIN)
    say('ready')
    attempt('poll', lambda: 'events %d' % sum(ev for _, ev in p.poll()))
    # After the poll, not blocked in the daemon when it went: any error.
    attempt('then-read', lambda: os.read(s, 100))
elif role == 'threads':
    pairs = [openpair() for _ in range(4)]
    ts = [threading.Thread(target=attempt, args=('read%d' % i, (lambda s=s: os.read(s, 100)))) for i, (m, s) in enumerate(pairs[:3])]
    ts.append(threading.Thread(target=attempt, args=('mread', lambda: os.read(pairs[3][0], 100))))
    for th in ts:
        th.start()
    say('ready')
    for th in ts:
        th.join()
`;

const ROLES = ['reader', 'writer', 'poller', 'threads'] as const;
type Role = (typeof ROLES)[number];

interface Caller {
  readonly role: Role;
  readonly proc: Proc;
  /** The python's pid here (in a pid namespace: not what it sees itself). */
  readonly pid: number;
}

async function tids(pid: number): Promise<number[]> {
  try {
    return (await fs.promises.readdir(`/proc/${pid}/task`)).map(Number);
  } catch {
    return [];
  }
}

async function wchan(pid: number, tid: number): Promise<string> {
  try {
    return await fs.promises.readFile(`/proc/${pid}/task/${tid}/wchan`, 'utf8');
  } catch {
    return '?';
  }
}

/** State letters of every thread of pid, e.g. "S(request_wait_answer) S(...)". */
async function threadStates(pid: number): Promise<{ tid: number; state: string | undefined; wchan: string }[]> {
  const out = [];
  for (const tid of await tids(pid)) {
    out.push({ tid, state: await procState(tid), wchan: await wchan(pid, tid) });
  }
  return out;
}

/** The only child of pid (unshare -f's forked child), once it is there. */
async function childOf(pid: number, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const kids = (await fs.promises.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
      if (kids) return Number(kids.split(' ')[0]);
    } catch {
      // not yet, or gone
    }
    await sleep(20);
  }
  throw new Error(`no child of ${pid}`);
}

/** Starts the callers, each once it is about to block; returns when all are asleep in their calls. */
async function startCallers(t: Test, dir: string, pidns: boolean): Promise<Caller[]> {
  const callers: Caller[] = [];
  for (const role of ROLES) {
    let proc: Proc;
    let pid: number;
    if (pidns) {
      proc = startInContainer(t, ptsfs(dir), [PYTHON, '-c', CALLER, '/dev/pts', role], { pidns: true, timeoutMs: 60_000 });
      pid = await childOf(proc.pid);
    } else {
      proc = new Proc(t, PYTHON, ['-c', CALLER, dir, role], { timeoutMs: 60_000 });
      pid = proc.pid;
    }
    await proc.waitFor(/^ready/m);
    callers.push({ role, proc, pid });
  }
  // Every thread asleep (S), the blocked ones inside a FUSE request.
  const deadline = Date.now() + 5000;
  for (const c of callers) {
    for (;;) {
      const states = await threadStates(c.pid);
      const blocked = states.filter((s) => /fuse|request_wait/.test(s.wchan)).length;
      const want = c.role === 'threads' ? 4 : c.role === 'poller' ? 0 : 1;
      const asleep = states.length > 0 && states.every((s) => s.state === 'S');
      if ((asleep && blocked >= want) || Date.now() > deadline) {
        t.ok(asleep && blocked >= want, `${c.role}: blocked (${JSON.stringify(states)}) ${c.proc.stdout.trim()}`);
        break;
      }
      await sleep(20);
    }
  }
  return callers;
}

/**
 * Watches every thread of every caller until they are all gone (or ms
 * passed); returns the callers still present with a thread in D at the end,
 * and how long the longest D stretch lasted.
 */
async function watchNoD(callers: readonly Caller[], ms = 5000): Promise<{ stuck: string[]; longestD: number; exited: boolean }> {
  const deadline = Date.now() + ms;
  const dSince = new Map<number, number>();
  let longestD = 0;
  for (;;) {
    let alive = 0;
    const stuck: string[] = [];
    for (const c of callers) {
      const states = await threadStates(c.pid);
      // A zombie's task list stays until it is reaped; Z is gone.
      if (states.some((s) => s.state !== undefined && s.state !== 'Z')) alive++;
      for (const s of states) {
        if (s.state === 'D') {
          const since = dSince.get(s.tid) ?? Date.now();
          dSince.set(s.tid, since);
          longestD = Math.max(longestD, Date.now() - since);
          stuck.push(`${c.role} tid ${s.tid} D in ${s.wchan}`);
        } else {
          dSince.delete(s.tid);
        }
      }
    }
    if (alive === 0) return { stuck: [], longestD, exited: true };
    if (Date.now() > deadline) return { stuck, longestD, exited: false };
    await sleep(25);
  }
}

/** Each caller's result lines, after "ready". */
function results(r: Ran): string[] {
  return r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('ready'));
}

// A blocked write that had put part of its bytes in when the pty hung up
// returns that count, as n_tty_write() does; with none in, EIO.
const ERROR = /^(\S+ (error (ENOTCONN|EIO|ECONNABORTED)|eof|events \d+)|write \d+)$/;
/** A slave read on a hung-up tty: EOF, or EIO (n_tty_read after tty_hung_up_p). */
const HANGUP = /^read\d? (eof|error EIO)$/;

/**
 * No caller stays in D; each exits 0 by itself, every blocked call of it
 * returned an error (or hangup), the threads caller all four; `more` adds
 * what the case expects on top.
 */
async function callersEnded(t: Test, callers: readonly Caller[], more: (c: Caller, lines: string[]) => void): Promise<void> {
  const w = await watchNoD(callers);
  t.same(w.stuck, [], `no caller left in D (longest D stretch ${w.longestD} ms)`);
  t.ok(w.exited, 'every caller exited within 5 s');
  for (const c of callers) {
    const r = await c.proc.exit(5000);
    t.equal(r.code, 0, `${c.role} exits by itself (${describe(r)})`);
    const lines = results(r);
    t.ok(lines.length > 0, `${c.role}: its blocked calls returned: ${JSON.stringify(lines)}`);
    for (const l of lines) t.match(l, ERROR, `${c.role}: ${l}`);
    more(c, lines);
    if (c.role === 'threads') t.equal(lines.length, 4, 'every thread returned');
  }
}


for (const pidns of [false, true]) {
  const where = pidns ? 'inside a pid namespace' : 'outside any pid namespace';

  t.test(`SIGKILL of the daemon, callers blocked in it ${where}: none stays in D, all fail and exit; ptsfs umount cleans the dead mount`, needs, async (t) => {
    const { dir, server } = await serve(t);
    const callers = await startCallers(t, dir, pidns);
    t.ok(server.signal('SIGKILL'));
    const gone = await server.exit(5000);
    t.equal(gone.signal, 'SIGKILL', 'the daemon died of SIGKILL');

    await callersEnded(t, callers, (c, lines) => {
      if (c.role === 'poller') t.match(lines[0], /^poll events [1-9]/, 'poll woke with some event');
    });
    t.ok(await inMountinfo(dir), 'the dead mount is still there until unmounted');
    const u = await ptsfsRun(t, ['umount', dir]);
    t.equal(u.code, 0, `ptsfs umount of the dead mount exits 0 (${describe(u)})`);
    t.notOk(await inMountinfo(dir), 'gone from /proc/self/mountinfo');
  });

  t.test(`SIGTERM of the daemon, callers blocked in it ${where}: it unmounts, readers see hangup, exit 0`, needs, async (t) => {
    const { dir, server } = await serve(t);
    const callers = await startCallers(t, dir, pidns);
    t.ok(server.signal('SIGTERM'));
    const done = await server.exit(10_000);
    t.equal(done.signal, null, 'not killed by the signal');
    t.equal(done.code, 0, `the daemon exits 0 (${describe(done)})`);
    t.notOk(await inMountinfo(dir), 'not in /proc/self/mountinfo any more');

    await callersEnded(t, callers, (c, lines) => {
      for (const l of lines) {
        if (/^read\d? /.test(l)) t.match(l, HANGUP, `${c.role}: a blocked slave read sees hangup: ${l}`);
      }
    });
  });
}

// Every master is an open of the one ptmx inode, and the kernel's FUSE write
// path (fuse_direct_write_iter -> fuse_dio_lock) locks that inode
// exclusively unless the open is FOPEN_PARALLEL_DIRECT_WRITES and the write
// stays inside i_size: a master write that blocks on a full pty would
// otherwise hold every other master write of the mount in D (down_write:
// not even SIGKILL ends it).
t.test('a master write blocked on a full pty leaves master writes on other ptys alone (no D state)', needs, async (t) => {
  const { dir, server } = await serve(t);
  const proc = new Proc(t, PYTHON, ['-c', String.raw`
import os, sys, errno, fcntl, struct, threading, time, tty
d = sys.argv[1]
def openpair():
    m = os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY)
    n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]
    fcntl.ioctl(m, 0x40045431, struct.pack('i', 0))
    s = os.open('%s/%d' % (d, n), os.O_RDWR | os.O_NOCTTY)
    tty.setraw(s)
    return m, s
m1, s1 = openpair()
m2, s2 = openpair()
os.set_blocking(m1, False)
while True:
    try:
        os.write(m1, b'x' * 4096)
    except BlockingIOError:
        break
os.set_blocking(m1, True)
def blocked():
    try:
        os.write(m1, b'y')
    except OSError:
        pass
threading.Thread(target=blocked, daemon=True).start()
time.sleep(0.5)
print('ready %d' % threading.get_native_id(), flush=True)
os.set_blocking(m2, False)
try:
    print('second wrote %d' % os.write(m2, b'z'), flush=True)
except OSError as e:
    print('second error ' + errno.errorcode[e.errno], flush=True)
`, dir], { timeoutMs: 30_000 });
  await proc.waitFor(/^ready \d+\n/m);
  const tid = Number(/^ready (\d+)/m.exec(proc.stdout)![1]);
  let returned = false;
  const deadline = Date.now() + 3000;
  let state: string | undefined;
  while (Date.now() < deadline) {
    if (/^second /m.test(proc.stdout)) {
      returned = true;
      break;
    }
    state = await procState(tid);
    await sleep(50);
  }
  // Todo assertions: they run and report, but do not fail the suite until src/pts is fixed.
  t.ok(returned, `the second pty's non-blocking master write returned (its thread was ${state ?? 'gone'})`);
  t.not(state, 'D', 'and it was never stuck in D');
  // Let go: SIGTERM hangs up the first pty, whose write then fails and drops the lock.
  server.signal('SIGTERM');
  t.equal((await server.exit(10_000)).code, 0);
  t.equal((await proc.exit(5000)).code, 0, 'the caller exits once the daemon is gone');
});
