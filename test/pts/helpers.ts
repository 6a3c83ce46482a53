// Shared helpers for the pts namespace tests. Not a test file itself.
//
// The test process serves the FUSE mount on its own event loop, so it must
// never touch the mount synchronously: every client is a child process
// (python3 snippets, mostly), spawned asynchronously.
//
// Stable API (other test files import it):
//   mountPts(t, optionsText?)      -> { dir, mount, path(name) }, unmounted at teardown
//   mountDevpts(t, optionsText?)   -> { dir, path(name) } a real kernel devpts instance (or undefined)
//   py(script, args?, opts?)       -> Promise<PyResult> { code, signal, stdout, stderr, ms }
//   pyJson(t, script, args?, opts?) -> the JSON the script printed last (asserts exit 0)
//   spawnPy(t, script, args?, opts?) -> PyChild, a running python (killed at teardown)
//   PRELUDE                        the python helpers every py() script starts with
import { spawn, type SpawnOptions, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mountNamespace, parseOptions, type PtsMount } from '../../src/pts';

/** What tap's `t` offers that these helpers use. */
export interface TestLike {
  teardown(fn: () => unknown): void;
  equal(found: any, wanted: any, ...rest: any[]): any;
  same(found: any, wanted: any, ...rest: any[]): any;
  comment(...args: any[]): void;
}

export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * Python helpers prepended to every py() script. Everything a pty test
 * needs: constants, errno capture, opening and unlocking ptys, dropping
 * privileges, printing JSON.
 */
export const PRELUDE = String.raw`
import os, sys, json, fcntl, termios, select, struct, signal, errno, time, ctypes, hashlib, array
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTLCK = 0x80045439
TIOCGPTPEER = 0x5441
TCGETS = 0x5401
TCSETS = 0x5402
TCSETSW = 0x5403
TCSETSF = 0x5404
TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
libc = ctypes.CDLL(None, use_errno=True)
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
def ename(n):
    return errno.errorcode.get(n, str(n))
def err(f, *a, **k):
    """The result of f(*a), or the errno name of the OSError it raised."""
    try:
        return f(*a, **k)
    except OSError as e:
        return ename(e.errno)
    except termios.error as e:
        return ename(e.args[0])
def _jsonable(o):
    if isinstance(o, (bytes, bytearray)):
        return o.decode('latin1')
    raise TypeError(repr(o))
def out(obj):
    """Prints obj as one JSON line (bytes as latin1 strings)."""
    print(json.dumps(obj, default=_jsonable), flush=True)
def ioctl_int(fd, req, value=0):
    """ioctl with an int argument in memory; returns the int after the call."""
    buf = array.array('i', [value])
    fcntl.ioctl(fd, req, buf, True)
    return buf[0]
def raw_ioctl(fd, req, ptr):
    """libc ioctl with a raw pointer; returns 0/positive result or the errno name."""
    ctypes.set_errno(0)
    r = libc.ioctl(fd, req, ctypes.c_void_p(ptr))
    return r if r >= 0 else ename(ctypes.get_errno())
def ptn(fd):
    return ioctl_int(fd, TIOCGPTN)
def unlock(fd):
    ioctl_int(fd, TIOCSPTLCK, 0)
def openpt(d, flags=os.O_RDWR | os.O_NOCTTY, do_unlock=True):
    """Opens d/ptmx; returns (master fd, index), unlocked unless told not to."""
    m = os.open(os.path.join(d, 'ptmx'), flags)
    n = ptn(m)
    if do_unlock:
        unlock(m)
    return m, n
def openpair(d, raw=False):
    """A master and its opened slave; raw=True puts the slave in raw mode."""
    m, n = openpt(d)
    s = os.open(os.path.join(d, str(n)), os.O_RDWR | os.O_NOCTTY)
    if raw:
        import tty
        tty.setraw(s)
    return m, s, n
def as_user(uid, gid):
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
def read_exact(fd, n, timeout=10.0):
    """Reads exactly n bytes (blocking fd), failing after timeout seconds."""
    buf = bytearray()
    end = time.time() + timeout
    while len(buf) < n:
        left = end - time.time()
        if left <= 0:
            raise TimeoutError('read %d of %d bytes' % (len(buf), n))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            b = os.read(fd, n - len(buf))
            if not b:
                raise EOFError('EOF after %d of %d bytes' % (len(buf), n))
            buf += b
    return bytes(buf)
def read_avail(fd, settle=0.2):
    """Everything readable until nothing new arrives for settle seconds."""
    buf = bytearray()
    while True:
        r, _, _ = select.select([fd], [], [], settle)
        if not r:
            return bytes(buf)
        try:
            b = os.read(fd, 65536)
        except OSError:
            return bytes(buf)
        if not b:
            return bytes(buf)
        buf += b
def with_alarm(seconds, f, *a):
    """Runs f(*a) with a SIGALRM after seconds that raises TimeoutError (so a hang fails)."""
    def h(sig, frm):
        raise TimeoutError('alarm')
    old = signal.signal(signal.SIGALRM, h)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return f(*a)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
`;

export interface PyResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, ms. */
  readonly ms: number;
}

export interface PyOptions extends SpawnOptions {
  /** Kill (SIGKILL) after this many ms; default 30 s. */
  readonly timeoutMs?: number;
  /** Data written to stdin (then closed). */
  readonly input?: string | Buffer;
  /** Keep stdin an open pipe (the script can wait on sys.stdin.read() until endInput()). */
  readonly holdStdin?: boolean;
}

/** A running python3; its stdout and stderr are collected. */
export class PyChild {
  readonly proc: ChildProcess;
  readonly done: Promise<PyResult>;
  readonly started = performance.now();
  stdout = '';
  stderr = '';
  exited = false;
  private waiters: (() => void)[] = [];

  constructor(script: string, args: readonly (string | number)[] = [], opts: PyOptions = {}) {
    const { timeoutMs = 30_000, input, holdStdin = false, ...spawnOpts } = opts;
    this.proc = spawn(PYTHON, ['-c', PRELUDE + script, ...args.map(String)], {
      stdio: [input === undefined && !holdStdin ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...spawnOpts,
    });
    if (input !== undefined) this.proc.stdin!.end(input);
    this.proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      this.wakeWaiters();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    this.done = new Promise((resolve, reject) => {
      this.proc.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      this.proc.on('close', (code, signal) => {
        clearTimeout(timer);
        this.exited = true;
        this.wakeWaiters();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: performance.now() - this.started });
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Writes to the script's stdin (holdStdin); end=true closes it (sys.stdin.read() returns). */
  send(data: string | Buffer = '', end = true): void {
    if (end) this.proc.stdin?.end(data);
    else this.proc.stdin?.write(data);
  }

  /** Complete stdout lines so far. */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  /** Waits until stdout has at least n complete lines; returns line n-1 (0-based), JSON-parsed if it parses. */
  async line(n: number, ms = 10_000): Promise<unknown> {
    const deadline = Date.now() + ms;
    while (this.lines.length < n) {
      if (this.exited) throw new Error(`python exited before line ${n}: ${this.stdout}\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for line ${n}: ${this.stdout}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const l = this.lines[n - 1]!;
    try {
      return JSON.parse(l) as unknown;
    } catch {
      return l;
    }
  }

  private wakeWaiters(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Runs `python3 -c PRELUDE+script args...` to completion. */
export function py(script: string, args: readonly (string | number)[] = [], opts: PyOptions = {}): Promise<PyResult> {
  return new PyChild(script, args, opts).done;
}

/** Starts a python3 that the test talks to; SIGKILLed at teardown if still running. */
export function spawnPy(t: TestLike, script: string, args: readonly (string | number)[] = [], opts: PyOptions = {}): PyChild {
  const c = new PyChild(script, args, opts);
  t.teardown(async () => {
    if (!c.exited) {
      c.proc.kill('SIGKILL');
      await c.done.catch(() => undefined);
    }
  });
  return c;
}

/**
 * Runs a python script that prints JSON (its last stdout line) and returns it
 * parsed. Asserts exit 0 (the message carries stderr on failure).
 */
export async function pyJson<T = any>(t: TestLike, script: string, args: readonly (string | number)[] = [], opts: PyOptions = {}): Promise<T> {
  const r = await py(script, args, opts);
  t.equal(r.code, 0, `python exits 0${r.code === 0 ? '' : `: ${r.signal ?? ''} ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`}`);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    return undefined as T;
  }
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
  // Non-root clients must reach the mountpoint (mkdtemp makes it 0700; the
  // mount root hides it, but keep it traversable for the unmounted case).
  await fs.promises.chmod(dir, 0o755);
  return dir;
}

export interface PtsFixture {
  readonly dir: string;
  readonly mount: PtsMount;
  path(name: string | number): string;
}

/**
 * Mounts a fresh pts namespace (options as `mount -o` text) on a temporary
 * directory, served by this process. Teardown stops it and removes the
 * directory, also when the test failed.
 */
export async function mountPts(t: TestLike, optionsText = ''): Promise<PtsFixture> {
  // The VM suite (test/vm/chr.test.ts) runs these tests again on entries=chr.
  const entries = process.env.PTSFS_TEST_ENTRIES;
  const options = parseOptions(entries && !/(^|,)entries=/.test(optionsText) ? `${optionsText},entries=${entries}` : optionsText);
  const dir = await tempDir('ptsfs-test-');
  mountedDirs.push(dir);
  let mount: PtsMount;
  try {
    mount = await mountNamespace(dir, options);
  } catch (err) {
    await fs.promises.rmdir(dir).catch(() => undefined);
    throw err;
  }
  t.teardown(async () => {
    try {
      await mount.stop();
    } finally {
      await fs.promises.rmdir(dir).catch(() => undefined);
    }
  });
  return { dir, mount, path: (name) => path.join(dir, String(name)) };
}

/** Every directory mountPts() and mountDevpts() mounted on in this process. */
export const mountedDirs: string[] = [];

/** Those of mountedDirs that are still mounted (should be none once their tests ended). */
export async function leftMounted(): Promise<string[]> {
  const text = await fs.promises.readFile('/proc/self/mounts', 'utf8');
  const points = new Set(text.split('\n').map((l) => l.split(' ')[1]));
  return mountedDirs.filter((d) => points.has(d));
}

export interface DevptsFixture {
  readonly dir: string;
  path(name: string | number): string;
}

/**
 * Mounts a real kernel devpts instance (`mount -t devpts -o newinstance,...`)
 * as the reference to compare against; undefined (with the reason in
 * `devptsUnavailable`) if this machine cannot. Unmounted at teardown.
 */
export async function mountDevpts(t: TestLike, optionsText = 'ptmxmode=666,mode=620,gid=5'): Promise<DevptsFixture | undefined> {
  const dir = await tempDir('ptsfs-devpts-');
  mountedDirs.push(dir);
  const opts = ['newinstance', ...optionsText.split(',').filter((o) => o !== '')].join(',');
  const r = await run('mount', ['-t', 'devpts', '-o', opts, 'devpts', dir]);
  if (r.code !== 0) {
    devptsUnavailable = `mount -t devpts failed: ${r.stderr.trim()}`;
    await fs.promises.rmdir(dir).catch(() => undefined);
    return undefined;
  }
  t.teardown(async () => {
    const u = await run('umount', [dir]);
    if (u.code !== 0) await run('umount', ['-l', dir]);
    await fs.promises.rmdir(dir).catch(() => undefined);
  });
  return { dir, path: (name) => path.join(dir, String(name)) };
}

/** Why mountDevpts returned undefined. */
export let devptsUnavailable = '';

export interface Both<T> {
  /** What the script printed against the ptsfs mount. */
  readonly fuse: T;
  /** The same script against a kernel devpts instance, or undefined if there is none here. */
  readonly kernel: T | undefined;
}

/**
 * Runs one python scenario (its argv[1] is the mount directory) against a
 * fresh ptsfs mount and against a fresh kernel devpts instance mounted with
 * the same options, returning both JSON results.
 */
export async function runBoth<T = any>(t: TestLike, optionsText: string, script: string, args: readonly (string | number)[] = [], opts: PyOptions = {}): Promise<Both<T>> {
  const p = await mountPts(t, optionsText);
  const fuse = await pyJson<T>(t, script, [p.dir, ...args], opts);
  const k = await mountDevpts(t, optionsText);
  if (!k) {
    t.comment(`no kernel devpts to compare with: ${devptsUnavailable}`);
    return { fuse, kernel: undefined };
  }
  const kernel = await pyJson<T>(t, script, [k.dir, ...args], opts);
  return { fuse, kernel };
}

/** Asserts that ptsfs showed what the kernel showed (when there is a kernel reference). */
export function sameAsKernel<T>(t: TestLike, both: Both<T>, message = 'same as a kernel devpts instance'): void {
  if (both.kernel !== undefined) t.same(both.fuse, both.kernel, message);
}

/** Runs a program to completion (async), killed after timeoutMs. */
export function run(cmd: string, args: readonly string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<PyResult> {
  const { timeoutMs = 30_000, ...spawnOpts } = opts;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Scheduler state (R, S, D, Z, ...) of pid from /proc, or undefined if gone. Async: /proc is not the mount. */
export async function procState(pid: number): Promise<string | undefined> {
  try {
    const stat = await fs.promises.readFile(`/proc/${pid}/stat`, 'utf8');
    const i = stat.lastIndexOf(')');
    return stat.slice(i + 2, i + 3);
  } catch {
    return undefined;
  }
}

/** Mountpoints of fstype in /proc/self/mounts. */
export async function mountsOfType(fstype = 'fuse.ptsfs'): Promise<string[]> {
  const text = await fs.promises.readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').map((l) => l.split(' ')).filter((f) => f[2] === fstype).map((f) => f[1]!);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * What this machine lacks for the mounted tests (a reason string), or false.
 * Use as `t.test(name, { skip: MISSING }, fn)`.
 */
export const MISSING: string | false = ((): string | false => {
  if (process.platform !== 'linux') return 'ptsfs needs Linux';
  if (process.getuid?.() !== 0) return 'mounting needs root (run the tests as root)';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse on this machine';
  const hasPython = fs.existsSync(PYTHON) || (process.env['PATH'] ?? '').split(':').some((d) => fs.existsSync(path.join(d, 'python3')));
  if (!hasPython) return 'no python3 (the test clients are python3 scripts)';
  return false;
})();

/** An unprivileged user and group for permission tests. */
export const NOBODY = { uid: 65534, gid: 65534 } as const;
