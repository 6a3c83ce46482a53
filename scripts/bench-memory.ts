// `npm run bench:memory`: the ptsfs daemon's memory under callers that make
// it hold data or requests. `bin/ptsfs mount --foreground` runs as a child;
// its VmRSS (/proc/PID/status) is read at rest and while:
//   - a writer floods a pty nobody reads, for a few seconds (non-blocking
//     writes, retried on EAGAIN);
//   - 1000 ptys each hold a blocked master write (bounded by kernel.pty.max:
//     every ptsfs pty is a host pty too, so the count stays under
//     max - reserve - nr, leaving a margin);
//   - a 1 GB write on a master whose slave is open but never read (the
//     writer blocks; RSS is sampled while it is blocked).
// The same callers run against a kernel devpts instance for comparison:
// there is no daemon there, so the native figures are the bytes the pty took
// before the writer blocked and the kernel's slab growth (/proc/meminfo).
// Needs root (it mounts) and python3.
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MNT_DETACH, umount2 } from '../src/sys/libc';

const BIN = path.join(__dirname, '..', '..', 'bin', 'ptsfs');
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const FLOOD_SECONDS = Number(process.env.PTSFS_BENCH_FLOOD_S ?? 3);
const HELD_WRITES = Number(process.env.PTSFS_BENCH_HELD ?? 1000);
const BIG_WRITE = Number(process.env.PTSFS_BENCH_BIG_MB ?? 1024) << 20;
/** Host ptys left free beyond kernel.pty.reserve, for everyone else. */
const PTY_MARGIN = 64;

// argv: directory, mode, argument. Prints JSON lines; {"ready": ...} once
// the load is in place, then waits for stdin to close.
const CLIENT = String.raw`
import os, sys, json, fcntl, struct, tty, time, threading, mmap, resource
d, mode, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def out(o):
    sys.stdout.write(json.dumps(o) + '\n'); sys.stdout.flush()
def openpair():
    m = os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY)
    n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]
    fcntl.ioctl(m, 0x40045431, struct.pack('i', 0))
    s = os.open('%s/%d' % (d, n), os.O_RDWR | os.O_NOCTTY)
    tty.setraw(s)
    return m, s
def fill(m, chunk=b'x' * 4096, limit=1 << 34):
    """Non-blocking writes until the pty refuses; returns the bytes taken."""
    os.set_blocking(m, False)
    total = 0
    while total < limit:
        try:
            total += os.write(m, chunk)
        except BlockingIOError:
            break
    os.set_blocking(m, True)
    return total
def blocked_write(m, data):
    try:
        os.write(m, data)
    except OSError:
        pass
if mode == 'flood':
    m, s = openpair()
    end = time.time() + arg
    total = 0
    os.set_blocking(m, False)
    chunk = b'x' * 65536
    while time.time() < end:
        try:
            total += os.write(m, chunk)
        except BlockingIOError:
            time.sleep(0.001)
    out({'ready': 'flood', 'bytes': total})
elif mode == 'hold':
    threading.stack_size(64 << 10)
    taken = 0
    held = 0
    err = None
    for i in range(arg):
        try:
            m, s = openpair()
        except OSError as e:
            err = '%s after %d' % (os.strerror(e.errno), i)
            break
        # The slave side: each slave is its own inode. (Master writes all
        # go to the one ptmx inode, which FUSE locks per write: see 'two'.)
        taken += fill(s)
        threading.Thread(target=blocked_write, args=(s, b'y' * 4096), daemon=True).start()
        held += 1
    out({'ready': 'hold', 'held': held, 'bytes': taken, 'stopped': err})
elif mode == 'two':
    # One master write blocked on a full pty; does a non-blocking master
    # write on another pty get through?
    m1, s1 = openpair()
    fill(m1)
    threading.Thread(target=blocked_write, args=(m1, b'y' * 4096), daemon=True).start()
    time.sleep(0.5)
    m2, s2 = openpair()
    done = threading.Event()
    def second():
        os.set_blocking(m2, False)
        try:
            os.write(m2, b'z')
        except OSError:
            pass
        done.set()
    threading.Thread(target=second, daemon=True).start()
    out({'ready': 'two', 'bytes': 0, 'second_returned': done.wait(arg)})
elif mode == 'big':
    m, s = openpair()
    buf = mmap.mmap(-1, arg)  # zero pages: the writer's own RSS stays small
    threading.Thread(target=blocked_write, args=(m, buf), daemon=True).start()
    out({'ready': 'big', 'bytes': -1})
sys.stdin.read()
os._exit(0)
`;

interface Ready {
  ready: string;
  second_returned?: boolean;
  bytes: number;
  held?: number;
  stopped?: string | null;
}

function rssMB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function slabMB(): number {
  const info = fs.readFileSync('/proc/meminfo', 'utf8');
  return Number(/^Slab:\s+(\d+) kB/m.exec(info)?.[1] ?? NaN) / 1024;
}

function readSys(name: string): number {
  return Number(fs.readFileSync(`/proc/sys/kernel/pty/${name}`, 'utf8').trim());
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Threads of pid asleep in a pty write (or a FUSE request). */
function blockedThreads(pid: number): number {
  let n = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const w = fs.readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8');
      // ptsfs: waiting for the daemon's answer; devpts: n_tty_write's wait for room.
      if (/request_wait_answer|fuse|wait_woken|n_tty_write|tty_write/.test(w)) n++;
    } catch {
      // gone
    }
  }
  return n;
}

const children = new Set<ChildProcess>();
const mountpoints: string[] = [];

/** Ctrl-C or a timeout(1): kill the children and detach the mounts before going. */
function onSignal(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const dir of mountpoints) {
    try {
      umount2(dir, MNT_DETACH);
    } catch {
      // not mounted
    }
  }
  process.exit(130);
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

function startChild(cmd: string, args: string[]): ChildProcess {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

function waitOutput(c: ChildProcess, stream: 'stdout' | 'stderr', test: (s: string) => boolean, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out; got ${text}`)), ms);
    c[stream]!.setEncoding('utf8').on('data', (s: string) => {
      text += s;
      if (test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    c.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code ?? sig} before ready: ${text}`));
    });
  });
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.on('exit', r));
  c.kill('SIGKILL');
  await gone;
}

interface Load {
  readonly client: ChildProcess;
  readonly ready: Ready;
}

/** Starts the python client in mode on dir and waits for its load to be in place. */
async function load(dir: string, mode: string, arg: number, ms = 120_000): Promise<Load> {
  const client = startChild(PYTHON, ['-c', CLIENT, dir, mode, String(arg)]);
  client.stderr!.setEncoding('utf8').on('data', (s: string) => process.stderr.write(`client: ${s}`));
  const text = await waitOutput(client, 'stdout', (s) => s.includes('"ready"'), ms);
  return { client, ready: JSON.parse(text.trim().split('\n').at(-1)!) as Ready };
}

/** Waits until `count` of the client's threads block in a write (or ms pass); returns how many did. */
async function untilBlocked(client: ChildProcess, count: number, ms = 20_000): Promise<number> {
  const deadline = Date.now() + ms;
  let n = 0;
  while (Date.now() < deadline) {
    n = blockedThreads(client.pid!);
    if (n >= count) return n;
    await sleep(100);
  }
  return n;
}

/** Peak and last VmRSS of pid over ms. */
async function sampleRss(pid: number, ms: number): Promise<{ peak: number; last: number }> {
  let peak = 0;
  let last = 0;
  const end = Date.now() + ms;
  do {
    last = rssMB(pid);
    peak = Math.max(peak, last);
    await sleep(100);
  } while (Date.now() < end);
  return { peak, last };
}

interface Scenario {
  readonly name: string;
  readonly mode: string;
  readonly arg: number;
  /** Threads that end up blocked in a write. */
  readonly blocked: (r: Ready) => number;
}

interface Figures {
  readonly ready: Ready;
  readonly blocked: number;
  readonly rss?: { peak: number; last: number };
  readonly slab: number;
}

/** Runs one scenario against dir; daemon: whose RSS to sample while the load is in place. */
async function measure(dir: string, s: Scenario, daemon: number | undefined): Promise<Figures> {
  process.stderr.write(`${daemon === undefined ? 'native' : 'ptsfs'}: ${s.name}\n`);
  const slab0 = slabMB();
  // The flood samples during the run; the others once everything blocked.
  const during = daemon !== undefined && s.mode === 'flood' ? sampleRss(daemon, s.arg * 1000) : undefined;
  const l = await load(dir, s.mode, s.arg);
  try {
    const blocked = await untilBlocked(l.client, s.blocked(l.ready));
    await sleep(500);
    const after = daemon !== undefined ? await sampleRss(daemon, 1000) : undefined;
    const d = await during;
    const rss = after && { peak: Math.max(after.peak, d?.peak ?? 0), last: after.last };
    return { ready: l.ready, blocked, rss, slab: slabMB() - slab0 };
  } finally {
    await stopChild(l.client);
  }
}

/** The 'two' probe: whether a second pty's master write got through, and how many threads sat in D. */
async function twoMasters(dir: string): Promise<{ returned: boolean; d: number }> {
  process.stderr.write(`${dir}: a second master write while one blocks\n`);
  const l = await load(dir, 'two', 3);
  try {
    let d = 0;
    for (const tid of fs.readdirSync(`/proc/${l.client.pid}/task`)) {
      const stat = fs.readFileSync(`/proc/${l.client.pid}/task/${tid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'D') d++;
    }
    return { returned: l.ready.second_returned === true, d };
  } finally {
    await stopChild(l.client);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark mounts filesystems: run it as root');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-benchmem-'));
  const nativeDir = path.join(base, 'devpts');
  const ptsfsDir = path.join(base, 'ptsfs');
  fs.mkdirSync(nativeDir);
  fs.mkdirSync(ptsfsDir);
  fs.chmodSync(base, 0o755);
  mountpoints.push(ptsfsDir, nativeDir);

  const max = readSys('max');
  const reserve = readSys('reserve');
  const nr = readSys('nr');
  // Every ptsfs pty is also a host pty; the native run comes after the ptsfs one is cleaned up.
  const room = max - reserve - nr - PTY_MARGIN;
  const held = Math.max(0, Math.min(HELD_WRITES, room));
  const limitNote = `kernel.pty.max ${max}, reserve ${reserve}, nr ${nr} at start: room for ${room} ` +
    `(max - reserve - nr - ${PTY_MARGIN}); ${held < HELD_WRITES ? `stops at ${held}` : `all ${held} fit`}`;

  const scenarios: Scenario[] = [
    { name: `writer flooding an unread pty for ${FLOOD_SECONDS} s`, mode: 'flood', arg: FLOOD_SECONDS, blocked: () => 0 },
    { name: `${held} ptys, each holding a blocked slave write`, mode: 'hold', arg: held, blocked: (r) => r.held ?? 0 },
    { name: `one ${BIG_WRITE >> 20} MB master write, slave never read (blocked)`, mode: 'big', arg: BIG_WRITE, blocked: () => 1 },
  ];

  const server = startChild('/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, 'mount', '-o', 'ptmxmode=666', '--foreground', ptsfsDir]);
  try {
    await waitOutput(server, 'stderr', (s) => s.includes(`ptsfs: serving ${ptsfsDir}`), 20_000);
    const pid = server.pid!;
    await sleep(1000);
    const rest = rssMB(pid);

    const fuse: Figures[] = [];
    for (const s of scenarios) {
      fuse.push(await measure(ptsfsDir, s, pid));
      await sleep(500);
    }
    const fuseTwo = await twoMasters(ptsfsDir);
    await sleep(500);
    const after = rssMB(pid);

    // Native: the same callers on a kernel devpts instance (nothing of ptsfs holds ptys any more).
    execFileSync('mount', ['-t', 'devpts', '-o', 'newinstance,ptmxmode=666,mode=620', 'devpts', nativeDir]);
    const native: Figures[] = [];
    for (const s of scenarios) native.push(await measure(nativeDir, s, undefined));
    const nativeTwo = await twoMasters(nativeDir);

    const mb = (n: number): string => n.toFixed(1);
    const lines = [
      '| scenario | ptsfs daemon VmRSS peak / last (MB) | growth over rest (MB) | bytes the pty took (ptsfs / native) | blocked writers (ptsfs / native) | kernel slab growth (ptsfs / native, MB) |',
      '|---|---|---|---|---|---|',
      `| at rest (mounted, no ptys) | ${mb(rest)} | - | - | - | - |`,
    ];
    scenarios.forEach((s, i) => {
      const f = fuse[i]!;
      const n = native[i]!;
      const name = s.mode === 'hold' && (f.ready.held !== held || f.ready.stopped) ? `${s.name} (ptsfs stopped at ${f.ready.held}: ${f.ready.stopped})` : s.name;
      lines.push(`| ${name} | ${mb(f.rss!.peak)} / ${mb(f.rss!.last)} | ${mb(f.rss!.peak - rest)} | ${f.ready.bytes < 0 ? '-' : `${f.ready.bytes} / ${n.ready.bytes}`} | ` +
        `${f.blocked} / ${n.blocked} | ${mb(f.slab)} / ${mb(n.slab)} |`);
    });
    lines.push(`| at rest again (all callers gone) | ${mb(after)} | ${mb(after - rest)} | - | - | - |`);
    console.log(lines.join('\n'));
    const two = (r: { returned: boolean; d: number }): string => (r.returned ? 'returned' : `did not return, ${r.d} thread(s) in D`);
    console.log(`\na non-blocking master write on a second pty while a master write blocks on a full one: ptsfs ${two(fuseTwo)}, native ${two(nativeTwo)}`);
    console.log(`\n${limitNote}`);
    console.log('native: a kernel devpts instance has no daemon; its cost is kernel memory (slab), shown for both.');
  } finally {
    for (const c of [...children]) if (c !== server) await stopChild(c);
    if (server.exitCode === null && server.signalCode === null) {
      const gone = new Promise((r) => server.on('exit', r));
      server.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      await stopChild(server);
    }
    for (const dir of [ptsfsDir, nativeDir]) {
      try {
        umount2(dir, MNT_DETACH);
      } catch {
        // not mounted (any more)
      }
    }
    // rmdir, never a recursive rm: a mount still there must not be emptied.
    for (const f of fs.readdirSync(base)) {
      const p = path.join(base, f);
      if (fs.statSync(p).isDirectory()) fs.rmdirSync(p);
      else fs.unlinkSync(p);
    }
    fs.rmdirSync(base);
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
