// One pty of a namespace: its two sides over the backing host pty pair,
// and the state devpts and drivers/tty keep for the pair: the lock, the
// life cycle, the controlling-terminal state and the line discipline's
// signal keys.
//
// Both ends of the backing pty stay open in the daemon for the pty's whole
// life, so the host kernel never sees them close: hangup, "other side
// closed" and end of file are this object's to emulate; and no process
// has the backing pty as its controlling tty, so job control is too.
import * as fs from 'fs';
import { EINTR, EIO, EPERM, SysError } from '../sys/errno';
import { setCloexec, tryWrite } from '../sys/libc';
import { kernelCtty, killGroup, signalNumber } from '../sys/proc';
import { getTermios, setWinsize, WINSIZE_SIZE } from '../sys/tty';
import { ControllingTty, cttyOfSession, Pinned } from './ctty';
import type { Caller } from './jobs';
import type { ChrDevice } from './chrdev';
import { LineDiscipline } from './ldisc';
import type { ReplicaFile } from './replica';
import { PtySide } from './side';

/** Ownership and mode of entry N (devpts_pty_new). */
export interface EntryAttrs {
  uid: number;
  gid: number;
  mode: number;
  ctime: number;
}

export interface BackingPty {
  readonly master: number;
  readonly slave: number;
}

interface NodePtyNative {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

/** Allocates a host pty through node-pty; the fds are ours to close. */
export function openBackingPty(): BackingPty {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const native = (require('node-pty') as { native: NodePtyNative }).native;
  const { master, slave } = native.open(80, 24);
  setCloexec(master);
  setCloexec(slave);
  // A new devpts pty has a 0x0 window; node-pty sets the size it was given.
  setWinsize(slave, Buffer.alloc(WINSIZE_SIZE));
  return { master, slave };
}

/**
 * open: both sides usable. hungUp: the master's last close (or a vhangup)
 * happened; replicas read EOF and write EIO, the entry is gone. gone: both
 * sides closed, the backing pty is closed and the index free.
 */
export type PtyState = 'open' | 'hungUp' | 'gone';

function fail(errno: number): never {
  throw new SysError('tty', errno);
}

export class Terminal {
  readonly master: PtySide;
  readonly slave: PtySide;
  readonly ldisc: LineDiscipline;
  /** entries=chr: the CUSE device entry N is; its number is what TIOCGDEV reports. */
  device: ChrDevice | undefined;
  /** TIOCSPTLCK: replicas cannot be opened while locked; new ptys start locked. */
  locked = true;
  /** TIOCPKT: each master read is one packet, never joined with the next. */
  packet = false;
  /** The session this is the controlling terminal of, and its foreground group. */
  private cttyNow: ControllingTty | undefined;
  private stateNow: PtyState = 'open';
  /** Open replica fds not hung up, and those hung up but not closed yet. */
  private readonly replicas = new Set<ReplicaFile>();
  private hungUpReplicas = 0;
  /** For `ptsfs list`: bytes written to the master (typed) and read from it (shown), and when the ptmx open made it. */
  readonly traffic = { typed: 0, shown: 0 };
  readonly openedAt = Date.now();
  /** TTY_OTHER_CLOSED on the master: a replica was open and all are closed now. */
  private everOpened = false;

  constructor(
    readonly index: number,
    readonly generation: number,
    readonly attrs: EntryAttrs,
    backing: BackingPty,
    private readonly onGone: (t: Terminal) => void,
  ) {
    this.ldisc = new LineDiscipline(getTermios(backing.slave));
    const keys = {
      find: (d: Buffer, from: number) => this.ldisc.find(d, from),
      passed: (d: Buffer, from: number, to: number) => {
        this.ldisc.passed(d, from, to);
        if (this.ldisc.stops(d, from, to)) this.slave.output.mayBeStopped();
      },
      take: (keys: readonly number[]) => this.signalKeys(keys),
    };
    this.master = new PtySide(backing.master, () => !this.packet, keys);
    this.slave = new PtySide(backing.slave, () => !this.ldisc.canonical);
    this.master.link(this.slave);
    this.slave.link(this.master);
    // The queues start watching the backing pty when a side is first read
    // or polled: until then its bytes wait in the host pty, which pushes
    // back on writers as it would with nobody reading, and a ptmx open that
    // is closed unused costs no watcher at all.
  }

  get state(): PtyState { return this.stateNow; }
  get hungUp(): boolean { return this.stateNow !== 'open'; }
  get ctty(): ControllingTty | undefined { return this.cttyNow; }

  /** The master reads EIO once data runs out (pty.c: TTY_OTHER_CLOSED). */
  get otherClosed(): boolean {
    return this.everOpened && this.replicas.size === 0;
  }

  /** Rereads the termios after a change: it decides how reads are cut and which keys signal. */
  termiosChanged(): void {
    this.ldisc.load(getTermios(this.slave.fd));
  }

  // --- the line discipline's signal keys (n_tty_receive_signal_char) ---

  /**
   * Signal keys typed on the master went into the backing n_tty, whose
   * isig() flushes, restarts output and echoes; the signals are ours to
   * send (__isig), and so is the flush of what we already read from the
   * replica.
   */
  private signalKeys(keys: readonly number[]): void {
    for (const byte of keys) {
      const sig = this.ldisc.signalOf(byte);
      if (sig) this.cttyNow?.signalForeground(sig);
    }
    if (!this.ldisc.noflsh) this.slave.input.flush();
  }

  /** TIOCSTI on the replica: `byte` as if typed on the master, straight into the line discipline. */
  typed(byte: number): void {
    const b = Buffer.from([byte]);
    if (tryWrite(this.master.fd, b) !== 1) return;
    const key = this.ldisc.find(b, 0) === 0;
    this.ldisc.passed(b, 0, 1);
    if (key) this.signalKeys([byte]);
  }

  // --- job control (drivers/tty/tty_jobctrl.c) ---

  /** This pty is `caller`'s controlling terminal (current->signal->tty == tty). */
  controls(caller: Caller): boolean {
    return this.cttyNow !== undefined && this.cttyNow.sid === caller.sid;
  }

  /**
   * __tty_check_change(): a background process of the terminal's session
   * reading (SIGTTIN) or changing it (SIGTTOU) gets the signal, or EIO if
   * it cannot take it. The kernel then restarts the call (ERESTARTSYS);
   * FUSE cannot, so the caller sees EINTR once it runs again.
   */
  checkChange(caller: Caller, sig: 'SIGTTIN' | 'SIGTTOU'): void {
    const c = this.cttyNow;
    if (!c || c.sid !== caller.sid || c.pgrp === caller.pgrp) return;
    if (caller.ignores(sig)) {
      if (sig === 'SIGTTIN') fail(EIO);
      return;
    }
    if (caller.groupOrphaned()) fail(EIO);
    killGroup(caller.pgrp, signalNumber(sig));
    fail(EINTR);
  }

  /** TIOCSCTTY (tiocsctty). `readable`: the fd was opened for reading. */
  takeCtty(caller: Caller, steal: boolean, readable: boolean): void {
    if (caller.leader && this.controls(caller)) return;
    if (!caller.leader || cttyOfSession(caller.sid) || kernelCtty(caller.tid) !== 0) fail(EPERM);
    if (this.cttyNow) {
      if (!(steal && caller.sysAdmin)) fail(EPERM);
      this.dropCtty();
    }
    if (!readable && !caller.sysAdmin) fail(EPERM);
    const ctty = new ControllingTty(new Pinned(caller.tgid), () => this.leaderExited(ctty));
    this.cttyNow = ctty;
  }

  /** TIOCNOTTY from the session leader (disassociate_ctty(0)): the foreground group hears of it. */
  leaderDetached(): void {
    const c = this.cttyNow;
    if (!c) return;
    c.signalForeground('SIGHUP');
    c.signalForeground('SIGCONT');
    this.dropCtty();
  }

  /** disassociate_ctty(1) for a pty: SIGHUP to the foreground group, and the session is gone. */
  private leaderExited(c: ControllingTty): void {
    if (this.cttyNow !== c) return;
    c.signalForeground('SIGHUP');
    this.dropCtty();
  }

  private dropCtty(): void {
    this.cttyNow?.release();
    this.cttyNow = undefined;
  }

  // --- life cycle ---

  replicaOpened(file: ReplicaFile): void {
    this.replicas.add(file);
    this.everOpened = true;
    this.master.wake();
  }

  replicaClosed(file: ReplicaFile): void {
    if (!this.replicas.delete(file)) this.hungUpReplicas--;
    if (this.hungUp) {
      if (this.replicas.size === 0 && this.hungUpReplicas === 0) this.destroy();
      return;
    }
    if (this.replicas.size === 0) this.othersGone();
  }

  /** The master's last close: hang up every replica (pty_close, tty_vhangup). */
  masterClosed(): void {
    this.hangUp();
    if (this.replicas.size === 0 && this.hungUpReplicas === 0) this.destroy();
  }

  /**
   * __tty_hangup() of the replica: waiting replica reads get EIO (n_tty_read
   * sees TTY_OTHER_CLOSED), later ones EOF; the session leader gets SIGHUP
   * and SIGCONT and the session loses its terminal. The signals go before
   * the readers are woken, as in __tty_hangup(): a leader blocked in read
   * returns with SIGHUP pending, not with a plain EIO it could exit on.
   */
  hangUp(): void {
    if (this.stateNow !== 'open') return;
    this.stateNow = 'hungUp';
    this.signalSessionLeader();
    this.slave.input.close(EIO);
    this.slave.output.fail(EIO);
    this.master.output.fail(EIO);
    this.master.input.close(EIO);
    this.slave.wake();
    this.master.wake();
  }

  /**
   * TIOCVHANGUP on a replica: its open files are hung up (new opens work
   * again), the session leader hears of it, and the master sees its
   * replicas gone.
   */
  vhangupReplicas(): void {
    for (const f of this.replicas) f.vhangup();
    this.hungUpReplicas += this.replicas.size;
    this.replicas.clear();
    this.signalSessionLeader();
    this.slave.input.settle('eof');
    this.slave.output.fail(EIO);
    this.slave.wake();
    this.othersGone();
  }

  /** tty_signal_session_leader(): SIGHUP, SIGCONT, and the session loses its terminal. */
  private signalSessionLeader(): void {
    const c = this.cttyNow;
    if (!c) return;
    c.signalLeader('SIGHUP');
    c.signalLeader('SIGCONT');
    this.dropCtty();
  }

  /** Every replica fd is closed: the master reads what is left, then EIO. */
  private othersGone(): void {
    // What the replica wrote just before closing may still be in the host's
    // flip buffer; n_tty_read flushes it before deciding on EIO, and so do we.
    this.master.input.drain();
    this.master.input.settle(this.otherClosedErrno());
    this.master.wake();
  }

  otherClosedErrno(): number | 'wait' {
    return this.otherClosed ? EIO : 'wait';
  }

  private destroy(): void {
    if (this.stateNow === 'gone') return;
    this.stateNow = 'gone';
    this.dropCtty();
    this.master.input.close(EIO);
    this.slave.input.close('eof');
    // also lets go of an outbox's wait for room (a dup of the fd)
    this.master.output.fail(EIO);
    this.slave.output.fail(EIO);
    fs.closeSync(this.master.fd);
    fs.closeSync(this.slave.fd);
    this.onGone(this);
  }
}
