// Processes as the kernel reports them: /proc/<pid>/{status,stat}, pidfds
// and the nsfs pid translation ioctls. FUSE names each caller by its thread
// id in the daemon's pid namespace; the job-control emulation needs that
// caller's groups, session and signal dispositions, and ids translated
// to and from the caller's own pid namespace.
//
// Every lookup here reads a file or two of one process: none scans /proc.
// Of processes other than a caller, only status is read (see kernelCtty).
import * as fs from 'fs';
import os from 'os';
import koffi from 'koffi';
import { EINVAL, ENOTTY, ESRCH, SysError } from './errno';
import { IOC_READ, ioc } from './ioc';

const libc = koffi.load('libc.so.6');
type SyscallFn = (nr: number, ...args: (string | number | null)[]) => number;
type IoctlValueFn = (fd: number, request: number, argType: string, arg: number) => number;
const syscall = libc.func('long syscall(long number, ...)') as SyscallFn;
const native = {
  getsid: libc.func('int getsid(int pid)') as (pid: number) => number,
  getpgid: libc.func('int getpgid(int pid)') as (pid: number) => number,
};
const ioctl = libc.func('int ioctl(int fd, unsigned long request, ...)') as IoctlValueFn;

// x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
const SYS_pidfd_send_signal = 424;
const SYS_pidfd_open = 434;

/** pidfd_send_signal flag (include/uapi/linux/pidfd.h, Linux 6.9): signal the process group the pidfd's pid leads. */
export const PIDFD_SIGNAL_PROCESS_GROUP = 1 << 2;

// include/uapi/linux/nsfs.h (Linux 6.11): the pid is passed by value.
const NSIO = 0xb7;
const NS_GET_PID_FROM_PIDNS = ioc(IOC_READ, NSIO, 0x6, 4);
const NS_GET_PID_IN_PIDNS = ioc(IOC_READ, NSIO, 0x8, 4);

/** CAP_SYS_ADMIN (include/uapi/linux/capability.h). */
const CAP_SYS_ADMIN = 21n;

/** What /proc/<tid>/status says of a thread and its process. */
export interface ProcStatus {
  /** The command (comm, at most 15 bytes). */
  readonly name: string;
  readonly tgid: number;
  readonly ppid: number;
  /** Pid, process group and session, outermost (the daemon's numbering) first, the thread's own namespace last. */
  readonly nsPid: readonly number[];
  readonly nsPgid: readonly number[];
  readonly nsSid: readonly number[];
  /** Signals this thread blocks and its process ignores, bit (sig - 1). */
  readonly sigBlk: bigint;
  readonly sigIgn: bigint;
  readonly capSysAdmin: boolean;
}

function numbers(s: string): number[] {
  return s.trim().split(/\s+/).map(Number);
}

/** /proc/<tid>/<file>; ESRCH when the thread is gone. */
function readProc(tid: number, file: string): string {
  try {
    return fs.readFileSync(`/proc/${tid}/${file}`, 'latin1');
  } catch {
    throw new SysError(`proc ${file}`, ESRCH);
  }
}

/** /proc/<tid>/status, or ESRCH when the thread is gone. */
export function procStatus(tid: number): ProcStatus {
  const text = readProc(tid, 'status');
  const f = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) f.set(line.slice(0, i), line.slice(i + 1));
  }
  const field = (name: string): string => {
    const v = f.get(name);
    if (v === undefined) throw new SysError(`proc status ${name}`, ESRCH);
    return v;
  };
  return {
    name: field('Name').trim(),
    tgid: Number(field('Tgid')),
    ppid: Number(field('PPid')),
    nsPid: numbers(field('NSpid')),
    nsPgid: numbers(field('NSpgid')),
    nsSid: numbers(field('NSsid')),
    sigBlk: BigInt(`0x${field('SigBlk').trim()}`),
    sigIgn: BigInt(`0x${field('SigIgn').trim()}`),
    capSysAdmin: ((BigInt(`0x${field('CapEff').trim()}`) >> CAP_SYS_ADMIN) & 1n) === 1n,
  };
}

/**
 * The kernel's controlling tty of the calling thread `tid` (tty_nr of
 * /proc/<tid>/stat; 0: none). Only for a caller blocked in our request:
 * reading another process's stat waits for its exec_update_lock, which a
 * process in execve holds while it closes its fds, and closing a ptsfs fd
 * waits for us (seen as a deadlock). /proc/<pid>/status takes no such lock.
 */
export function kernelCtty(tid: number): number {
  const text = readProc(tid, 'stat');
  // "pid (comm) state ppid pgrp session tty_nr ...": comm may hold spaces and parentheses.
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[4]);
}

/** getsid(2): the session of `pid` (daemon's numbering); ESRCH if it is gone. A syscall, no /proc. */
export function sessionOf(pid: number): number {
  const rc = native.getsid(pid);
  if (rc < 0) throw new SysError('getsid', koffi.errno());
  return rc;
}

/** getpgid(2): the process group of `pid`; ESRCH if it is gone. */
export function groupOf(pid: number): number {
  const rc = native.getpgid(pid);
  if (rc < 0) throw new SysError('getpgid', koffi.errno());
  return rc;
}

/** Whether thread `tid` lives in the same user namespace as the daemon (so its capabilities are real ones). */
export function inDaemonUserNs(tid: number): boolean {
  try {
    return fs.statSync(`/proc/${tid}/ns/user`).ino === fs.statSync('/proc/self/ns/user').ino;
  } catch {
    return false;
  }
}

/** pidfd_open(2): an fd that names process `pid` for good, whatever pid is reused later. */
export function pidfdOpen(pid: number): number {
  const fd = syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0);
  if (fd < 0) throw new SysError('pidfd_open', koffi.errno());
  return fd;
}

/** pidfd_send_signal(2); returns 0 or the errno (ESRCH: that process or group is gone). */
export function pidfdSignal(pidfd: number, signal: number, flags = 0): number {
  const rc = syscall(SYS_pidfd_send_signal, 'int', pidfd, 'int', signal, 'void *', null, 'unsigned int', flags);
  return rc < 0 ? koffi.errno() : 0;
}

/** kill(2) on a process group (-pgrp); returns 0 or the errno. */
export function killGroup(pgrp: number, signal: number): number {
  try {
    process.kill(-pgrp, signal);
    return 0;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? os.constants.errno.EPERM : ESRCH;
  }
}

/** Signal number by name, from Node's table. */
export function signalNumber(name: NodeJS.Signals): number {
  return os.constants.signals[name];
}

function nsIoctl(tid: number, request: number, pid: number): number {
  let fd: number;
  try {
    fd = fs.openSync(`/proc/${tid}/ns/pid`, 'r');
  } catch {
    throw new SysError('open pid ns', ESRCH);
  }
  try {
    const rc = ioctl(fd, request, 'long', pid);
    if (rc < 0) throw new SysError('nsfs ioctl', koffi.errno());
    return rc;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The daemon's number for the process `nsPid` names in the pid namespace of
 * thread `tid`. ESRCH if there is none; ENOTTY/EINVAL before Linux 6.11.
 */
export function pidFromNs(tid: number, nsPid: number): number {
  return nsIoctl(tid, NS_GET_PID_FROM_PIDNS, nsPid);
}

/** The number the pid namespace of `tid` gives the daemon's pid `pid`; ESRCH if it cannot see it. */
export function pidInNs(tid: number, pid: number): number {
  return nsIoctl(tid, NS_GET_PID_IN_PIDNS, pid);
}

/** Whether an nsfs translation error means the kernel lacks the ioctl (older than 6.11). */
export function nsfsMissing(err: unknown): boolean {
  return err instanceof SysError && (err.errno === ENOTTY || err.errno === EINVAL);
}

/** Host pids of the children of every thread of `tgid` (CONFIG_PROC_CHILDREN). */
export function childrenOf(tgid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${tgid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const text = fs.readFileSync(`/proc/${tgid}/task/${tid}/children`, 'latin1').trim();
      if (text) out.push(...numbers(text));
    } catch {
      // the thread is gone
    }
  }
  return out;
}
