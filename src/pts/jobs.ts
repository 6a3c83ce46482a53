// Who is calling, for job control. FUSE names a caller by its thread id in
// the daemon's pid namespace; tty_jobctrl.c decides by the caller's
// process group, session, signal dispositions and capabilities, and takes
// and returns ids in the caller's own pid namespace. A Caller reads what
// it needs of /proc/<tid> once, on first use, and translates ids with the
// nsfs ioctls: no scan of /proc, whatever the number of processes.
import { ESRCH, SysError, isSysError } from '../sys/errno';
import {
  childrenOf, groupOf, inDaemonUserNs, nsfsMissing, pidFromNs, pidInNs, procStatus, sessionOf, signalNumber, type ProcStatus,
} from '../sys/proc';

export class Caller {
  private statusCache: ProcStatus | undefined;
  private pgrpCache: number | undefined;
  private sidCache: number | undefined;

  /** @param tid the calling thread, as FUSE reports it */
  constructor(readonly tid: number) {}

  private get status(): ProcStatus {
    return (this.statusCache ??= procStatus(this.tid));
  }

  get tgid(): number { return this.status.tgid; }
  get ppid(): number { return this.status.ppid; }
  /**
   * Process group and session in the daemon's numbering, by getpgid(2) and
   * getsid(2) on the thread: the background check on every read of a
   * controlling tty then reads no /proc file.
   */
  get pgrp(): number { return (this.pgrpCache ??= groupOf(this.tid)); }
  get sid(): number { return (this.sidCache ??= sessionOf(this.tid)); }
  /** A session leader (its sid is its pid). */
  get leader(): boolean { return this.sid === this.tgid; }
  /** The caller lives in a pid namespace below the daemon's. */
  get namespaced(): boolean { return this.status.nsPid.length > 1; }

  /** CAP_SYS_ADMIN in the daemon's user namespace: capable() as the kernel checks it. */
  get sysAdmin(): boolean {
    return this.status.capSysAdmin && inDaemonUserNs(this.tid);
  }

  /** is_ignored(): the thread blocks `sig` or its process ignores it. */
  ignores(sig: NodeJS.Signals): boolean {
    const bit = 1n << BigInt(signalNumber(sig) - 1);
    return ((this.status.sigBlk | this.status.sigIgn) & bit) !== 0n;
  }

  /**
   * The daemon's number for `nsPid` as the caller's namespace numbers it
   * (find_vpid); ESRCH if it names no process there.
   */
  toHost(nsPid: number): number {
    const s = this.status;
    if (!this.namespaced) return nsPid;
    if (nsPid === s.nsPid.at(-1)) return s.tgid;
    if (nsPid === s.nsPgid.at(-1)) return this.pgrp;
    if (nsPid === s.nsSid.at(-1)) return this.sid;
    if (nsPid <= 0) throw new SysError('pid translation', ESRCH);
    try {
      return pidFromNs(this.tid, nsPid);
    } catch (err) {
      if (!nsfsMissing(err)) throw err;
    }
    // Before Linux 6.11: a job's group leader is a child of the shell that moves it.
    for (const child of childrenOf(s.tgid)) {
      try {
        if (procStatus(child).nsPid.at(-1) === nsPid) return child;
      } catch {
        // gone meanwhile
      }
    }
    throw new SysError('pid translation', ESRCH);
  }

  /**
   * `pid` (daemon's numbering) as the caller's namespace numbers it, 0 if
   * it cannot see it (pid_vnr). `nsPids` is that process's NSpid as last
   * seen, for when it is gone or the kernel lacks the nsfs ioctls.
   */
  toCallers(pid: number, nsPids: readonly number[]): number {
    const s = this.status;
    if (!this.namespaced) return pid;
    if (pid === this.pgrp) return s.nsPgid.at(-1)!;
    if (pid === this.sid) return s.nsSid.at(-1)!;
    try {
      return pidInNs(this.tid, pid);
    } catch (err) {
      if (!nsfsMissing(err) && !isSysError(err, ESRCH)) throw err;
      // ESRCH: not visible there (0), or gone (its last known number, as
      // the kernel keeps a group's pid while members remain).
      if (!nsfsMissing(err) && alive(pid)) return 0;
    }
    return nsPids[s.nsPid.length - 1] ?? 0;
  }

  /**
   * is_current_pgrp_orphaned(): no member has a parent in another group of
   * the same session. Asked only of a background reader or writer; the
   * members checked are the caller and its group's leader, whose parents
   * are the shell in every job a shell starts.
   */
  groupOrphaned(): boolean {
    for (const member of new Set([this.tgid, this.pgrp])) {
      try {
        const ppid = member === this.tgid ? this.ppid : procStatus(member).ppid;
        if (ppid <= 1) continue; // global init's children never count
        if (groupOf(ppid) !== this.pgrp && sessionOf(ppid) === this.sid) return false;
      } catch {
        // a member or parent gone meanwhile
      }
    }
    return true;
  }
}

function alive(pid: number): boolean {
  try {
    groupOf(pid);
    return true;
  } catch {
    return false;
  }
}

/** The NSpid of a process as it is now (for translating it later), or [pid] if gone. */
export function nsPidsOf(pid: number): readonly number[] {
  try {
    return procStatus(pid).nsPid;
  } catch {
    return [pid];
  }
}
