// Helpers for the "real programs in a container" and CLI tests. Not a test
// file itself.
//
// A "container" is a private mount namespace (unshare -m) whose /dev/pts is
// either a ptsfs mount (bound over it) or, as the reference, a fresh kernel
// devpts instance mounted inside that namespace only; /dev/pts/ptmx is bound
// over /dev/ptmx. Nothing of it is visible to the host, and it vanishes with
// its last process, so a failing test cannot leave a devpts behind.
//
// Everything here is asynchronous: the test process may be serving the FUSE
// mount that the programs use, and a synchronous call would deadlock it.
import { execFile, spawn, type SpawnOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';

/** What these helpers need of tap's `t`. */
export interface TestLike {
  teardown(fn: () => unknown): void;
}

/** Where the pts instance of a container comes from. */
export type Wiring =
  /** A ptsfs mount at this host path. */
  | { readonly kind: 'ptsfs'; readonly dir: string }
  /** A kernel devpts, `newinstance,ptmxmode=666,mode=620,gid=5`, as container runtimes mount it. */
  | { readonly kind: 'kernel' };

export const ptsfs = (dir: string): Wiring => ({ kind: 'ptsfs', dir });
export const kernel: Wiring = { kind: 'kernel' };
export const KERNEL_DEVPTS_OPTIONS = 'newinstance,ptmxmode=666,mode=620,gid=5';

export interface Ran {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, ms. */
  readonly ms: number;
}

export interface ExecOptions extends SpawnOptions {
  /** SIGKILL after this many ms (default 20 s), so that a hang fails the test instead of the suite. */
  readonly timeoutMs?: number;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string;
  /** Keep stdin an open pipe: write with `send()`, close with `endInput()`. */
  readonly openStdin?: boolean;
}

/** A running program whose output is collected; SIGKILLed at teardown if still alive. */
export class Proc {
  readonly done: Promise<Ran>;
  readonly pid: number;
  stdout = '';
  stderr = '';
  exited = false;
  private readonly kill: (sig: NodeJS.Signals) => boolean;
  private readonly stdin: NodeJS.WritableStream | undefined;
  private waiters: (() => void)[] = [];

  constructor(t: TestLike, cmd: string, args: readonly string[], opts: ExecOptions = {}) {
    const { timeoutMs = 20_000, input, openStdin = false, ...spawnOpts } = opts;
    const started = performance.now();
    const p = spawn(cmd, args, { stdio: [input === undefined && !openStdin ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...spawnOpts });
    this.pid = p.pid ?? -1;
    this.kill = (sig) => p.kill(sig);
    p.stdin?.on('error', () => undefined);
    this.stdin = p.stdin ?? undefined;
    if (input !== undefined) p.stdin!.end(input);
    p.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      this.wake();
    });
    p.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      this.wake();
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    this.done = new Promise((resolve, reject) => {
      p.on('error', (e) => {
        clearTimeout(timer);
        this.exited = true;
        reject(e);
      });
      p.on('close', (code, signal) => {
        clearTimeout(timer);
        this.exited = true;
        this.wake();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: performance.now() - started });
      });
    });
    t.teardown(async () => {
      if (this.exited) return;
      p.kill('SIGKILL');
      await this.done.catch(() => undefined);
    });
  }

  send(text: string): void {
    this.stdin?.write(text);
  }

  endInput(): void {
    this.stdin?.end();
  }

  signal(sig: NodeJS.Signals): boolean {
    return this.kill(sig);
  }

  /** Resolves when stdout or stderr (as chosen) contains `text`; rejects on exit or after ms. */
  async waitFor(text: string | RegExp, where: 'stdout' | 'stderr' = 'stdout', ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    const seen = (): boolean => (typeof text === 'string' ? this[where].includes(text) : text.test(this[where]));
    while (!seen()) {
      if (this.exited) throw new Error(`exited before printing ${String(text)}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(text)}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the exit; SIGKILL after ms. */
  async exit(ms = 10_000): Promise<Ran> {
    const timer = setTimeout(() => this.kill('SIGKILL'), ms);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * The environment a user's shell would give a program: this one less what
 * tap adds. tap's NODE_OPTIONS loads its process-info hook into every node
 * child, and that hook traps SIGTERM/SIGINT, which changes how a node
 * program (bin/ptsfs) reacts to signals. (tap also puts NODE_OPTIONS back
 * when this process spawns node directly: start node programs via env -u.)
 */
export function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !/^(TAP|_TAPJS_)/.test(k)));
}

/** Runs a program to completion. */
export function exec(t: TestLike, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<Ran> {
  return new Proc(t, cmd, args, opts).done;
}

export interface ContainerOptions extends ExecOptions {
  /** Also a private pid namespace with its own /proc (unshare -p -f --mount-proc). */
  readonly pidns?: boolean;
}

// $1: "kernel" or the ptsfs mount to bind; the rest: the program and its arguments.
const WIRE = [
  'set -e',
  // ptsfs: its `tty` entry over /dev/tty, as runtimes wire it; a kernel instance keeps the host's /dev/tty, which follows the kernel's ctty.
  'if [ "$1" = kernel ]; then mount -t devpts -o ' + KERNEL_DEVPTS_OPTIONS + ' devpts /dev/pts; else mount --bind "$1" /dev/pts; mount --bind /dev/pts/tty /dev/tty; fi',
  'mount --bind /dev/pts/ptmx /dev/ptmx',
  'shift',
  'exec "$@"',
].join('\n');

/** The command line that runs argv in a container wired to `w`. */
export function containerCommand(w: Wiring, argv: readonly string[], pidns = false): [string, string[]] {
  // --kill-child: SIGKILLing unshare (timeout, teardown) takes the forked child with it.
  const ns = pidns ? ['-m', '-p', '-f', '--kill-child', '--mount-proc'] : ['-m'];
  return ['unshare', [...ns, 'sh', '-c', WIRE, 'wire', w.kind === 'kernel' ? 'kernel' : w.dir, ...argv]];
}

/** Starts argv in a container wired to `w`. */
export function startInContainer(t: TestLike, w: Wiring, argv: readonly string[], opts: ContainerOptions = {}): Proc {
  const { pidns = false, ...rest } = opts;
  const [cmd, args] = containerCommand(w, argv, pidns);
  return new Proc(t, cmd, args, rest);
}

/** Runs argv in a container wired to `w`, to completion. */
export function inContainer(t: TestLike, w: Wiring, argv: readonly string[], opts: ContainerOptions = {}): Promise<Ran> {
  return startInContainer(t, w, argv, opts).done;
}

let kernelCheck: Promise<string | undefined> | undefined;

/**
 * Why this machine cannot give a container a kernel devpts instance, or
 * undefined if it can (checked once: a container that only lists it).
 */
export function kernelDevptsMissing(t: TestLike): Promise<string | undefined> {
  kernelCheck ??= (async () => {
    if (process.getuid?.() !== 0) return 'mounting a kernel devpts instance needs root';
    try {
      const r = await inContainer(t, kernel, ['ls', '/dev/pts/ptmx']);
      return r.code === 0 ? undefined : `mount -t devpts -o ${KERNEL_DEVPTS_OPTIONS} failed: ${r.stderr.trim()}`;
    } catch (err) {
      return `unshare failed: ${(err as Error).message}`;
    }
  })();
  return kernelCheck;
}

/** Which of these programs the machine lacks (looked up in PATH). */
export async function missingPrograms(...names: string[]): Promise<string[]> {
  const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean);
  const missing: string[] = [];
  for (const name of names) {
    let found = false;
    for (const d of dirs) {
      try {
        await fs.promises.access(path.join(d, name), fs.constants.X_OK);
        found = true;
        break;
      } catch {
        // not here
      }
    }
    if (!found) missing.push(name);
  }
  return missing;
}

/** A temporary directory, removed at teardown. */
export async function tempDir(t: TestLike, prefix: string): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.promises.chmod(dir, 0o755);
  t.teardown(() => fs.promises.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** test/pts/c/ in the source tree (tests run from dist/test/pts/). */
export const C_SOURCES = path.resolve(__dirname, '../../../test/pts/c');

/**
 * Compiles test/pts/c/<name>.c with cc into a temporary directory (removed
 * at teardown); returns the binary's path.
 */
export async function compileC(t: TestLike, name: string): Promise<string> {
  const dir = await tempDir(t, `ptsfs-cc-${name}-`);
  const bin = path.join(dir, name);
  await promisify(execFile)('cc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-O1', '-o', bin, path.join(C_SOURCES, `${name}.c`)]);
  return bin;
}

/** `key=value` lines as a map (later keys win). */
export function keyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).replace(/\r$/, ''));
  }
  return m;
}

/** Terminal output as lines, split on \r\n. */
export function ttyLines(text: string): string[] {
  return text.split('\r\n').filter((l) => l !== '');
}

/** Mountpoints in the host's /proc/self/mounts (read asynchronously). */
export async function mountpoints(): Promise<string[]> {
  const text = await fs.promises.readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').map((l) => l.split(' ')[1]).filter((m): m is string => m !== undefined)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export function describe(r: Ran): string {
  return `exit ${r.code ?? r.signal}; stderr: ${r.stderr.trim().slice(-600)}`;
}
