// Running real programs against a mount served by this very process. Only
// asynchronous child processes: a synchronous call (execFileSync,
// fs.readFileSync on the mount) would block the event loop that has to
// answer the kernel, and hang.
import { spawn, type ChildProcess, type SpawnOptions } from 'child_process';
import * as fs from 'fs';
import type { Teardownable } from './testfs';

export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface Done {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit. */
  readonly ms: number;
}

/** A running program; killed at teardown if still alive. */
export class Child {
  readonly proc: ChildProcess;
  readonly done: Promise<Done>;
  readonly started = performance.now();
  stdout = '';
  stderr = '';
  exitedAt: number | undefined;
  private lineWaiters: (() => void)[] = [];

  constructor(t: Teardownable, cmd: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      for (const w of this.lineWaiters.splice(0)) w();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.done = new Promise((resolve, reject) => {
      this.proc.on('error', reject);
      this.proc.on('close', (code, signal) => {
        this.exitedAt = performance.now();
        for (const w of this.lineWaiters.splice(0)) w();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: this.exitedAt - this.started });
      });
    });
    t.teardown(() => {
      if (this.exitedAt === undefined) this.proc.kill('SIGKILL');
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  /** Resolves when stdout holds at least n complete lines. */
  async waitLines(n: number, ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.stdout.split('\n').length - 1 < n) {
      if (this.exitedAt !== undefined) throw new Error(`child exited before printing ${n} lines: ${this.stdout}${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} lines; got: ${this.stdout}${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.lineWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines;
  }

  /**
   * Waits for exit, killing the child after ms. A child that SIGKILL cannot
   * end within a second more (stuck in D state on an unanswered request)
   * fails the wait, so that the test ends and its teardown can unmount.
   */
  async exit(ms = 10_000): Promise<Done> {
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.proc.kill('SIGKILL');
        timer = setTimeout(() => {
          reject(new Error(`pid ${this.pid} did not exit within ${ms} ms nor after SIGKILL (state ${procState(this.pid)})`));
        }, 1000);
      }, ms);
    });
    try {
      return await Promise.race([this.done, stuck]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs a program to completion (killed after timeoutMs). */
export function run(t: Teardownable, cmd: string, args: readonly string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Done> {
  return new Child(t, cmd, args, opts).exit(opts.timeoutMs ?? 10_000);
}

/** Starts `python3 -c script args...`. */
export function python(t: Teardownable, script: string, args: readonly (string | number)[] = [], opts: SpawnOptions = {}): Child {
  return new Child(t, PYTHON, ['-c', script, ...args.map(String)], opts);
}

/** Scheduler state of a process (R, S, D, Z, ...) from /proc/<pid>/stat, or undefined if gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Threads of this process, from /proc/self/status. */
export function threadCount(): number {
  const m = /^Threads:\s+(\d+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]);
}

/** Mount points (second column of /proc/self/mounts) whose fstype matches. */
export function fuseMounts(fstype = 'fuse.ptsfstest'): string[] {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === fstype)
    .map((f) => f[1]!);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
