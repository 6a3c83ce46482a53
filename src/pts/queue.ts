// The input queue of one side of a terminal: bytes the backing pty has for
// that side's readers, and the FUSE READs waiting for them (gVisor's
// queue.go plays this role over its own line discipline; ours is the
// backing pty's n_tty, so the queue only relays what n_tty hands out).
//
// The backing fd is watched by libuv (epoll), never read from a thread. Bytes
// are read eagerly into a bounded queue so that poll() can answer without a
// syscall; when the queue is full we stop reading, and the backing pty's own
// buffers push back on the writer, as a full tty does.
import * as fs from 'fs';
import type * as net from 'net';
import { EAGAIN, EINTR } from '../sys/errno';
import { dup, tryRead } from '../sys/libc';
import { watchFd } from '../sys/watch';
import type { ReadPort } from './port';

/** n_tty's read buffer (drivers/tty/n_tty.c): the most one pty read returns. */
const N_TTY_BUF_SIZE = 4096;

/** Bytes queued per side before we stop reading the backing fd. */
const QUEUE_LIMIT = 64 * 1024;

/** What a read finds when the queue is empty: wait, end of file, or an errno. */
export type WhenEmpty = 'wait' | 'eof' | number;

// One buffer for all backing reads of the process: a read either goes
// straight into a waiting FUSE reply or is copied into its queue before the
// next read, so no pty needs a buffer of its own while idle.
const readBuffer = Buffer.allocUnsafe(64 * 1024);

const EOF_MARK = Buffer.alloc(0);

export class InputQueue {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private readonly readers: ReadPort[] = [];
  private watcher: net.Socket | undefined;
  private paused = false;
  private closed = false;

  /**
   * @param fd the backing fd this side reads from (kept open by the owner)
   * @param onInput called after bytes arrived: wake pollers, retry writers
   * @param joinable whether a read may join bytes of several backing reads:
   *   yes in raw mode; in canonical mode each backing read is one line and a
   *   read returns at most one line, as n_tty does; never in packet mode
   */
  constructor(
    private readonly fd: number,
    private readonly onInput: () => void,
    private readonly joinable: () => boolean,
  ) {}

  /** A read would not wait: bytes or an end-of-file mark are queued. */
  get readable(): boolean {
    return this.chunks.length > 0;
  }

  /** Bytes taken from the backing pty and not read yet. */
  get queued(): number {
    return this.bytes;
  }

  /** Watches the backing fd from now on (idempotent): readers or pollers are here. */
  start(): void {
    if (!this.closed && !this.watcher) this.watch();
  }

  /** Serves a read; `whenEmpty` says what an empty queue means now. */
  read(req: ReadPort, nonblock: boolean, whenEmpty: WhenEmpty): void {
    this.start();
    if (this.chunks.length > 0 && this.readers.length === 0) {
      this.answer(req);
      return;
    }
    if (this.readers.length === 0 && !this.closed && this.readNow(req)) return;
    if (whenEmpty !== 'wait') return this.answerEmpty(req, whenEmpty);
    if (nonblock) return req.fail(EAGAIN);
    this.readers.push(req);
    req.onCancel(() => {
      this.drop(req);
      req.fail(EINTR);
    });
  }

  /** The side's state changed (hangup, other side closed): settle waiting readers. */
  settle(whenEmpty: WhenEmpty): void {
    while (this.readers.length > 0) {
      const req = this.readers[0]!;
      if (this.chunks.length > 0) {
        this.readers.shift();
        this.answer(req);
      } else if (whenEmpty !== 'wait') {
        this.readers.shift();
        this.answerEmpty(req, whenEmpty);
      } else {
        return;
      }
    }
  }

  /** Discards queued input (TCFLSH, TCSETSF). */
  flush(): void {
    this.chunks = [];
    this.bytes = 0;
    this.resumeIfRoom();
  }

  /**
   * Reads now, synchronously, what the backing fd has. A pty read flushes
   * the host's pending flip buffer first (n_tty_read), so this also catches
   * bytes still in flight inside the host kernel.
   */
  drain(): void {
    while (!this.closed && this.bytes < QUEUE_LIMIT) {
      const n = tryRead(this.fd, readBuffer);
      if (n < 0) return; // EAGAIN: nothing more
      if (n === 0) this.push(EOF_MARK);
      else this.received(n);
    }
  }

  /**
   * Queues bytes that did not come through the backing pty (TIOCSTI on the
   * master: the kernel hands them to the master's own line discipline).
   * What the backing fd holds now was there first, so it is read first.
   */
  inject(bytes: Buffer): void {
    this.drain();
    this.push(Buffer.from(bytes));
    this.onInput();
  }

  /** Stops watching; waiting readers are answered by `whenEmpty` (never left hanging). */
  close(whenEmpty: Exclude<WhenEmpty, 'wait'>): void {
    this.closed = true;
    this.watcher?.destroy();
    this.watcher = undefined;
    this.settle(whenEmpty);
  }

  private answer(req: ReadPort): void {
    const size = req.size;
    const first = this.chunks[0]!;
    if (first === EOF_MARK) {
      this.chunks.shift();
      req.eof();
      return;
    }
    if (first.length >= size || this.chunks.length === 1 || !this.joinable()) {
      const n = Math.min(size, first.length);
      req.give(first.subarray(0, n));
      this.consume(n);
      return;
    }
    const parts: Buffer[] = [];
    let n = 0;
    for (const c of this.chunks) {
      if (c === EOF_MARK || n === size) break;
      const take = Math.min(c.length, size - n);
      parts.push(take === c.length ? c : c.subarray(0, take));
      n += take;
    }
    req.give(...parts);
    this.consume(n);
  }

  private answerEmpty(req: ReadPort, whenEmpty: Exclude<WhenEmpty, 'wait'>): void {
    if (whenEmpty === 'eof') req.eof();
    else req.fail(whenEmpty);
  }

  /** Removes n bytes from the head of the queue. */
  private consume(n: number): void {
    this.bytes -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        this.chunks.shift();
        n -= c.length;
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
    this.resumeIfRoom();
  }

  private drop(req: ReadPort): void {
    const i = this.readers.indexOf(req);
    if (i >= 0) this.readers.splice(i, 1);
  }

  // --- the backing side ---

  private watch(): void {
    // libuv closes the fd it watches when the stream ends, and a pty read
    // of 0 bytes (VEOF typed in canonical mode) looks like an end to it; so
    // it gets a dup, and after such an end we queue an EOF mark and watch a
    // fresh dup: the next read goes on past the VEOF, as on a tty.
    const watched = dup(this.fd);
    let socket: net.Socket;
    try {
      socket = watchFd(watched, readBuffer, (n) => this.received(n));
    } catch (err) {
      fs.closeSync(watched);
      throw err;
    }
    socket.on('end', () => {
      if (this.watcher !== socket) return;
      this.push(EOF_MARK);
      this.watcher = undefined;
      socket.destroy();
      if (!this.closed) this.watch();
      this.onInput();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // EIO: the other end of the backing pty is gone; only at teardown.
      if (this.watcher === socket && err.code !== 'EIO') console.error('ptsfs: backing pty read failed:', err);
      if (this.watcher === socket) this.watcher = undefined;
    });
    this.watcher = socket;
    this.paused = false;
  }

  /**
   * Reads the backing fd for `req` before making it wait. Bytes written a
   * moment ago may still be in the host's flip buffer, which n_tty_read
   * flushes before it gives up: asking now saves waiting for epoll and is
   * most of a ping-pong's latency. Returns whether req was answered.
   */
  private readNow(req: ReadPort): boolean {
    this.readers.push(req);
    const n = tryRead(this.fd, readBuffer, 0, Math.min(req.size, readBuffer.length));
    if (n > 0) this.deliver(n);
    else if (n === 0) this.push(EOF_MARK); // VEOF in canonical mode
    else this.readers.pop(); // EAGAIN
    return n >= 0;
  }

  /** libuv read `n` bytes into readBuffer; returns false to stop reading (queue full). */
  private received(n: number): boolean {
    this.deliver(n);
    if (this.bytes >= QUEUE_LIMIT) {
      this.paused = true;
      return false;
    }
    return true;
  }

  /** Hands readBuffer[0, n) to waiting readers, queueing the rest. */
  private deliver(n: number): void {
    // A pty read returns at most one n_tty buffer (4 KiB). When a full one
    // came and a reader waits in raw mode, take what else the backing pty
    // has right now, so that one FUSE reply carries up to what was asked.
    if (n >= N_TTY_BUF_SIZE - 1 && this.readers.length > 0 && this.chunks.length === 0 && this.joinable()) {
      n = this.readMore(n, Math.min(this.readers[0]!.size, readBuffer.length));
    }
    let data = readBuffer.subarray(0, n);
    // A waiting reader takes the bytes straight from the read buffer.
    while (data.length > 0 && this.chunks.length === 0 && this.readers.length > 0) {
      const req = this.readers.shift()!;
      const take = Math.min(req.size, data.length);
      req.give(data.subarray(0, take));
      data = data.subarray(take);
    }
    if (data.length > 0) this.push(Buffer.from(data));
    this.onInput();
  }

  /**
   * Appends to readBuffer[0, n) what the backing fd has now, up to `limit`;
   * returns the new length. Before each read, writers blocked on this pty
   * are moved on (onInput): the room our last read made lets them refill it,
   * so a waiting writer and a waiting reader are pumped through the backing
   * pty within one event instead of one epoll round per 4 KiB.
   */
  private readMore(n: number, limit: number): number {
    while (n < limit) {
      this.onInput();
      const more = tryRead(this.fd, readBuffer, n, limit - n);
      if (more <= 0) break; // EAGAIN (a 0-byte read is VEOF, which raw mode has not)
      n += more;
    }
    return n;
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    // Readers wait only while the queue is empty: serve them now.
    if (this.readers.length > 0) this.settle('wait');
  }

  private resumeIfRoom(): void {
    if (this.paused && this.bytes < QUEUE_LIMIT && this.watcher) {
      this.paused = false;
      this.watcher.resume();
    }
  }
}
