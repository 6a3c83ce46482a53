// tty ioctls on a FUSE file. The kernel moves ioctl data for us only for
// _IOC-encoded commands (TIOCGPTN, TCGETS2, ...); the legacy ones (TCGETS,
// TIOCGWINSZ, ...) arrive as the caller's pointer, which we read and write
// with process_vm_readv/writev. Termios and window size live in the backing
// pty, so its n_tty really applies them; like tty_mode_ioctl(), the master
// side acts on the replica's termios.
import { EFAULT, EINVAL, EIO, ENOTTY } from '../sys/errno';
import { isSysError } from '../sys/errno';
import { ioctlBuffer, ioctlValue, processVmRead, processVmWrite } from '../sys/libc';
import * as tty from '../sys/tty';
import type { Req } from '../fuse';
import { acquireCtty, callerIds, type CallerIds } from './jobs';
import type { Terminal } from './terminal';

type IoctlReq = Req<'ioctl'>;
export type Side = 'master' | 'replica';

const INT_SIZE = 4;

function done(req: IoctlReq, result = 0, out?: Buffer): void {
  req.reply({ result, flags: 0, in_iovs: 0, out_iovs: 0 }, out);
}

function fail(req: IoctlReq, err: unknown): void {
  if (isSysError(err)) req.error(err.errno);
  else throw err;
}

/**
 * The ioctl's arg as a pointer, or undefined (and EFAULT answered) when it
 * cannot be one: u64 decodes to a number, exact below 2^53, far above any
 * user address; a larger value (a pointer of -1, say) is a bad address.
 */
function pointer(req: IoctlReq): bigint | undefined {
  const arg = req.arg.arg;
  if (Number.isSafeInteger(arg)) return BigInt(arg);
  req.error(EFAULT);
  return undefined;
}

/** Copies `data` to the caller's memory at the ioctl's arg pointer. */
function toCaller(req: IoctlReq, data: Buffer): boolean {
  const addr = pointer(req);
  if (addr === undefined) return false;
  try {
    processVmWrite(req.pid, addr, data);
    return true;
  } catch (err) {
    fail(req, err);
    return false;
  }
}

/** Reads `length` bytes of the caller's memory at the ioctl's arg pointer. */
function fromCaller(req: IoctlReq, length: number): Buffer | undefined {
  const addr = pointer(req);
  if (addr === undefined) return undefined;
  try {
    return processVmRead(req.pid, addr, length);
  } catch (err) {
    fail(req, err);
    return undefined;
  }
}

function int(value: number): Buffer {
  const b = Buffer.alloc(INT_SIZE);
  b.writeInt32LE(value);
  return b;
}

function caller(req: IoctlReq): CallerIds | undefined {
  const ids = callerIds(req.pid);
  if (!ids) req.error(EFAULT);
  return ids;
}

/** Serves one ioctl on `side` of `term`. */
export function ttyIoctl(req: IoctlReq, term: Terminal, side: Side): void {
  const cmd = req.arg.cmd;
  // hung_up_tty_ioctl(): a hung-up replica answers EIO (ENOTTY for TIOCSPGRP).
  if (side === 'replica' && term.hungUp) return req.error(cmd === tty.TIOCSPGRP ? ENOTTY : EIO);
  try {
    if (side === 'master' && masterIoctl(req, term)) return;
    if (termiosIoctl(req, term, side)) return;
    if (jobIoctl(req, term)) return;
  } catch (err) {
    return fail(req, err);
  }
  req.error(ENOTTY);
}

/** The master-only ioctls of pty_unix98_ioctl(). Returns false if not one. */
function masterIoctl(req: IoctlReq, term: Terminal): boolean {
  switch (req.arg.cmd) {
    case tty.TIOCGPTN:
      done(req, 0, int(term.index));
      return true;
    case tty.TIOCSPTLCK: {
      term.locked = (req.data?.readInt32LE(0) ?? 0) !== 0;
      done(req);
      return true;
    }
    case tty.TIOCGPTLCK:
      done(req, 0, int(term.locked ? 1 : 0));
      return true;
    case tty.TIOCGPTPEER:
      // It would return a new fd in the caller, which a FUSE reply cannot
      // carry; glibc's openpty then falls back to ptsname() + open().
      req.error(ENOTTY);
      return true;
    case tty.TIOCPKT: {
      const on = fromCaller(req, INT_SIZE);
      if (!on) return true;
      ioctlBuffer(term.masterFd, tty.TIOCPKT, on);
      term.packet = on.readInt32LE(0) !== 0;
      done(req);
      return true;
    }
    case tty.TIOCGPKT: {
      const out = Buffer.alloc(INT_SIZE);
      ioctlBuffer(term.masterFd, tty.TIOCGPKT, out);
      done(req, 0, out);
      return true;
    }
    default:
      return false;
  }
}

/** Termios, window size, flushing. Returns false if not one of these. */
function termiosIoctl(req: IoctlReq, term: Terminal, side: Side): boolean {
  const slave = term.slaveFd;
  switch (req.arg.cmd) {
    case tty.TCGETS:
      if (toCaller(req, tty.getTermios(slave))) done(req);
      return true;
    case tty.TCSETS:
    case tty.TCSETSW:
    case tty.TCSETSF: {
      const t = fromCaller(req, tty.KERNEL_TERMIOS_SIZE);
      if (!t) return true;
      setTermios(term, req.arg.cmd === tty.TCSETSF, () => tty.setTermios(slave, tty.TCSETS, t));
      done(req);
      return true;
    }
    case tty.TCGETS2:
      done(req, 0, tty.getTermios2(slave));
      return true;
    case tty.TCSETS2:
    case tty.TCSETSW2:
    case tty.TCSETSF2: {
      const t = req.data;
      if (!t || t.length < tty.KERNEL_TERMIOS2_SIZE) return void req.error(EFAULT), true;
      setTermios(term, req.arg.cmd === tty.TCSETSF2, () => tty.setTermios2(slave, tty.TCSETS2, t));
      done(req);
      return true;
    }
    case tty.TIOCGWINSZ:
      if (toCaller(req, tty.getWinsize(slave))) done(req);
      return true;
    case tty.TIOCSWINSZ: {
      const ws = fromCaller(req, tty.WINSIZE_SIZE);
      if (!ws) return true;
      const changed = !tty.getWinsize(slave).equals(ws);
      tty.setWinsize(slave, ws);
      // tiocswinsz(): SIGWINCH to the foreground group when the size changed.
      if (changed) term.ctty?.signalForeground('SIGWINCH');
      done(req);
      return true;
    }
    case tty.TCFLSH:
      return flush(req, term, side), true;
    case tty.TCXONC:
      ioctlValue(slave, tty.TCXONC, req.arg.arg);
      done(req);
      return true;
    case tty.TCSBRK:
      // tcdrain()/tcsendbreak(): written bytes are already in the backing
      // pty, which has no line to drain; waiting on it from the event loop
      // could wait for our own reader.
      done(req);
      return true;
    case tty.TIOCOUTQ: {
      const out = Buffer.alloc(INT_SIZE);
      ioctlBuffer(side === 'master' ? term.masterFd : slave, tty.TIOCOUTQ, out);
      if (toCaller(req, out)) done(req);
      return true;
    }
    case tty.TIOCEXCL:
    case tty.TIOCNXCL:
      term.exclusive = req.arg.cmd === tty.TIOCEXCL;
      done(req);
      return true;
    case tty.TIOCGEXCL:
      done(req, 0, int(term.exclusive ? 1 : 0));
      return true;
    default:
      return false;
  }
}

/**
 * TCSETS*: set the backing termios. TCSETSF also discards input, ours
 * included; TCSETSW's wait for output is immediate for the same reason as
 * TCSBRK.
 */
function setTermios(term: Terminal, flushInput: boolean, apply: () => void): void {
  if (flushInput) {
    ioctlValue(term.slaveFd, tty.TCFLSH, tty.TCIFLUSH);
    term.slaveIn.flush();
  }
  apply();
  term.termiosChanged();
}

/**
 * TCFLSH: input is this side's queue. Output is only what is still in
 * flight: pty_flush_buffer() empties the peer's flip buffer, never what
 * already reached the peer's read buffer (our peer queue), so the backing
 * ioctl below is all there is to it.
 */
function flush(req: IoctlReq, term: Terminal, side: Side): void {
  const which = req.arg.arg;
  if (which !== tty.TCIFLUSH && which !== tty.TCOFLUSH && which !== tty.TCIOFLUSH) return req.error(EINVAL);
  const own = side === 'master' ? term.masterIn : term.slaveIn;
  if (which !== tty.TCOFLUSH) own.flush();
  ioctlValue(side === 'master' ? term.masterFd : term.slaveFd, tty.TCFLSH, which);
  done(req);
}

/** Controlling terminal and process groups (tty_jobctrl.c). Returns false if not one. */
function jobIoctl(req: IoctlReq, term: Terminal): boolean {
  const cmd = req.arg.cmd;
  if (cmd !== tty.TIOCSCTTY && cmd !== tty.TIOCNOTTY && cmd !== tty.TIOCGPGRP && cmd !== tty.TIOCSPGRP && cmd !== tty.TIOCGSID) {
    return false;
  }
  const ids = caller(req);
  if (!ids) return true;
  if (cmd === tty.TIOCSCTTY) {
    const got = acquireCtty(term.ctty, ids, req.arg.arg === 1, req.uid);
    if (typeof got === 'number') return req.error(got), true;
    term.ctty = got;
    return done(req), true;
  }
  const ctty = term.ctty;
  if (!ctty?.isCallers(ids)) return req.error(ENOTTY), true;
  switch (cmd) {
    case tty.TIOCNOTTY:
      // The session leader giving up its terminal detaches the session.
      if (ids.tgid === ctty.sid) term.ctty = undefined;
      done(req);
      break;
    case tty.TIOCGPGRP:
      if (toCaller(req, int(ctty.foreground(ids)))) done(req);
      break;
    case tty.TIOCGSID:
      if (toCaller(req, int(ids.nsSid))) done(req);
      break;
    case tty.TIOCSPGRP: {
      const pgrp = fromCaller(req, INT_SIZE);
      if (!pgrp) break;
      const err = ctty.setForeground(ids, pgrp.readInt32LE(0));
      if (err) req.error(err);
      else done(req);
      break;
    }
  }
  return true;
}
