// A small filesystem on src/fuse for the protocol tests and the FUSE
// benchmark. Not a test file itself.
//
//   /            ino 1, directory with . and ..
//   hello        fixed content, served through the page cache
//   slow         fixed content, each READ answered SLOW_MS later
//   wait         READ held until interrupted (EINTR) or released by the test
//   pollable     POLL readiness toggled by the test (notifies stored kh)
//   ioctl        IOC_ECHO (_IOWR, 16 bytes both ways) and IOC_NULL (_IOR, 4)
//   big          bigSize bytes of a repeating pattern (direct I/O)
//   sink         WRITEs are counted, their data dropped
//   <dynamic>    entries the test adds and removes (long entry_valid)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DT_DIR, DT_REG, encodeDirent, FOPEN_DIRECT_IO, FUSE_POLL_SCHEDULE_NOTIFY, FUSE_ROOT_ID, S_IFDIR, S_IFREG,
  serve, type Attr, type AttrOut, type MountedSession, type Req, type Session,
} from '../../src/fuse';
import { EAGAIN, EINTR, ENOENT, ENOTDIR, ENOTTY } from '../../src/sys/errno';
import { IOC_READ, IOC_WRITE, ioc } from '../../src/sys/ioc';
import { MNT_DETACH, umount2 } from '../../src/sys/libc';

export const INO = { root: FUSE_ROOT_ID, hello: 2, slow: 3, wait: 4, pollable: 5, ioctl: 6, big: 7, sink: 8 } as const;
export const HELLO = Buffer.from('hello from ptsfs testfs\n');
export const SLOW = Buffer.from('slow but sure\n');
export const SLOW_MS = 300;
export const POLLIN = 0x1;
export const POLLRDNORM = 0x40;
/** _IOWR('E', 1, 16): 16 bytes in, 16 bytes out: out[i] = ~in[15 - i], result = in[0]. */
export const IOC_ECHO = ioc(IOC_READ | IOC_WRITE, 'E', 1, 16);
/** _IOR('E', 2, 4): 4 bytes out (a counter), answered at once: the null round trip. */
export const IOC_NULL = ioc(IOC_READ, 'E', 2, 4);
/** Cache timeout of dynamic entries and of their attributes. */
export const LONG_VALID = 3600;

export function echoTransform(input: Buffer): Buffer {
  const out = Buffer.alloc(input.length);
  for (let i = 0; i < input.length; i++) out[i] = ~input[input.length - 1 - i]! & 0xff;
  return out;
}

let bigChunkBuffer: Buffer | undefined;
/** Content of `big` from any offset below 256, shared by all instances. */
function bigChunk(): Buffer {
  if (!bigChunkBuffer) {
    bigChunkBuffer = Buffer.alloc(256 * 1024 + 256);
    for (let i = 0; i < bigChunkBuffer.length; i++) bigChunkBuffer[i] = i & 0xff;
  }
  return bigChunkBuffer;
}

interface Node {
  readonly ino: number;
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  /** entry_valid, seconds */
  readonly entryValid: number;
  /** attr_valid, seconds */
  readonly attrValid: number;
  readonly content?: Buffer;
}

export interface TestFsOptions {
  /** Size of `big` in bytes (default 1 GiB). */
  readonly bigSize?: number;
  /** Size of `wait` (default 0); with pages, a fault on a mapping of it is a READ held like any other. */
  readonly waitSize?: number;
}

export class TestFs {
  session: Session | undefined;
  /** Handler calls by method name. */
  readonly calls: Record<string, number> = {};
  /** Names looked up, in order. */
  readonly lookups: string[] = [];
  /** READs on `wait` that are held. */
  readonly waiters: Req<'read'>[] = [];
  /** READs on `slow` not answered yet. */
  slowHeld = 0;
  /** Held READs answered with EINTR because of FUSE_INTERRUPT. */
  interrupts = 0;
  /** Poll handles (kh) the kernel asked to be notified on, by fh. */
  readonly pollHandles = new Map<number, number>();
  pollNotifications = 0;
  ready = false;
  /** Sizes of the WRITEs `sink` received. */
  readonly writes: number[] = [];
  /** uid/gid/pid of the last request, by method (RELEASE comes from the kernel: pid 0). */
  readonly callers: Record<string, { uid: number; gid: number; pid: number }> = {};

  private readonly nodes = new Map<number, Node>();
  private readonly byName = new Map<string, Node>();
  private nextIno = 100;
  private nextFh = 1;
  private readonly time = Math.floor(Date.now() / 1000);

  constructor(opts: TestFsOptions = {}) {
    const bigSize = opts.bigSize ?? 1024 ** 3;
    const file = (ino: number, name: string, size: number, content?: Buffer, mode = 0o644): void => {
      // Static files: the name is cached, the attributes are not (every
      // fstat is a GETATTR).
      this.put({ ino, name, mode: S_IFREG | mode, size, entryValid: LONG_VALID, attrValid: 0, content });
    };
    this.nodes.set(INO.root, { ino: INO.root, name: '', mode: S_IFDIR | 0o755, size: 0, entryValid: 0, attrValid: 0 });
    file(INO.hello, 'hello', HELLO.length, HELLO);
    file(INO.slow, 'slow', SLOW.length, SLOW);
    file(INO.wait, 'wait', opts.waitSize ?? 0);
    file(INO.pollable, 'pollable', 0);
    file(INO.ioctl, 'ioctl', 0, undefined, 0o666);
    file(INO.big, 'big', bigSize);
    file(INO.sink, 'sink', 0, undefined, 0o666);
  }

  // --- what tests call ---

  /** Adds a file `name` to the root (name and attributes cached by the kernel for `valid` seconds). */
  add(name: string, content: Buffer | string, valid = LONG_VALID): number {
    const buf = Buffer.from(content);
    const ino = this.nextIno++;
    this.put({ ino, name, mode: S_IFREG | 0o644, size: buf.length, entryValid: valid, attrValid: valid, content: buf });
    return ino;
  }

  /** Removes `name`; with `notify`, tells the kernel to drop its cached dentry. */
  async remove(name: string, notify = true): Promise<void> {
    const node = this.byName.get(name);
    if (!node) throw new Error(`testfs: no entry ${name}`);
    this.byName.delete(name);
    this.nodes.delete(node.ino);
    if (notify) await this.session?.notifyInvalEntry(FUSE_ROOT_ID, name);
  }

  /** Answers every held READ on `wait` with `data` (empty: end of file). */
  releaseWaiters(data: Buffer | string = ''): number {
    const held = this.waiters.splice(0);
    for (const req of held) req.replyData(Buffer.from(data));
    return held.length;
  }

  /**
   * Sets the readiness of `pollable`; on a change, notifies every stored poll
   * handle unless `notify` is false (then pollers sleep on: see notifyPollers).
   */
  setReady(ready: boolean, notify = true): void {
    if (ready === this.ready) return;
    this.ready = ready;
    if (notify) this.notifyPollers();
  }

  /** Sends FUSE_NOTIFY_POLL for every stored poll handle. */
  notifyPollers(): void {
    for (const kh of this.pollHandles.values()) {
      this.session?.notifyPoll(kh);
      this.pollNotifications++;
    }
  }

  // --- handlers ---

  lookup(req: Req<'lookup'>): void {
    this.count('lookup', req);
    if (req.nodeid !== FUSE_ROOT_ID) return req.error(ENOTDIR);
    this.lookups.push(req.name!);
    const node = this.byName.get(req.name!);
    if (!node) return req.error(ENOENT);
    req.reply({
      nodeid: node.ino, generation: 0, entry_valid: node.entryValid, entry_valid_nsec: 0,
      attr_valid: node.attrValid, attr_valid_nsec: 0, attr: this.attr(node),
    });
  }

  getattr(req: Req<'getattr'>): void {
    this.count('getattr', req);
    const out = this.attrOut(req.nodeid);
    if (!out) return req.error(ENOENT);
    req.reply(out);
  }

  /** GETATTR's answer for an inode (undefined: no such inode). */
  attrOut(ino: number): AttrOut | undefined {
    const node = this.nodes.get(ino);
    if (!node) return undefined;
    return { attr_valid: node.attrValid, attr_valid_nsec: 0, attr: this.attr(node) };
  }

  opendir(req: Req<'opendir'>): void {
    this.count('opendir', req);
    if (req.nodeid !== FUSE_ROOT_ID) return req.error(ENOTDIR);
    req.reply({ fh: 0, open_flags: 0 });
  }

  readdir(req: Req<'readdir'>): void {
    this.count('readdir', req);
    const entries: [number, number, string][] = [[FUSE_ROOT_ID, DT_DIR, '.'], [FUSE_ROOT_ID, DT_DIR, '..']];
    for (const node of this.byName.values()) entries.push([node.ino, DT_REG, node.name]);
    const limit = req.arg.size;
    const buf = Buffer.alloc(limit);
    let off = 0;
    for (let i = req.arg.offset; i < entries.length; i++) {
      const [ino, type, name] = entries[i]!;
      const next = encodeDirent(buf, off, limit, ino, i + 1, type, name);
      if (next < 0) break;
      off = next;
    }
    req.replyData(buf.subarray(0, off));
  }

  releasedir(req: Req<'releasedir'>): void {
    this.count('releasedir', req);
    req.ok();
  }

  open(req: Req<'open'>): void {
    this.count('open', req);
    const node = this.nodes.get(req.nodeid);
    if (!node) return req.error(ENOENT);
    // `hello` and the dynamic files go through the page cache; the others
    // must reach us on every read().
    const direct = node.ino !== INO.hello && node.ino < 100;
    req.reply({ fh: this.nextFh++, open_flags: direct ? FOPEN_DIRECT_IO : 0 });
  }

  read(req: Req<'read'>): void {
    this.count('read', req);
    const { offset, size } = req.arg;
    switch (req.nodeid) {
      case INO.slow:
        this.slowHeld++;
        setTimeout(() => {
          this.slowHeld--;
          req.replyData(SLOW.subarray(offset, offset + size));
        }, SLOW_MS);
        return;
      case INO.wait:
        this.waiters.push(req);
        req.onInterrupt(() => {
          const i = this.waiters.indexOf(req);
          if (i >= 0) this.waiters.splice(i, 1);
          this.interrupts++;
          req.error(EINTR);
        });
        return;
      case INO.pollable:
        if (this.ready) req.replyData(Buffer.from('ready\n').subarray(offset, offset + size));
        else req.error(EAGAIN);
        return;
      case INO.big: {
        const node = this.nodes.get(INO.big)!;
        const chunk = bigChunk();
        const n = Math.max(0, Math.min(size, node.size - offset, chunk.length - 256));
        const start = offset % 256; // keeps byte i of the file equal to i & 0xff
        req.replyData(chunk.subarray(start, start + n));
        return;
      }
      default: {
        const node = this.nodes.get(req.nodeid);
        if (!node) return req.error(ENOENT);
        req.replyData((node.content ?? Buffer.alloc(0)).subarray(offset, offset + size));
      }
    }
  }

  write(req: Req<'write'>): void {
    this.count('write', req);
    if (req.nodeid !== INO.sink) return req.error(EAGAIN);
    this.writes.push(req.data!.length);
    req.reply({ size: req.data!.length });
  }

  ioctl(req: Req<'ioctl'>): void {
    this.count('ioctl', req);
    if (req.nodeid !== INO.ioctl) return req.error(ENOTTY);
    const { cmd, in_size: inSize, out_size: outSize } = req.arg;
    if (cmd === IOC_NULL) {
      const out = Buffer.alloc(4);
      out.writeUInt32LE(this.calls['ioctl']!, 0);
      return req.reply({ result: 0, flags: 0, in_iovs: 0, out_iovs: 0 }, out.subarray(0, Math.min(4, outSize)));
    }
    if (cmd === IOC_ECHO) {
      const input = Buffer.from(req.data!.subarray(0, inSize));
      if (input.length !== 16 || outSize !== 16) return req.error(ENOTTY);
      return req.reply({ result: input[0]!, flags: 0, in_iovs: 0, out_iovs: 0 }, echoTransform(input));
    }
    req.error(ENOTTY);
  }

  poll(req: Req<'poll'>): void {
    this.count('poll', req);
    const { fh, kh, flags, events } = req.arg;
    if (flags & FUSE_POLL_SCHEDULE_NOTIFY) this.pollHandles.set(fh, kh);
    const revents = req.nodeid === INO.pollable ? (this.ready ? POLLIN | POLLRDNORM : 0) : POLLIN | POLLRDNORM;
    req.reply({ revents: revents & events });
  }

  flush(req: Req<'flush'>): void {
    this.count('flush', req);
    req.ok();
  }

  release(req: Req<'release'>): void {
    this.count('release', req);
    this.pollHandles.delete(req.arg.fh);
    req.ok();
  }

  // --- internals ---

  private put(node: Node): void {
    this.nodes.set(node.ino, node);
    this.byName.set(node.name, node);
  }

  private count(method: string, req: { uid: number; gid: number; pid: number }): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    this.callers[method] = { uid: req.uid, gid: req.gid, pid: req.pid };
  }

  private attr(node: Node): Attr {
    return {
      ino: node.ino, size: node.size, blocks: Math.ceil(node.size / 512),
      atime: this.time, mtime: this.time, ctime: this.time, atimensec: 0, mtimensec: 0, ctimensec: 0,
      mode: node.mode, nlink: node.mode & S_IFDIR ? 2 : 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0,
    };
  }
}

/** What mountTestFs needs of a tap Test (kept structural: the benchmark has no tap). */
export interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface Mounted {
  readonly fs: TestFs;
  readonly m: MountedSession;
  readonly dir: string;
  /** Absolute path of a file in the mount. */
  path(name: string): string;
}

/**
 * Mounts a fresh TestFs (or `tfs`, e.g. a subclass) on a new temporary directory; t.teardown unmounts
 * it and removes the directory, also when the test fails.
 */
export async function mountTestFs(t: Teardownable, opts: TestFsOptions = {}, tfs: TestFs = new TestFs(opts)): Promise<Mounted> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'ptsfs-test-'));
  let m: MountedSession;
  try {
    m = await serve(dir, tfs, { subtype: 'ptsfstest', source: 'ptsfstest' });
  } catch (err) {
    await fs.promises.rmdir(dir);
    throw err;
  }
  tfs.session = m.session;
  live.add(dir);
  t.teardown(async () => {
    live.delete(dir);
    await m.stop();
    await fs.promises.rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // the test removed it already
    });
  });
  return { fs: tfs, m, dir, path: (name: string) => path.join(dir, name) };
}

// Last resort for a test process that dies with mounts up (a tap timeout,
// SIGTERM): detach them, so no dead mount outlives the suite.
const live = new Set<string>();
function detachAll(): void {
  for (const dir of live) {
    try {
      umount2(dir, MNT_DETACH);
      fs.rmdirSync(dir);
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.on('exit', detachAll);
process.once('SIGTERM', () => {
  detachAll();
  process.kill(process.pid, 'SIGTERM');
});

/** Resolves once cond() holds; rejects after `ms` milliseconds naming `what`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
