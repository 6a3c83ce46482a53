// The output side of one terminal side: writes going into the backing
// pty. A write is answered when the backing pty took all of it, with the
// count, as n_tty_write() blocks until done; interrupted, it answers what
// was written so far (or EINTR if nothing was).
//
// When the backing pty is full (EAGAIN), room comes back only when the
// daemon itself reads the other end of that pty, so the terminal calls
// retry() after each such read: no timer, no thread. Output stopped by ^S
// or TCOOFF is the exception: it starts again without any read of ours, so
// then the next byte is handed to libuv, which writes it once epoll says
// there is room (pty_write_room() is 0 while stopped), and the rest follows.
import { EAGAIN, EINTR, EIO } from '../sys/errno';
import { tryWrite } from '../sys/libc';
import { RoomWaiter } from '../sys/watch';
import type { WritePort } from './port';

/**
 * Bytes the emulation must act on as well as write into the backing pty
 * (the line discipline's signal keys on the master side): each is acted on
 * once the backing pty took it, in order with the bytes around it.
 */
export interface KeyFilter {
  /** Index of the first such byte in data[from..), or -1. */
  find(data: Buffer, from: number): number;
  /** data[from, to) went into the backing pty (state that spans bytes, as VLNEXT). */
  passed(data: Buffer, from: number, to: number): void;
  /** These keys (each once, in order) went into the backing pty: act on them. */
  take(keys: readonly number[]): void;
}

interface Blocked {
  readonly port: WritePort;
  /** The bytes not yet written (a copy: the request's data dies with its handler). */
  rest: Buffer;
  written: number;
}

export class Outbox {
  private readonly blocked: Blocked[] = [];
  /** Output may be stopped: blocked writers wait for room through libuv. */
  private maybeStopped = false;
  private room: RoomWaiter | undefined;
  /** A byte is with libuv: nothing may overtake it. */
  private waitingForRoom = false;

  constructor(private readonly fd: number, private readonly filter?: KeyFilter) {}

  /** No writer is waiting: a write would go straight into the backing pty. */
  get writable(): boolean {
    return this.blocked.length === 0;
  }

  /** VSTOP went in with IXON, or TCOOFF: output may stay stopped until something we do not see. */
  mayBeStopped(): void {
    this.maybeStopped = true;
    this.waitForRoom();
  }

  write(port: WritePort, nonblock: boolean): void {
    const data = port.data;
    // Writers are served in order: a new write never overtakes a blocked one.
    const n = this.blocked.length === 0 ? this.push(data) : 0;
    if (n < 0) return port.fail(-n);
    if (n === data.length) return port.done(n);
    if (nonblock) return n > 0 ? port.done(n) : port.fail(EAGAIN);
    const entry: Blocked = { port, rest: Buffer.from(data.subarray(n)), written: n };
    this.blocked.push(entry);
    this.waitForRoom();
    port.onCancel(() => {
      const i = this.blocked.indexOf(entry);
      if (i >= 0) this.blocked.splice(i, 1);
      if (entry.written > 0) port.done(entry.written);
      else port.fail(EINTR);
    });
  }

  /** The backing pty may have room again: move blocked writers on. */
  retry(): void {
    if (this.waitingForRoom) return;
    while (this.blocked.length > 0) {
      const b = this.blocked[0]!;
      const n = this.push(b.rest);
      if (n < 0) {
        this.blocked.shift();
        if (b.written > 0) b.port.done(b.written);
        else b.port.fail(-n);
        continue;
      }
      b.written += n;
      if (n < b.rest.length) {
        b.rest = b.rest.subarray(n);
        return this.waitForRoom();
      }
      this.blocked.shift();
      b.port.done(b.written);
    }
  }

  /** Answers every blocked writer with errno (hangup: EIO). */
  fail(errno: number): void {
    for (const b of this.blocked.splice(0)) {
      if (b.written > 0) b.port.done(b.written);
      else b.port.fail(errno);
    }
    this.room?.close();
    this.room = undefined;
    this.waitingForRoom = false;
  }

  /**
   * While output may be stopped, the first blocked byte goes to libuv. It
   * counts as written (it is in the pty's hands, as in n_tty_write), and
   * the rest follows once it is in. Signal keys never go this way.
   */
  private waitForRoom(): void {
    const b = this.blocked[0];
    if (!this.maybeStopped || this.waitingForRoom || !b || this.filter?.find(b.rest, 0) === 0) return;
    this.waitingForRoom = true;
    const byte = Buffer.from(b.rest.subarray(0, 1));
    this.filter?.passed(b.rest, 0, 1);
    b.rest = b.rest.subarray(1);
    b.written += 1;
    if (b.rest.length === 0) {
      this.blocked.shift();
      b.port.done(b.written);
    }
    (this.room ??= new RoomWaiter(this.fd)).write(byte, (err) => {
      if (!this.waitingForRoom) return; // failed meanwhile
      this.waitingForRoom = false;
      this.maybeStopped = false;
      if (err) return this.fail(EIO);
      this.retry();
    });
  }

  /**
   * Writes what the backing pty takes now, handing the filter's bytes to it
   * in order: bytes consumed (0 when full), or -errno if nothing could be.
   */
  private push(data: Buffer): number {
    const n = tryWrite(this.fd, data, 0, data.length);
    if (n < 0 && n !== -EAGAIN) return n;
    const took = Math.max(n, 0);
    if (took > 0 && this.filter) this.actOnKeys(data, took);
    // A short count means the pty is full now (n_tty_write takes all the
    // room there is); asking again would only find EAGAIN, and on a pty
    // even a write that takes nothing schedules the flip-buffer work.
    return took;
  }

  /**
   * The keys among data[0, took), which went into the backing pty in one
   * write: acted on once each and in order, so that a flood of ^C costs
   * one write and at most one signal per key kind, not a syscall per byte.
   */
  private actOnKeys(data: Buffer, took: number): void {
    const f = this.filter!;
    const keys: number[] = [];
    let off = 0;
    for (let k = f.find(data, 0); k >= 0 && k < took; k = f.find(data, off)) {
      f.passed(data, off, k + 1);
      if (!keys.includes(data[k]!)) keys.push(data[k]!);
      off = k + 1;
    }
    if (off < took) f.passed(data, off, took);
    if (keys.length > 0) f.take(keys);
  }
}
