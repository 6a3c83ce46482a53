// The controlling-terminal state of one pty, what the kernel keeps in
// tty->ctrl: the session it controls and that session's foreground process
// group. The kernel holds these as struct pid references, so a signal can
// never reach a process that merely got the same number later. ptsfs holds
// them as pidfds for the same reason: the session leader's, and the
// foreground group leader's, which pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP)
// signals as a group even once its leader has exited.
import * as fs from 'fs';
import { EINVAL } from '../sys/errno';
import { killGroup, PIDFD_SIGNAL_PROCESS_GROUP, pidfdOpen, pidfdSignal, signalNumber } from '../sys/proc';
import { watchExit } from '../sys/watch';
import { nsPidsOf } from './jobs';

/** A process held by a pidfd. */
export class Pinned {
  readonly fd: number;
  /** Its NSpid when pinned, to name it in a caller's namespace after it is gone. */
  readonly nsPids: readonly number[];
  private closed = false;

  /** Pins `pid` (daemon's numbering); throws ESRCH if it is gone, EINVAL if it is no thread-group leader. */
  constructor(readonly pid: number) {
    this.fd = pidfdOpen(pid);
    this.nsPids = nsPidsOf(pid);
  }

  signal(sig: NodeJS.Signals): void {
    pidfdSignal(this.fd, signalNumber(sig));
  }

  /** kill_pgrp() on the group this process leads (or led). */
  signalGroup(sig: NodeJS.Signals): void {
    const n = signalNumber(sig);
    if (pidfdSignal(this.fd, n, PIDFD_SIGNAL_PROCESS_GROUP) !== EINVAL) return;
    // Before Linux 6.9: while the leader lives, its number is still this group's.
    if (pidfdSignal(this.fd, 0) === 0) killGroup(this.pid, n);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/** Sessions that have a ptsfs controlling tty, on any mount of this daemon: one each. */
const bySession = new Map<number, ControllingTty>();

/** The ptsfs controlling tty of session `sid` (daemon's numbering), if any. */
export function cttyOfSession(sid: number): ControllingTty | undefined {
  return bySession.get(sid);
}

export class ControllingTty {
  private fg: Pinned;
  private readonly unwatch: () => void;

  /**
   * @param leader the session leader that took the terminal (TIOCSCTTY)
   * @param onLeaderExit disassociate_ctty(1): called once when the leader exits
   */
  constructor(private readonly leader: Pinned, onLeaderExit: () => void) {
    this.fg = new Pinned(leader.pid);
    try {
      this.unwatch = watchExit(leader.fd, onLeaderExit);
    } catch (err) {
      this.fg.close();
      leader.close();
      throw err;
    }
    bySession.set(leader.pid, this);
  }

  /** The session, in the daemon's numbering (its leader's pid). */
  get sid(): number { return this.leader.pid; }
  get sessionNsPids(): readonly number[] { return this.leader.nsPids; }
  /** The foreground process group, in the daemon's numbering. */
  get pgrp(): number { return this.fg.pid; }
  get pgrpNsPids(): readonly number[] { return this.fg.nsPids; }

  setForeground(group: Pinned): void {
    this.fg.close();
    this.fg = group;
  }

  signalForeground(sig: NodeJS.Signals): void {
    this.fg.signalGroup(sig);
  }

  signalLeader(sig: NodeJS.Signals): void {
    this.leader.signal(sig);
  }

  /** The session no longer has this terminal: forget it and its pins. */
  release(): void {
    this.unwatch();
    if (bySession.get(this.sid) === this) bySession.delete(this.sid);
    this.fg.close();
    this.leader.close();
  }
}
