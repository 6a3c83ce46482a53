// Controlling-terminal bookkeeping. The host kernel's job control attaches
// to ttys, never to FUSE files, so the daemon keeps, per terminal, the
// session it controls and its foreground process group, following
// drivers/tty/tty_jobctrl.c. Ids are kept in the daemon's pid namespace
// (the one FUSE reports callers in) and translated at the ioctl boundary.
import * as fs from 'fs';
import { EINVAL, EPERM } from '../sys/errno';

/** A caller's ids, host-side and as seen in its own pid namespace. */
export interface CallerIds {
  readonly tgid: number;
  readonly pgrp: number;
  readonly sid: number;
  /** pgrp and sid in the caller's own pid namespace (innermost NSpgid/NSsid). */
  readonly nsPgrp: number;
  readonly nsSid: number;
  /** Nested pid namespaces: false when the caller shares the daemon's. */
  readonly namespaced: boolean;
}

function statusIds(pid: number): Map<string, number[]> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const ids = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    const m = /^(Tgid|NSpid|NSpgid|NSsid):\s+(.*)$/.exec(line);
    if (m) ids.set(m[1]!, m[2]!.trim().split(/\s+/).map(Number));
  }
  return ids;
}

/** Ids of the thread `tid` (a FUSE request's pid), or undefined if it is gone. */
export function callerIds(tid: number): CallerIds | undefined {
  const ids = statusIds(tid);
  const tgid = ids?.get('Tgid')?.[0];
  const pgrps = ids?.get('NSpgid');
  const sids = ids?.get('NSsid');
  if (tgid === undefined || !pgrps?.length || !sids?.length) return undefined;
  return {
    tgid,
    pgrp: pgrps[0]!,
    sid: sids[0]!,
    nsPgrp: pgrps[pgrps.length - 1]!,
    nsSid: sids[sids.length - 1]!,
    namespaced: pgrps.length > 1,
  };
}

/** Host id of process group `nsPgrp` as the caller's namespace numbers it, within session `sid`. */
function hostPgrp(caller: CallerIds, nsPgrp: number, sid: number): number | undefined {
  if (!caller.namespaced) return nsPgrp;
  if (nsPgrp === caller.nsPgrp) return caller.pgrp;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ids = statusIds(Number(name));
    const pgrps = ids?.get('NSpgid');
    if (pgrps && pgrps[pgrps.length - 1] === nsPgrp && ids?.get('NSsid')?.[0] === sid) return pgrps[0];
  }
  return undefined;
}

function sessionHasPgrp(sid: number, pgrp: number): boolean {
  const ids = statusIds(pgrp);
  return ids !== undefined && ids.get('NSpgid')?.[0] === pgrp && ids.get('NSsid')?.[0] === sid;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: it is gone already.
  }
}

/** The session a terminal controls, and its foreground process group. */
export class ControllingTty {
  constructor(readonly sid: number, public pgrp: number) {}

  /** Job-control ioctls need the terminal to be the caller's controlling tty. */
  isCallers(caller: CallerIds): boolean {
    return caller.sid === this.sid;
  }

  /** tty_signal_session_leader: SIGHUP, then SIGCONT, to the session leader. */
  hangup(): void {
    signal(this.sid, 'SIGHUP');
    signal(this.sid, 'SIGCONT');
  }

  /** Sends sig to the foreground process group (SIGWINCH on resize). */
  signalForeground(sig: NodeJS.Signals): void {
    signal(-this.pgrp, sig);
  }

  /** TIOCGPGRP: the foreground group in the caller's numbering. */
  foreground(caller: CallerIds): number {
    if (!caller.namespaced || this.pgrp === caller.pgrp) return caller.namespaced ? caller.nsPgrp : this.pgrp;
    const ids = statusIds(this.pgrp)?.get('NSpid');
    return ids ? ids[ids.length - 1]! : 0;
  }

  /** TIOCSPGRP: 0 or the errno tiocspgrp() gives. */
  setForeground(caller: CallerIds, nsPgrp: number): number {
    if (nsPgrp < 0) return EINVAL;
    const pgrp = hostPgrp(caller, nsPgrp, this.sid);
    if (pgrp === undefined || !sessionHasPgrp(this.sid, pgrp)) return EPERM;
    this.pgrp = pgrp;
    return 0;
  }
}

/**
 * TIOCSCTTY (tiocsctty): the caller must lead a session; a terminal that
 * already controls another session can only be stolen by root with arg 1.
 * Returns the new ControllingTty or an errno.
 */
export function acquireCtty(current: ControllingTty | undefined, caller: CallerIds, steal: boolean, callerUid: number): ControllingTty | number {
  if (current?.sid === caller.sid) return current;
  if (caller.sid !== caller.tgid) return EPERM;
  if (current && !(steal && callerUid === 0)) return EPERM;
  return new ControllingTty(caller.sid, caller.pgrp);
}
