// The replica side of a pty: the file an open of entry N returns (pty.c,
// the PTY_TYPE_SLAVE half; "slave" in the kernel's words).
import { EIO } from '../sys/errno';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../sys/poll';
import type { Req } from '../fuse';
import { ttyIoctl } from './ioctl';
import type { PtsFile } from './file';
import type { Terminal } from './terminal';

/** hung_up_tty_poll() */
const HUNG_UP_EVENTS = POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM;

export class ReplicaFile implements PtsFile {
  constructor(readonly term: Terminal) {
    term.replicaOpened();
  }

  /** After a hangup every read is end of file (hung_up_tty_read). */
  read(req: Req<'read'>, nonblock: boolean): void {
    const t = this.term;
    if (t.hungUp) return req.replyData();
    t.slaveIn.read(req, nonblock, 'wait');
  }

  /** After a hangup writes fail with EIO (hung_up_tty_write). */
  write(req: Req<'write'>, nonblock: boolean): void {
    if (this.term.hungUp) return req.error(EIO);
    this.term.slaveOut.write(req, nonblock);
  }

  ioctl(req: Req<'ioctl'>): void {
    ttyIoctl(req, this.term, 'replica');
  }

  poll(kh: number | undefined): number {
    const t = this.term;
    if (t.hungUp) return HUNG_UP_EVENTS;
    if (kh !== undefined) t.slavePollers.add(kh);
    t.slaveIn.start();
    let events = 0;
    if (t.slaveIn.readable) events |= POLLIN | POLLRDNORM;
    if (t.slaveOut.writable) events |= POLLOUT | POLLWRNORM;
    return events;
  }

  release(): void {
    this.term.replicaClosed();
  }
}
