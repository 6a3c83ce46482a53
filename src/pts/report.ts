// What `ptsfs list` shows of a pty: the host's view into a container's
// terminal, as the seed patchset meant a parent namespace to reach a
// child's. Read from the emulation's own state and /proc/PID/status only:
// status takes no lock a process in execve or a page fault could hold
// (unlike stat, cmdline or ns, see sys/proc.ts).
import { procStatus } from '../sys/proc';
import type { Terminal } from './terminal';

/** A process as the host numbers it and as the innermost pid namespace it lives in does. */
export interface PidReport {
  readonly host: number;
  readonly container: number;
}

export interface PtyReport {
  readonly index: number;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly state: 'open' | 'hungUp' | 'gone';
  /** ISO time of the ptmx open. */
  readonly openedAt: string;
  /** Bytes written to the master (typed in) and read from it (shown). */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The session this is the controlling terminal of, and its foreground group; null when none. */
  readonly session: PidReport | null;
  readonly foreground: (PidReport & { readonly command: string | null }) | null;
}

function innermost(nsPids: readonly number[], pid: number): number {
  return nsPids[nsPids.length - 1] ?? pid;
}

/** The command (comm) of the foreground group's leader, or null once it is gone. */
function commandOf(pid: number): string | null {
  try {
    return procStatus(pid).name;
  } catch {
    return null;
  }
}

export function ptyReport(t: Terminal): PtyReport {
  const c = t.ctty;
  return {
    index: t.index,
    uid: t.attrs.uid,
    gid: t.attrs.gid,
    mode: t.attrs.mode,
    state: t.state,
    openedAt: new Date(t.openedAt).toISOString(),
    bytesIn: t.traffic.typed,
    bytesOut: t.traffic.shown,
    session: c ? { host: c.sid, container: innermost(c.sessionNsPids, c.sid) } : null,
    foreground: c ? { host: c.pgrp, container: innermost(c.pgrpNsPids, c.pgrp), command: commandOf(c.pgrp) } : null,
  };
}
