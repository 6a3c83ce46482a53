// Caller memory, read and written off the thread that serves requests.
//
// A legacy tty ioctl (TCGETS, TIOCSWINSZ, ...) hands us a pointer into the
// caller, which we copy with process_vm_readv/writev. The caller chooses
// what backs that page: a FUSE file (ours, or a server that never answers)
// or userfaultfd, and the copy then waits in the kernel, killably only,
// for as long as the caller likes. So no daemon thread makes the copy:
// a helper process does, one access at a time, and one that has not
// answered within ACCESS_TIMEOUT_MS is SIGKILLed (which ends the wait) and
// its caller told EFAULT. The others go to another helper meanwhile.
// At most MAX_HELPERS processes, whatever the number of mounts or callers;
// accesses beyond them wait in a bounded queue.
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { EAGAIN, EFAULT, SysError } from './errno';
import { ACCESS_READ, ACCESS_WRITE, MAX_ACCESS, READY, accessIn, accessOut, type AccessIn } from './callermem-wire';

/** A copy of a few dozen bytes takes microseconds; a page that takes this long is the caller's doing. */
export const ACCESS_TIMEOUT_MS = 1000;
const MAX_HELPERS = 2;
/** Accesses waiting for a helper; past this, EAGAIN at once. */
const MAX_QUEUED = 1024;
const HELPER = path.join(__dirname, 'callermem-helper.js');

interface Access {
  readonly req: AccessIn;
  readonly data: Buffer | undefined;
  readonly resolve: (b: Buffer) => void;
  readonly reject: (e: SysError) => void;
}

/** The daemon's own tasks: a READ from one of them is the daemon waiting for itself. */
const daemonTasks = new Set<number>([process.pid]);

/** Whether thread `tid` (in the daemon's pid namespace) is the daemon or one of its helpers. */
export function isDaemonTask(tid: number): boolean {
  return daemonTasks.has(tid);
}

class Helper {
  private readonly child: ChildProcess;
  private ready = false;
  private input: Buffer = Buffer.alloc(0);
  private current: Access | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dead = false;

  constructor(private readonly pool: CallerMemory) {
    this.child = spawn(process.execPath, ['--max-old-space-size=16', HELPER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const pid = this.child.pid;
    if (pid !== undefined) daemonTasks.add(pid);
    // An idle helper does not keep the daemon alive; one with work does (see busy()).
    this.child.unref();
    (this.child.stdin as unknown as { unref(): void }).unref();
    this.child.stdout!.on('data', (b: Buffer) => this.receive(b));
    this.child.stdin!.on('error', () => this.die(EFAULT));
    this.child.on('exit', () => this.die(EFAULT));
    this.child.on('error', () => this.die(EFAULT));
  }

  get idle(): boolean {
    return this.ready && !this.dead && this.current === undefined;
  }

  /** Spawned, not yet reading requests. */
  get starting(): boolean {
    return !this.ready && !this.dead;
  }

  /** Whether the event loop waits for this helper's answer. */
  private busy(on: boolean): void {
    const out = this.child.stdout as unknown as { ref(): void; unref(): void };
    if (on) out.ref();
    else out.unref();
  }

  start(a: Access): void {
    this.current = a;
    this.busy(true);
    const head = Buffer.alloc(accessIn.size);
    accessIn.encode(a.req, head, 0);
    this.child.stdin!.write(a.data ? Buffer.concat([head, a.data]) : head);
    this.timer = setTimeout(() => this.die(EFAULT), ACCESS_TIMEOUT_MS);
    this.timer.unref();
  }

  private receive(chunk: Buffer): void {
    this.input = this.input.length ? Buffer.concat([this.input, chunk]) : chunk;
    if (!this.ready) {
      if (this.input.length < READY.length) return;
      this.ready = true;
      this.input = this.input.subarray(READY.length);
      this.busy(false);
      this.pool.dispatch();
    }
    while (this.input.length >= accessOut.size) {
      const out = accessOut.decode(this.input, 0);
      if (this.input.length < accessOut.size + out.length) return;
      const data = Buffer.from(this.input.subarray(accessOut.size, accessOut.size + out.length));
      this.input = this.input.subarray(accessOut.size + out.length);
      const a = this.current;
      if (!a || a.req.id !== out.id) return this.die(EFAULT); // the helper is confused: start afresh
      this.current = undefined;
      clearTimeout(this.timer);
      this.busy(false);
      if (out.errno !== 0) a.reject(new SysError(a.req.op === ACCESS_READ ? 'process_vm_readv' : 'process_vm_writev', out.errno));
      else a.resolve(data);
      this.pool.dispatch();
    }
  }

  /** Kills the helper; its access, if any, fails with `errno`. */
  private die(errno: number): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.timer);
    const pid = this.child.pid;
    // Its pid may be reused only once it is reaped; until then a READ from it is still ours.
    const forget = (): void => { if (pid !== undefined) daemonTasks.delete(pid); };
    if (this.child.exitCode !== null || this.child.signalCode !== null) forget();
    else {
      this.child.once('exit', forget);
      this.child.kill('SIGKILL');
    }
    this.busy(false);
    const a = this.current;
    this.current = undefined;
    a?.reject(new SysError('caller memory', errno));
    // One that never came up (no memory, no processes left) is not retried in a loop.
    this.pool.helperGone(this, !this.ready);
  }
}

export class CallerMemory {
  private readonly helpers: Helper[] = [];
  private readonly queue: Access[] = [];
  private nextId = 1;

  /** `length` bytes at `addr` in process `pid`; EFAULT for a bad or slow address. */
  read(pid: number, addr: bigint, length: number): Promise<Buffer> {
    return this.submit(ACCESS_READ, pid, addr, length, undefined);
  }

  /** Copies `data` to `addr` in process `pid`. */
  async write(pid: number, addr: bigint, data: Buffer): Promise<void> {
    await this.submit(ACCESS_WRITE, pid, addr, data.length, data);
  }

  private submit(op: number, pid: number, addr: bigint, length: number, data: Buffer | undefined): Promise<Buffer> {
    if (length > MAX_ACCESS || addr < 0n || addr >= 1n << 63n) return Promise.reject(new SysError('caller memory', EFAULT));
    if (this.queue.length >= MAX_QUEUED) return Promise.reject(new SysError('caller memory', EAGAIN));
    return new Promise((resolve, reject) => {
      const id = this.nextId;
      this.nextId = (this.nextId % 0xffffffff) + 1;
      this.queue.push({ req: { id, op, pid, length, addr }, data: data && Buffer.from(data), resolve, reject });
      this.dispatch();
    });
  }

  /** @internal hands queued accesses to idle helpers, starting one when all are busy. */
  dispatch(): void {
    while (this.queue.length > 0) {
      const h = this.helpers.find((x) => x.idle);
      if (!h) {
        if (this.helpers.length < MAX_HELPERS && !this.helpers.some((x) => x.starting)) this.helpers.push(new Helper(this));
        return;
      }
      h.start(this.queue.shift()!);
    }
  }

  /** @internal */
  helperGone(h: Helper, failedToStart: boolean): void {
    const i = this.helpers.indexOf(h);
    if (i >= 0) this.helpers.splice(i, 1);
    if (failedToStart && this.helpers.length === 0) {
      for (const a of this.queue.splice(0)) a.reject(new SysError('caller memory', EFAULT));
    }
    this.dispatch();
  }
}

/** The daemon's one pool: helpers are shared by every mount. */
export const callerMemory = new CallerMemory();
