// The replica side of a pty: the file an open of entry N (or of `tty`, the
// caller's controlling terminal) returns (pty.c, the PTY_TYPE_SLAVE half;
// "slave" in the kernel's words).
import { EIO } from '../sys/errno';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../sys/poll';
import type { Req } from '../fuse';
import { HUNG_UP_EVENTS, ttyIoctl, type TtyFile } from './ioctl';
import { Caller } from './jobs';
import type { PtsFile } from './file';
import type { PollWaker, ReadPort, WritePort } from './port';
import type { Terminal } from './terminal';

export class ReplicaFile implements PtsFile, TtyFile {
  readonly side = 'replica';
  /** This fd was hung up (the master closed, or TIOCVHANGUP): hung_up_tty_fops from now on. */
  private vhungUp = false;

  constructor(readonly term: Terminal, readonly readable: boolean) {
    term.replicaOpened(this);
  }

  get hungUp(): boolean {
    return this.vhungUp || this.term.hungUp;
  }

  /** After a hangup every read is end of file (hung_up_tty_read). A background reader gets SIGTTIN (job_control()). */
  read(port: ReadPort, nonblock: boolean, caller: number): void {
    const t = this.term;
    if (this.hungUp) return port.eof();
    if (t.ctty) t.checkChange(new Caller(caller), 'SIGTTIN');
    t.slave.input.read(port, nonblock, 'wait');
  }

  /** After a hangup writes fail with EIO (hung_up_tty_write). With TOSTOP a background writer gets SIGTTOU. */
  write(port: WritePort, nonblock: boolean, caller: number): void {
    const t = this.term;
    if (this.hungUp) return port.fail(EIO);
    if (t.ctty && t.ldisc.tostop) t.checkChange(new Caller(caller), 'SIGTTOU');
    t.slave.output.write(port, nonblock);
  }

  ioctl(req: Req<'ioctl'>): void {
    ttyIoctl(req, this);
  }

  poll(kh: number | undefined, waker: PollWaker): number {
    const t = this.term;
    if (this.hungUp) return HUNG_UP_EVENTS;
    if (kh !== undefined) t.slave.addPoller(kh, waker);
    t.slave.input.start();
    let events = 0;
    if (t.slave.input.readable) events |= POLLIN | POLLRDNORM;
    if (t.slave.output.writable) events |= POLLOUT | POLLWRNORM;
    return events;
  }

  /** Called by the terminal when TIOCVHANGUP hangs up the replica's open files. */
  vhangup(): void {
    this.vhungUp = true;
  }

  release(): void {
    this.term.replicaClosed(this);
  }
}
