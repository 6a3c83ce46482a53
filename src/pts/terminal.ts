// One pty of a namespace: the backing host pty pair and the state devpts and
// drivers/tty/pty.c keep for it (lock, open counts, hangup), shared by its
// master file and its replica files.
//
// Both ends of the backing pty stay open in the daemon for the pty's whole
// life, so the host kernel never sees them close: hangup, "other side
// closed" and end of file are this object's to emulate.
import * as fs from 'fs';
import { EIO } from '../sys/errno';
import { getTermios, ICANON, setWinsize, TERMIOS_LFLAG, WINSIZE_SIZE } from '../sys/tty';
import { setCloexec } from '../sys/libc';
import type { Session } from '../fuse';
import { InputQueue } from './queue';
import { Outbox } from './outbox';
import type { ControllingTty } from './jobs';

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

export class Terminal {
  /** Bytes for the master's readers: what the replica side wrote, after n_tty. */
  readonly masterIn: InputQueue;
  /** Bytes for the replicas' readers: what the master wrote, after n_tty. */
  readonly slaveIn: InputQueue;
  readonly masterOut: Outbox;
  readonly slaveOut: Outbox;
  /** Pollers (FUSE kh) waiting for a change on either side. */
  readonly masterPollers = new Set<number>();
  readonly slavePollers = new Set<number>();

  /** TIOCSPTLCK: replicas cannot be opened while locked; new ptys start locked. */
  locked = true;
  /** The master's last close happened: replicas are hung up. */
  hungUp = false;
  replicaOpens = 0;
  /** TTY_OTHER_CLOSED on the master: a replica was open and all are closed now. */
  private everOpened = false;
  /** TIOCPKT: each master read is one packet, never joined with the next. */
  packet = false;
  /** TIOCEXCL: only root may open more replicas. */
  exclusive = false;
  /** ICANON of the backing termios, which only we change. */
  canonical = true;
  /** The session this is the controlling terminal of (job control). */
  ctty: ControllingTty | undefined;
  private destroyed = false;

  constructor(
    readonly index: number,
    readonly generation: number,
    readonly attrs: EntryAttrs,
    private readonly backing: BackingPty,
    private readonly session: Session,
    private readonly onDestroy: (t: Terminal) => void,
  ) {
    this.masterOut = new Outbox(backing.master);
    this.slaveOut = new Outbox(backing.slave);
    // Reading one end of the backing pty makes room for writers of the other.
    this.masterIn = new InputQueue(backing.master, () => {
      this.slaveOut.retry();
      this.wake(this.masterPollers);
    }, () => !this.packet);
    this.slaveIn = new InputQueue(backing.slave, () => {
      this.masterOut.retry();
      this.wake(this.slavePollers);
    }, () => !this.canonical);
    // The queues start watching the backing pty when a side is first read
    // or polled: until then its bytes wait in the host pty, which pushes
    // back on writers as it would with nobody reading, and a ptmx open that
    // is closed unused costs no watcher at all.
  }

  get masterFd(): number { return this.backing.master; }
  get slaveFd(): number { return this.backing.slave; }

  /** The master reads EIO once data runs out (pty.c: TTY_OTHER_CLOSED). */
  get otherClosed(): boolean {
    return this.everOpened && this.replicaOpens === 0;
  }

  /** Re-reads ICANON after a termios change: it decides how reads are cut. */
  termiosChanged(): void {
    this.canonical = (getTermios(this.backing.slave).readUInt32LE(TERMIOS_LFLAG) & ICANON) !== 0;
  }

  replicaOpened(): void {
    this.replicaOpens++;
    this.everOpened = true;
    this.wake(this.masterPollers);
  }

  replicaClosed(): void {
    this.replicaOpens--;
    if (this.replicaOpens > 0) return;
    if (this.hungUp) return this.destroy();
    // What the replica wrote just before closing may still be in the host's
    // flip buffer; n_tty_read flushes it before deciding on EIO, and so do we.
    this.masterIn.drain();
    this.masterIn.settle(this.otherClosedErrno());
    this.wake(this.masterPollers);
  }

  /** The master's last close: hang up every replica (pty_close, tty_vhangup). */
  masterClosed(): void {
    this.hungUp = true;
    // A read already waiting sees TTY_OTHER_CLOSED in n_tty_read: EIO; reads
    // after the hangup go to hung_up_tty_read: EOF (ReplicaFile.read).
    this.slaveIn.close(EIO);
    this.slaveOut.fail(EIO);
    this.masterOut.fail(EIO);
    this.masterIn.close(EIO);
    this.wake(this.slavePollers);
    this.ctty?.hangup();
    if (this.replicaOpens === 0) this.destroy();
  }

  otherClosedErrno(): number | 'wait' {
    return this.otherClosed ? EIO : 'wait';
  }

  /** Tells every registered poller to poll again (FUSE_NOTIFY_POLL). */
  wake(pollers: Set<number>): void {
    if (pollers.size === 0) return;
    for (const kh of pollers) this.session.notifyPoll(kh);
    pollers.clear();
  }

  private destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.masterIn.close(EIO);
    this.slaveIn.close('eof');
    fs.closeSync(this.backing.master);
    fs.closeSync(this.backing.slave);
    this.onDestroy(this);
  }
}
