// The master side of a pty: the file a ptmx open returns (pty.c, the
// PTY_TYPE_MASTER half).
import { POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../sys/poll';
import type { Req } from '../fuse';
import { ttyIoctl } from './ioctl';
import type { PtsFile } from './file';
import type { Terminal } from './terminal';

export class MasterFile implements PtsFile {
  constructor(readonly term: Terminal) {}

  /** Pending output first; then EIO once every replica closed (TTY_OTHER_CLOSED); else wait. */
  read(req: Req<'read'>, nonblock: boolean): void {
    const t = this.term;
    t.masterIn.read(req, nonblock, t.otherClosedErrno());
  }

  write(req: Req<'write'>, nonblock: boolean): void {
    this.term.masterOut.write(req, nonblock);
  }

  ioctl(req: Req<'ioctl'>): void {
    ttyIoctl(req, this.term, 'master');
  }

  /** n_tty_poll(): HUP once the replicas are gone, IN with output pending, OUT with room. */
  poll(kh: number | undefined): number {
    const t = this.term;
    if (kh !== undefined) t.masterPollers.add(kh);
    t.masterIn.start();
    let events = 0;
    if (t.masterIn.readable) events |= POLLIN | POLLRDNORM;
    if (t.otherClosed) events |= POLLHUP;
    if (t.masterOut.writable) events |= POLLOUT | POLLWRNORM;
    return events;
  }

  release(): void {
    this.term.masterClosed();
  }
}
