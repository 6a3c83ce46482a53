// One FUSE connection: reads requests from /dev/fuse, dispatches them to
// handlers by the opcode table, and writes replies. Handlers may answer
// later (a read that waits for input): the session then holds the request by
// its unique id until it is answered or interrupted.
//
// The read loop runs on the event loop, not in the libuv threadpool: libuv
// reads the fd when epoll says it is readable (sys/watch.ts). One process can
// serve hundreds of connections with no thread per connection (a blocking
// fs.read loop would pin one threadpool thread each).
import * as fs from 'fs';
import type * as net from 'net';
import { EINTR, ENOSYS, EIO, EPROTO } from '../sys/errno';
import { tryRead } from '../sys/libc';
import { watchFd } from '../sys/watch';
import {
  CUSE_INIT_INFO_MAX, CUSE_UNRESTRICTED_IOCTL, FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, FUSE_MIN_READ_BUFFER,
  InitFlag, NotifyCode, Opcode,
} from './abi';
import { decodeRequest, encodeOutHeader, type Decoded, type ForgetOne, type InHeader } from './codec';
import { type AnyOp, type OpSpec } from './opcodes';
import { readU64, type Struct } from './struct';
import {
  cuseInitIn, cuseInitOut, initOut, notifyInvalEntryOut, notifyInvalInodeOut, notifyPollWakeupOut, outHeader,
  type ValueOf, initIn,
} from './structs';

/** Largest WRITE payload we accept; 64 KiB pty writes then arrive whole. */
export const MAX_WRITE = 128 * 1024;
const PAGE_SIZE = 4096;
/** fs/fuse/dev.c refuses reads smaller than header + write_in + max_write. */
const READ_BUFFER_SIZE = Math.max(FUSE_MIN_READ_BUFFER, MAX_WRITE + PAGE_SIZE);
const REPLY_SCRATCH_SIZE = 4096;

// One read buffer for every connection of the process: a request is fully
// handled (or the bytes a handler keeps are copied) before the next read
// overwrites it, so hundreds of idle mounts cost no buffer each.
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
/** Where replies are encoded; each is written synchronously, so one suffices. */
const scratch = Buffer.alloc(REPLY_SCRATCH_SIZE);

/** Requests one connection may take from a single readiness event (libuv takes up to 32). */
const DRAIN_MAX = 16;

/** A request as a handler sees it; answer it exactly once. */
export class Request<A extends object = object, R extends object = object> {
  private done_ = false;
  private held = false;
  private interruptHook: (() => void) | undefined;

  constructor(
    /** The connection that carried it (a namespace may serve several: its mount and its CUSE devices). */
    readonly session: Session,
    private readonly op: AnyOp,
    readonly header: InHeader,
    readonly arg: A,
    readonly name: string | undefined,
    readonly name2: string | undefined,
    /** Request bytes (WRITE, IOCTL input): valid only until the handler returns; copy to keep. */
    readonly data: Buffer | undefined,
    readonly forgets: ForgetOne[] | undefined,
  ) {}

  get unique(): number { return this.header.unique; }
  get nodeid(): number { return this.header.nodeid; }
  get uid(): number { return this.header.uid; }
  get gid(): number { return this.header.gid; }
  /** Caller's thread id, in the pid namespace of the mounter. */
  get pid(): number { return this.header.pid; }
  /** True once answered (or interrupted, or the connection ended). */
  get done(): boolean { return this.done_; }

  /** Answers with the op's reply struct, optionally followed by bytes (IOCTL output). */
  reply(value: R, tail?: Buffer): void {
    if (typeof this.op.reply === 'string') throw new TypeError(`${this.op.method} does not reply with a struct`);
    if (this.finish()) this.session.sendStruct(this.unique, this.op.reply as Struct<R>, value, tail);
  }

  /** Answers with raw bytes (READ, READDIR, GETXATTR). */
  replyData(...bufs: Buffer[]): void {
    if (this.finish()) this.session.sendBuffers(this.unique, bufs);
  }

  /** Answers success with no body (UNLINK, RELEASE, FLUSH, ...). */
  ok(): void {
    if (this.finish()) this.session.sendError(this.unique, 0);
  }

  /** Answers with -errno. */
  error(errno: number): void {
    if (this.finish()) this.session.sendError(this.unique, -errno);
  }

  /**
   * Called when the caller got a signal while waiting for this request
   * (FUSE_INTERRUPT). The hook must answer the request; without a hook the
   * session answers EINTR, as the kernel must not wait for a killed caller.
   */
  onInterrupt(hook: () => void): void {
    this.interruptHook = hook;
  }

  /** @internal */
  interrupt(): void {
    if (this.done_) return;
    if (this.interruptHook) this.interruptHook();
    if (!this.done_) this.error(EINTR);
  }

  /** @internal the handler returned without answering: keep it by unique. */
  hold(): void {
    if (!this.done_) {
      this.held = true;
      this.session.pending.set(this.unique, this);
    }
  }

  /** @internal the connection is gone: drop without a reply. */
  abandon(): void {
    this.done_ = true;
  }

  private finish(): boolean {
    if (this.done_) return false;
    this.done_ = true;
    if (this.held) this.session.pending.delete(this.unique);
    return true;
  }
}

type ArgOf<O> = O extends OpSpec<string, infer A, object> ? A : never;
type ReplyOf<O> = O extends OpSpec<string, object, infer R> ? R : never;
/** The request type a handler of op O receives. */
export type RequestOf<O> = Request<ArgOf<O>, ReplyOf<O>>;

type SessionOps = 'init' | 'cuseInit' | 'interrupt';
/** A filesystem: one optional method per opcode; missing methods answer ENOSYS. */
export type Handlers = {
  [O in AnyOp as O['method'] extends SessionOps ? never : O['method']]?: (req: RequestOf<O>) => void;
};
/** Request type by handler method name, e.g. `Req<'read'>`. */
export type Req<M extends keyof Handlers> = Parameters<NonNullable<Handlers[M]>>[0];

export interface ConnInfo {
  readonly major: number;
  readonly minor: number;
  readonly flags: number;
}

/** The character device a /dev/cuse session asks the kernel for in its CUSE_INIT reply. */
export interface CuseDevice {
  /** DEVNAME: /sys/class/cuse/NAME, and /dev/NAME on devtmpfs ('!' or '/' make subdirectories). */
  readonly name: string;
  readonly major: number;
  readonly minor: number;
}

/** The oldest protocol we speak: kernels before 5.9 lack what we rely on. */
const MIN_KERNEL_MINOR = 31;

/** The flags we ask for in INIT, when the kernel offers them. */
const WANTED_INIT_FLAGS =
  InitFlag.ASYNC_READ | InitFlag.ATOMIC_O_TRUNC | InitFlag.BIG_WRITES | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES;

export class Session {
  /** Requests answered later, by unique. */
  readonly pending = new Map<number, Request>();
  readonly ready: Promise<ConnInfo>;
  readonly closed: Promise<Error | undefined>;
  private conn: ConnInfo | undefined;
  private readonly socket: net.Socket;
  private isClosed = false;
  private resolveReady!: (c: ConnInfo) => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: (e: Error | undefined) => void;

  /**
   * @param fd a /dev/fuse connection, or a /dev/cuse one when `cuse` names
   *   the device to create (then CUSE_INIT, not INIT, starts the session)
   */
  constructor(readonly fd: number, private readonly handlers: Handlers, readonly cuse?: CuseDevice) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.socket = watchFd(fd, readBuffer, (n) => {
      this.receive(readBuffer, n);
      this.drain();
      return true;
    });
    // The connection is gone, which is how a session ends: ENODEV once the
    // filesystem is unmounted, ECONNABORTED when the kernel aborted it
    // (fuse_dev_do_read: fc->aborted), as it may when a detached mount's
    // last file closes.
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.shutdown(err.code === 'ENODEV' || err.code === 'ECONNABORTED' ? undefined : err));
    this.socket.on('end', () => this.shutdown(undefined));
    this.socket.on('close', () => this.shutdown(undefined));
  }

  get info(): ConnInfo | undefined { return this.conn; }

  /** notifyPoll as a value that stays the same for the life of the session (pollers are kept by it). */
  readonly wakePoller = (kh: number): void => this.notifyPoll(kh);
  get isOpen(): boolean { return !this.isClosed; }

  /** Ends the connection from our side: the kernel aborts it (callers see ENOTCONN). */
  close(): void {
    this.shutdown(undefined);
  }

  // --- notifications (fs/fuse/dev.c fuse_notify) ---

  /** Wakes pollers of the file whose POLL carried this kh. */
  notifyPoll(kh: number): void {
    this.sendNotify(NotifyCode.POLL, notifyPollWakeupOut, { kh });
  }

  /**
   * Drops the cached dentry `name` in directory `parent`. The kernel takes
   * the directory's lock for this, which a request we are serving may hold:
   * the write goes through the threadpool so the event loop never waits.
   */
  notifyInvalEntry(parent: number, name: string): Promise<void> {
    const nameBytes = Buffer.from(`${name}\0`);
    const body = notifyInvalEntryOut.pack({ parent, namelen: nameBytes.length - 1, flags: 0 });
    return this.sendNotifyAsync(NotifyCode.INVAL_ENTRY, [body, nameBytes]);
  }

  /** Drops cached attributes (and data in [off, off+len), len 0: all) of an inode. */
  notifyInvalInode(ino: number, off = 0, len = 0): Promise<void> {
    return this.sendNotifyAsync(NotifyCode.INVAL_INODE, [notifyInvalInodeOut.pack({ ino, off, len })]);
  }

  // --- the read side ---

  /**
   * Right after answering, the caller's next request is often queued
   * already (on a shared CPU our reply's write(2) let it run): read it now,
   * without another trip through epoll and an event loop iteration, which
   * cost ~3 us a request. A read that finds nothing (EAGAIN: the fd is
   * non-blocking) or fails (ENODEV after an unmount: libuv's own read then
   * reports it) ends the drain; so does a bound, so that one busy connection
   * cannot starve the others.
   */
  private drain(): void {
    for (let i = 0; i < DRAIN_MAX && !this.isClosed; i++) {
      const n = tryRead(this.fd, readBuffer);
      if (n <= 0) return;
      this.receive(readBuffer, n);
    }
  }

  private receive(buf: Buffer, length: number): void {
    let d: Decoded;
    try {
      d = decodeRequest(buf, length);
    } catch (err) {
      // The kernel never sends malformed requests; if we misparse one, say so
      // and fail only that request.
      const unique = length >= 16 ? readU64(buf, 8) : 0; // fuse_in_header.unique
      console.error(`ptsfs: bad FUSE request: ${(err as Error).message}`);
      if (unique) this.sendError(unique, -EIO);
      return;
    }
    const { header, op } = d;
    if (!op) {
      this.sendError(header.unique, -ENOSYS);
      return;
    }
    if (op.opcode === Opcode.INIT && !this.cuse) return this.init(header, d.arg as ValueOf<typeof initIn>);
    if (op.opcode === Opcode.CUSE_INIT && this.cuse) return this.cuseInit(header, d.arg as ValueOf<typeof cuseInitIn>, this.cuse);
    if (op.opcode === Opcode.INIT || op.opcode === Opcode.CUSE_INIT) return this.refuse(header, `${op.method} on the wrong device`);
    if (op.opcode === Opcode.INTERRUPT) return this.interrupt((d.arg as { unique: number }).unique);
    const req = new Request(this, op, header, d.arg ?? {}, d.name, d.name2, d.data, d.forgets);
    const handler = (this.handlers as Record<string, ((r: Request) => void) | undefined>)[op.method];
    if (!handler) {
      if (op.reply !== 'none') req.error(ENOSYS);
      return;
    }
    try {
      handler.call(this.handlers, req);
    } catch (err) {
      console.error(`ptsfs: ${op.method} handler failed:`, err);
      if (op.reply !== 'none') req.error(EIO);
      return;
    }
    if (op.reply === 'none') req.abandon();
    else req.hold();
  }

  /** FUSE_INTERRUPT: no reply to it; the target is answered (EINTR unless its hook says otherwise). */
  private interrupt(target: number): void {
    const req = this.pending.get(target);
    if (!req) return; // answered already
    try {
      req.interrupt();
    } catch (err) {
      console.error('ptsfs: interrupt hook failed:', err);
      // A caller must never wait forever, even on our bug.
      req.error(EINTR);
    }
  }

  /** Answers so that the mount (or device creation) fails cleanly. */
  private refuse(header: InHeader, why: string): void {
    this.sendError(header.unique, -EPROTO);
    this.rejectReady(new Error(why));
  }

  private init(header: InHeader, arg: ValueOf<typeof initIn>): void {
    if (arg.major !== FUSE_KERNEL_VERSION || arg.minor < MIN_KERNEL_MINOR) {
      return this.refuse(header, `unsupported FUSE protocol ${arg.major}.${arg.minor}`);
    }
    const flags = arg.flags & WANTED_INIT_FLAGS;
    this.conn = { major: FUSE_KERNEL_VERSION, minor: Math.min(arg.minor, FUSE_KERNEL_MINOR_VERSION), flags };
    this.sendStruct(header.unique, initOut, {
      major: FUSE_KERNEL_VERSION,
      minor: FUSE_KERNEL_MINOR_VERSION,
      max_readahead: arg.max_readahead,
      flags,
      max_background: 64,
      congestion_threshold: 48,
      max_write: MAX_WRITE,
      time_gran: 1,
      max_pages: MAX_WRITE / PAGE_SIZE,
      map_alignment: 0,
      flags2: 0,
    });
    this.resolveReady(this.conn);
  }

  /**
   * CUSE_INIT: the reply names the device; the kernel creates it while
   * taking this write (cuse_process_init_reply), or aborts the connection
   * if the number or the name is taken.
   */
  private cuseInit(header: InHeader, arg: ValueOf<typeof cuseInitIn>, dev: CuseDevice): void {
    if (arg.major !== FUSE_KERNEL_VERSION || arg.minor < MIN_KERNEL_MINOR) {
      return this.refuse(header, `unsupported CUSE protocol ${arg.major}.${arg.minor}`);
    }
    const info = Buffer.from(`DEVNAME=${dev.name}\0`);
    if (info.length > CUSE_INIT_INFO_MAX) return this.refuse(header, `CUSE device name too long: ${dev.name}`);
    const flags = arg.flags & CUSE_UNRESTRICTED_IOCTL;
    this.conn = { major: FUSE_KERNEL_VERSION, minor: Math.min(arg.minor, FUSE_KERNEL_MINOR_VERSION), flags };
    this.sendStruct(header.unique, cuseInitOut, {
      major: FUSE_KERNEL_VERSION,
      minor: FUSE_KERNEL_MINOR_VERSION,
      flags,
      max_read: MAX_WRITE,
      max_write: MAX_WRITE,
      dev_major: dev.major,
      dev_minor: dev.minor,
    }, info);
    this.resolveReady(this.conn);
  }

  private shutdown(err: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const req of this.pending.values()) req.abandon();
    this.pending.clear();
    this.rejectReady(err ?? new Error('FUSE connection ended before INIT'));
    this.socket.destroy(); // closes the fd: the kernel aborts the connection if still mounted
    this.resolveClosed(err);
  }

  // --- the write side: every reply and notification is one write(2) ---

  // A reply that fits the scratch buffer is assembled there and written
  // from it with one write(2): fs.writevSync costs ~0.7 us more than
  // writeSync (array marshalling), and a subarray view per reply is an
  // allocation. Larger replies (READ data) go out with writev, uncopied.

  /** @internal */
  sendStruct<T extends object>(unique: number, s: Struct<T>, value: T, tail?: Buffer): void {
    const tailLen = tail ? tail.length : 0;
    const hlen = encodeOutHeader(scratch, unique, 0, s.size + tailLen);
    s.encode(value, scratch, hlen);
    const n = hlen + s.size;
    if (tailLen === 0) return this.writeScratch(n);
    if (n + tailLen <= scratch.length) {
      tail!.copy(scratch, n);
      return this.writeScratch(n + tailLen);
    }
    this.write([scratch.subarray(0, n), tail!]);
  }

  /** @internal */
  sendBuffers(unique: number, bufs: Buffer[]): void {
    let n = 0;
    for (const b of bufs) n += b.length;
    const hlen = encodeOutHeader(scratch, unique, 0, n);
    if (hlen + n <= scratch.length) {
      let off = hlen;
      for (const b of bufs) off += b.copy(scratch, off);
      return this.writeScratch(off);
    }
    this.write([scratch.subarray(0, hlen), ...bufs]);
  }

  /** @internal */
  sendError(unique: number, error: number): void {
    this.writeScratch(encodeOutHeader(scratch, unique, error, 0));
  }

  private writeScratch(length: number): void {
    if (this.isClosed) return;
    try {
      fs.writeSync(this.fd, scratch, 0, length);
    } catch (err) {
      writeFailed(err);
    }
  }

  private write(bufs: Buffer[]): void {
    if (this.isClosed) return;
    try {
      if (bufs.length === 1) fs.writeSync(this.fd, bufs[0]!, 0, bufs[0]!.length);
      else fs.writevSync(this.fd, bufs);
    } catch (err) {
      writeFailed(err);
    }
  }

  private sendNotify<T extends object>(code: NotifyCode, s: Struct<T>, value: T): void {
    // A notification is a reply with unique 0 and the notify code in error.
    const hlen = outHeader.encode({ len: outHeader.size + s.size, error: code, unique: 0 }, scratch, 0);
    s.encode(value, scratch, hlen);
    this.writeScratch(hlen + s.size);
  }

  private sendNotifyAsync(code: NotifyCode, body: Buffer[]): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    let len = outHeader.size;
    for (const b of body) len += b.length;
    const msg = Buffer.concat([outHeader.pack({ len, error: code, unique: 0 }), ...body]);
    return new Promise((resolve) => {
      fs.write(this.fd, msg, 0, msg.length, null, (err) => {
        // ENOENT: nothing cached under that name or inode, which is fine.
        if (err && err.code !== 'ENOENT' && err.code !== 'ENODEV' && err.code !== 'EBADF') {
          console.error('ptsfs: FUSE notification failed:', err);
        }
        resolve();
      });
    });
  }
}

function writeFailed(err: unknown): void {
  const code = (err as NodeJS.ErrnoException).code;
  // ENOENT: the request was aborted meanwhile (its caller was killed and
  // the kernel gave up on it); ENODEV: the connection is gone.
  if (code !== 'ENOENT' && code !== 'ENODEV') console.error('ptsfs: FUSE reply failed:', err);
}
