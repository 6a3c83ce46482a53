// The master side of a pty: the file a ptmx open returns (pty.c, the
// PTY_TYPE_MASTER half).
import { EIO } from '../sys/errno';
import { POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../sys/poll';
import type { Req } from '../fuse';
import { HUNG_UP_EVENTS, ttyIoctl, type TtyFile } from './ioctl';
import type { PtsFile } from './file';
import type { PollWaker, ReadPort, WritePort } from './port';
import type { Terminal } from './terminal';

type Traffic = Terminal['traffic'];

/** A master read that adds what it returns to the pty's `shown` count. */
class CountedRead implements ReadPort {
  constructor(private readonly port: ReadPort, private readonly traffic: Traffic) {}
  get size(): number { return this.port.size; }
  give(...chunks: Buffer[]): void {
    for (const c of chunks) this.traffic.shown += c.length;
    this.port.give(...chunks);
  }
  eof(): void { this.port.eof(); }
  fail(errno: number): void { this.port.fail(errno); }
  onCancel(hook: () => void): void { this.port.onCancel(hook); }
}

/** A master write that adds what it wrote to the pty's `typed` count. */
class CountedWrite implements WritePort {
  constructor(private readonly port: WritePort, private readonly traffic: Traffic) {}
  get data(): Buffer { return this.port.data; }
  done(count: number): void {
    this.traffic.typed += count;
    this.port.done(count);
  }
  fail(errno: number): void { this.port.fail(errno); }
  onCancel(hook: () => void): void { this.port.onCancel(hook); }
}

export class MasterFile implements PtsFile, TtyFile {
  readonly side = 'master';
  /** TIOCVHANGUP on this fd: it reads EOF and fails writes, as a hung-up file does. */
  hungUp = false;

  constructor(readonly term: Terminal, readonly readable: boolean) {}

  /** Pending output first; then EIO once every replica closed (TTY_OTHER_CLOSED); else wait. */
  read(port: ReadPort, nonblock: boolean): void {
    if (this.hungUp) return port.eof();
    const t = this.term;
    t.master.input.read(new CountedRead(port, t.traffic), nonblock, t.otherClosedErrno());
  }

  /** Signal keys typed here act on the replica's foreground group (the outbox's key filter). */
  write(port: WritePort, nonblock: boolean): void {
    if (this.hungUp) return port.fail(EIO);
    this.term.master.output.write(new CountedWrite(port, this.term.traffic), nonblock);
  }

  ioctl(req: Req<'ioctl'>): void {
    ttyIoctl(req, this);
  }

  /** n_tty_poll(): HUP once the replicas are gone, IN with output pending, OUT with room. */
  poll(kh: number | undefined, waker: PollWaker): number {
    if (this.hungUp) return HUNG_UP_EVENTS;
    const t = this.term;
    if (kh !== undefined) t.master.addPoller(kh, waker);
    t.master.input.start();
    let events = 0;
    if (t.master.input.readable) events |= POLLIN | POLLRDNORM;
    if (t.otherClosed) events |= POLLHUP;
    if (t.master.output.writable) events |= POLLOUT | POLLWRNORM;
    return events;
  }

  /** tty_vhangup() of the master: pty_close() then hangs up the replica too. */
  vhangup(): void {
    this.hungUp = true;
    this.term.hangUp();
  }

  release(): void {
    this.term.masterClosed();
  }
}
