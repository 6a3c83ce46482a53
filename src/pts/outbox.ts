// The output side of one terminal side: FUSE WRITEs going into the backing
// pty. A write is answered when the backing pty took all of it, with the
// count, as n_tty_write() blocks until done; interrupted, it answers what
// was written so far (or EINTR if nothing was).
//
// When the backing pty is full (EAGAIN), room comes back only when the
// daemon itself reads the other end of that pty, so the terminal calls
// retry() after each such read: no timer, no thread.
import { EAGAIN, EINTR, EIO } from '../sys/errno';
import { tryWrite } from '../sys/libc';
import type { Req } from '../fuse';

interface Blocked {
  readonly req: Req<'write'>;
  /** The bytes not yet written (a copy: the request's data dies with its handler). */
  rest: Buffer;
  written: number;
}

export class Outbox {
  private readonly blocked: Blocked[] = [];

  constructor(private readonly fd: number) {}

  /** No writer is waiting: a write would go straight into the backing pty. */
  get writable(): boolean {
    return this.blocked.length === 0;
  }

  write(req: Req<'write'>, nonblock: boolean): void {
    const data = req.data ?? Buffer.alloc(0);
    // Writers are served in order: a new write never overtakes a blocked one.
    const n = this.blocked.length === 0 ? this.push(data) : 0;
    if (n < 0) return req.error(EIO);
    if (n === data.length) return req.reply({ size: n });
    if (nonblock) return n > 0 ? req.reply({ size: n }) : req.error(EAGAIN);
    const entry: Blocked = { req, rest: Buffer.from(data.subarray(n)), written: n };
    this.blocked.push(entry);
    req.onInterrupt(() => {
      const i = this.blocked.indexOf(entry);
      if (i >= 0) this.blocked.splice(i, 1);
      if (entry.written > 0) req.reply({ size: entry.written });
      else req.error(EINTR);
    });
  }

  /** The backing pty may have room again: move blocked writers on. */
  retry(): void {
    while (this.blocked.length > 0) {
      const b = this.blocked[0]!;
      const n = this.push(b.rest);
      if (n < 0) {
        this.blocked.shift();
        b.req.error(EIO);
        continue;
      }
      b.written += n;
      if (n < b.rest.length) {
        b.rest = b.rest.subarray(n);
        return;
      }
      this.blocked.shift();
      b.req.reply({ size: b.written });
    }
  }

  /** Answers every blocked writer with errno (hangup: EIO). */
  fail(errno: number): void {
    for (const b of this.blocked.splice(0)) {
      if (b.written > 0) b.req.reply({ size: b.written });
      else b.req.error(errno);
    }
  }

  /** Writes what the backing pty takes now: bytes written, 0 when full, -1 on error. */
  private push(data: Buffer): number {
    const n = tryWrite(this.fd, data);
    if (n === -EAGAIN) return 0;
    // A short count means the pty is full now (n_tty_write takes all the
    // room there is); asking again would only find EAGAIN, and on a pty even
    // a write that takes nothing schedules the flip-buffer work.
    return n < 0 ? -1 : n;
  }
}
