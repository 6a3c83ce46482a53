// tty ioctls on a FUSE file, one table row per command, following the
// switch in tty_io.c tty_ioctl(), tty_jobctrl.c, n_tty_ioctl_helper() and
// pty.c pty_unix98_ioctl(). Anything else is ENOTTY, as it is there.
//
// The kernel moves ioctl data for us only for _IOC-encoded commands
// (TIOCGPTN, TCGETS2, ...); the legacy ones (TCGETS, TIOCGWINSZ, ...) arrive
// as the caller's pointer, which a helper process reads and writes with
// process_vm_readv/writev (sys/callermem.ts: the caller decides how long
// its page takes, so the event loop never waits for it). Termios and window size live in the backing
// pty, so its n_tty really applies them; like tty_mode_ioctl(), the master
// side acts on the replica's termios.
//
// On a CUSE device (entries=chr) ioctls arrive unrestricted: nothing is
// copied for us, but we may answer FUSE_IOCTL_RETRY with the ranges we
// need and the kernel copies them, in and out, with the caller's own
// rights (fs/fuse/ioctl.c fuse_do_ioctl). Each row says what memory at arg
// its command uses, so both transports serve the same handlers.
//
// A handler throws SysError for any failure; ttyIoctl() turns it into the
// reply, in one place.
import * as fs from 'fs';
import { EFAULT, EINTR, EINVAL, EIO, ENOTTY, EPERM, ESRCH, isSysError, SysError } from '../sys/errno';
import { callerMemory } from '../sys/callermem';
import { IOC_READ, IOC_WRITE, iocDir, iocSize } from '../sys/ioc';
import { ioctlBuffer, ioctlValue } from '../sys/libc';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../sys/poll';
import { sessionOf } from '../sys/proc';
import * as tty from '../sys/tty';
import { FUSE_IOCTL_RETRY, FUSE_IOCTL_UNRESTRICTED, structs, type Req } from '../fuse';
import { encodeDev } from './chrdev';
import { Pinned } from './ctty';
import { Caller } from './jobs';
import type { PtySide } from './side';
import type { Terminal } from './terminal';

type IoctlReq = Req<'ioctl'>;

/** What an open file of either side offers the ioctls. */
export interface TtyFile {
  readonly term: Terminal;
  readonly side: 'master' | 'replica';
  /** Opened for reading (FMODE_READ): TIOCSCTTY needs it without CAP_SYS_ADMIN. */
  readonly readable: boolean;
  readonly hungUp: boolean;
  /** TIOCVHANGUP on this fd. */
  vhangup(): void;
}

/** hung_up_tty_poll() */
export const HUNG_UP_EVENTS = POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM;

const INT_SIZE = 4;
/** include/uapi/linux/tty.h */
const N_TTY = 0;
/** UNIX98_PTY_SLAVE_MAJOR: what TIOCGDEV reports for a devpts pty. */
const PTY_SLAVE_MAJOR = 136;
const PTY_SIGNALS: ReadonlyMap<number, NodeJS.Signals> = new Map([
  [2, 'SIGINT'], [3, 'SIGQUIT'], [20, 'SIGTSTP'],
] as [number, NodeJS.Signals][]);
const LEGACY_TIOCSTI = '/proc/sys/dev/tty/legacy_tiocsti';

function fail(errno: number): never {
  throw new SysError('ioctl', errno);
}

function int(value: number): Buffer {
  const b = Buffer.alloc(INT_SIZE);
  b.writeInt32LE(value);
  return b;
}

/** One ioctl being served: its request, file and (read on first use) caller. */
class Call {
  private callerCache: Caller | undefined;
  /** Unrestricted (CUSE): what the kernel copied in for us, and what it is to copy out. */
  private readonly copiedIn: Buffer | undefined;
  private copyOut: Buffer | undefined;

  constructor(readonly req: IoctlReq, readonly file: TtyFile) {
    // The request's bytes live only until the handler returns; a handler may wait first.
    if (unrestricted(req)) this.copiedIn = Buffer.from(req.data ?? EMPTY);
  }

  get term(): Terminal { return this.file.term; }
  get onMaster(): boolean { return this.file.side === 'master'; }
  /** This side of the pty (the file's own tty). */
  get own(): PtySide { return this.onMaster ? this.term.master : this.term.slave; }
  get arg(): number { return this.req.arg.arg; }
  get caller(): Caller { return (this.callerCache ??= new Caller(this.req.pid)); }

  /** The pty is the caller's controlling tty; on a replica, job-control ioctls need that (ENOTTY). */
  requireCtty(): void {
    if (!this.term.controls(this.caller)) fail(ENOTTY);
  }

  /** tty_check_change() where the kernel applies it to the file's own tty: only a replica can be a ctty. */
  checkOwnChange(): void {
    if (!this.onMaster) this.term.checkChange(this.caller, 'SIGTTOU');
  }

  /** The int an _IOW command carries, copied in by the kernel. */
  inInt(): number {
    const d = this.req.data;
    if (!d || d.length < INT_SIZE) fail(EFAULT);
    return d.readInt32LE(0);
  }

  /**
   * The arg as a pointer: u64 decodes to a number, exact below 2^53, far
   * above any user address; a larger value (a pointer of -1) is a bad address.
   */
  private pointer(): bigint {
    if (!Number.isSafeInteger(this.arg)) fail(EFAULT);
    return BigInt(this.arg);
  }

  async fromCaller(length: number): Promise<Buffer> {
    if (this.copiedIn) {
      if (this.copiedIn.length < length) fail(EFAULT);
      return this.copiedIn.subarray(0, length);
    }
    const b = await callerMemory.read(this.req.pid, this.pointer(), length);
    this.stillWanted();
    return b;
  }

  async toCaller(data: Buffer): Promise<void> {
    if (this.copiedIn) {
      this.copyOut = data;
      return;
    }
    await callerMemory.write(this.req.pid, this.pointer(), data);
    this.stillWanted();
  }

  async readInt(): Promise<number> {
    return (await this.fromCaller(INT_SIZE)).readInt32LE(0);
  }

  /** After waiting for caller memory: the caller may have been interrupted, or the pty hung up, meanwhile. */
  private stillWanted(): void {
    if (this.req.done) fail(EINTR);
    if (this.file.hungUp) fail(EIO);
  }

  /** Success; `out` is the data of an _IOR command. */
  ok(out?: Buffer): void {
    this.req.reply({ result: 0, flags: 0, in_iovs: 0, out_iovs: 0 }, out ?? this.copyOut);
  }
}

const EMPTY = Buffer.alloc(0);

function unrestricted(req: IoctlReq): boolean {
  return (req.arg.flags & FUSE_IOCTL_UNRESTRICTED) !== 0;
}

/** Bytes at arg a command reads (in) and writes (out). */
interface ArgMemory {
  readonly in?: number;
  readonly out?: number;
}

const INT_IN: ArgMemory = { in: INT_SIZE };
const INT_OUT: ArgMemory = { out: INT_SIZE };
const VALUE: ArgMemory = {};

/** What the row says, else what the _IOC encoding says (as the kernel's restricted ioctls assume). */
function argMemory(cmd: number, row: Row): ArgMemory {
  if (row.mem) return row.mem;
  const dir = iocDir(cmd);
  const size = iocSize(cmd);
  return { in: dir & IOC_WRITE ? size : undefined, out: dir & IOC_READ ? size : undefined };
}

/**
 * An unrestricted ioctl comes first with nothing copied: ask for the
 * ranges at arg the command uses, and the kernel sends it again with them.
 * Returns whether it asked.
 */
function askForMemory(req: IoctlReq, mem: ArgMemory): boolean {
  const { in_size: inSize, out_size: outSize, arg } = req.arg;
  if ((mem.in ?? 0) <= inSize && (mem.out ?? 0) <= outSize) return false;
  // A u64 beyond 2^53 decodes inexactly: no address of ours to ask for.
  if (!Number.isSafeInteger(arg)) fail(EFAULT);
  const iovs: Buffer[] = [];
  if (mem.in) iovs.push(structs.ioctlIovec.pack({ base: arg, len: mem.in }));
  if (mem.out) iovs.push(structs.ioctlIovec.pack({ base: arg, len: mem.out }));
  req.reply({ result: 0, flags: FUSE_IOCTL_RETRY, in_iovs: mem.in ? 1 : 0, out_iovs: mem.out ? 1 : 0 }, Buffer.concat(iovs));
  return true;
}

interface Row {
  /** pty_unix98_ioctl(): on a replica these are ENOTTY. */
  readonly masterOnly?: boolean;
  /** Memory at arg; default: as the _IOC encoding says (legacy commands must say). */
  readonly mem?: ArgMemory;
  /** Throws SysError, or rejects with it once it has waited for caller memory. */
  readonly serve: (c: Call) => void | Promise<void>;
}

const TERMIOS_IN: ArgMemory = { in: tty.KERNEL_TERMIOS_SIZE };
const TERMIOS_OUT: ArgMemory = { out: tty.KERNEL_TERMIOS_SIZE };
const TERMIO_IN: ArgMemory = { in: tty.TERMIO_SIZE };
const TERMIO_OUT: ArgMemory = { out: tty.TERMIO_SIZE };

const IOCTLS = new Map<number, Row>([
  // --- pty.c, the master's own ---
  [tty.TIOCGPTN, { masterOnly: true, serve: (c) => c.ok(int(c.term.index)) }],
  [tty.TIOCSPTLCK, { masterOnly: true, serve: (c) => { c.term.locked = c.inInt() !== 0; c.ok(); } }],
  [tty.TIOCGPTLCK, { masterOnly: true, serve: (c) => c.ok(int(c.term.locked ? 1 : 0)) }],
  // It would return a new fd in the caller, which a FUSE reply cannot carry;
  // glibc's openpty then falls back to ptsname() + open().
  [tty.TIOCGPTPEER, { masterOnly: true, serve: () => fail(ENOTTY) }],
  [tty.TIOCPKT, { masterOnly: true, mem: INT_IN, serve: setPacket }],
  [tty.TIOCGPKT, { masterOnly: true, serve: (c) => c.ok(backingInt(c.term.master.fd, tty.TIOCGPKT)) }],
  // Reaches us only when the signal number happens to be a readable address.
  // On a CUSE device, where nothing is copied unasked, it works as on devpts.
  [tty.TIOCSIG, { masterOnly: true, mem: VALUE, serve: signalForeground }],

  // --- termios and window size (tty_mode_ioctl, tiocswinsz) ---
  [tty.TCGETS, { mem: TERMIOS_OUT, serve: (c) => backingOut(c, tty.TCGETS, tty.KERNEL_TERMIOS_SIZE) }],
  [tty.TCSETS, { mem: TERMIOS_IN, serve: (c) => setTermios(c, false, termiosIn) }],
  [tty.TCSETSW, { mem: TERMIOS_IN, serve: (c) => setTermios(c, false, termiosIn) }],
  [tty.TCSETSF, { mem: TERMIOS_IN, serve: (c) => setTermios(c, true, termiosIn) }],
  [tty.TCGETS2, { serve: (c) => c.ok(tty.getTermios2(c.term.slave.fd)) }],
  [tty.TCSETS2, { serve: (c) => setTermios(c, false, termios2In) }],
  [tty.TCSETSW2, { serve: (c) => setTermios(c, false, termios2In) }],
  [tty.TCSETSF2, { serve: (c) => setTermios(c, true, termios2In) }],
  // The SysV termio, the soft carrier (CLOCAL) and the locked termios: all
  // kept by the backing replica, as the termios is.
  [tty.TCGETA, { mem: TERMIO_OUT, serve: (c) => backingOut(c, tty.TCGETA, tty.TERMIO_SIZE) }],
  [tty.TCSETA, { mem: TERMIO_IN, serve: (c) => setTermios(c, false, termioIn) }],
  [tty.TCSETAW, { mem: TERMIO_IN, serve: (c) => setTermios(c, false, termioIn) }],
  [tty.TCSETAF, { mem: TERMIO_IN, serve: (c) => setTermios(c, true, termioIn) }],
  [tty.TIOCGSOFTCAR, { mem: INT_OUT, serve: (c) => backingOut(c, tty.TIOCGSOFTCAR, INT_SIZE) }],
  [tty.TIOCSSOFTCAR, { mem: INT_IN, serve: setSoftCarrier }],
  [tty.TIOCGLCKTRMIOS, { mem: TERMIOS_OUT, serve: (c) => backingOut(c, tty.TIOCGLCKTRMIOS, tty.KERNEL_TERMIOS_SIZE) }],
  [tty.TIOCSLCKTRMIOS, { mem: TERMIOS_IN, serve: setLockedTermios }],
  [tty.TIOCGWINSZ, { mem: { out: tty.WINSIZE_SIZE }, serve: (c) => backingOut(c, tty.TIOCGWINSZ, tty.WINSIZE_SIZE) }],
  [tty.TIOCSWINSZ, { mem: { in: tty.WINSIZE_SIZE }, serve: setWinsize }],

  // --- n_tty_ioctl(), n_tty_ioctl_helper() ---
  [tty.TCFLSH, { mem: VALUE, serve: flush }],
  [tty.TCXONC, { mem: VALUE, serve: flowControl }],
  [tty.TIOCOUTQ, { mem: INT_OUT, serve: (c) => c.toCaller(backingInt(c.own.fd, tty.TIOCOUTQ)).then(() => c.ok()) }],
  // A FUSE regular file never sees it (the VFS answers from i_size); a CUSE device does.
  [tty.FIONREAD, { mem: INT_OUT, serve: (c) => c.toCaller(int(c.own.input.queued + backingInt(c.own.fd, tty.FIONREAD).readInt32LE(0))).then(() => c.ok()) }],

  // --- tty_ioctl() ---
  // Breaks: a pty has no line to send them on; the backing pty answers as
  // one (it waits for no output: a pty has no chars_in_buffer).
  [tty.TCSBRK, { mem: VALUE, serve: breakCtl }],
  [tty.TCSBRKP, { mem: VALUE, serve: breakCtl }],
  [tty.TIOCSBRK, { mem: VALUE, serve: breakCtl }],
  [tty.TIOCCBRK, { mem: VALUE, serve: breakCtl }],
  [tty.TIOCGETD, { mem: INT_OUT, serve: (c) => c.toCaller(int(N_TTY)).then(() => c.ok()) }],
  [tty.TIOCSETD, { mem: INT_IN, serve: setLineDiscipline }],
  [tty.TIOCSTI, { mem: { in: 1 }, serve: simulateInput }],
  [tty.TIOCEXCL, { mem: VALUE, serve: (c) => { c.own.exclusive = true; c.ok(); } }],
  [tty.TIOCNXCL, { mem: VALUE, serve: (c) => { c.own.exclusive = false; c.ok(); } }],
  [tty.TIOCGEXCL, { serve: (c) => c.ok(int(c.own.exclusive ? 1 : 0)) }],
  [tty.TIOCGDEV, { serve: (c) => c.ok(int(c.term.device ? encodeDev(c.term.device.major, c.term.device.minor) : encodeDev(PTY_SLAVE_MAJOR, c.term.index))) }],
  [tty.TIOCVHANGUP, { mem: VALUE, serve: vhangup }],
  // Redirecting the host's console to a container's pty is not ours to do.
  [tty.TIOCCONS, { mem: VALUE, serve: (c) => fail(c.onMaster ? EINVAL : EPERM) }],

  // --- tty_jobctrl.c ---
  [tty.TIOCSCTTY, { mem: VALUE, serve: (c) => { c.term.takeCtty(c.caller, c.arg === 1, c.file.readable); c.ok(); } }],
  [tty.TIOCNOTTY, { mem: VALUE, serve: detachCtty }],
  [tty.TIOCGPGRP, { mem: INT_OUT, serve: getForeground }],
  [tty.TIOCSPGRP, { mem: INT_IN, serve: setForeground }],
  [tty.TIOCGSID, { mem: INT_OUT, serve: getSession }],
]);

/** Serves one ioctl on `file`. */
export function ttyIoctl(req: IoctlReq, file: TtyFile): void {
  const cmd = req.arg.cmd;
  // hung_up_tty_ioctl(): a hung-up file answers EIO (ENOTTY for TIOCSPGRP).
  if (file.hungUp) return req.error(cmd === tty.TIOCSPGRP ? ENOTTY : EIO);
  const row = IOCTLS.get(cmd);
  if (!row || (row.masterOnly && file.side !== 'master')) return req.error(ENOTTY);
  let pending: void | Promise<void>;
  try {
    if (unrestricted(req) && askForMemory(req, argMemory(cmd, row))) return;
    pending = row.serve(new Call(req, file));
  } catch (err) {
    if (!isSysError(err)) throw err;
    return req.error(err.errno);
  }
  pending?.catch((err: unknown) => {
    if (!isSysError(err)) {
      console.error('ptsfs: ioctl failed:', err);
      return req.error(EIO);
    }
    req.error(err.errno);
  });
}

function backingInt(fd: number, cmd: number): Buffer {
  const out = Buffer.alloc(INT_SIZE);
  ioctlBuffer(fd, cmd, out);
  return out;
}


/** TIOCPKT: the backing master keeps the packet status (STOP, START, FLUSH*), we cut reads by it. */
async function setPacket(c: Call): Promise<void> {
  const on = await c.fromCaller(INT_SIZE);
  ioctlBuffer(c.term.master.fd, tty.TIOCPKT, on);
  c.term.packet = on.readInt32LE(0) !== 0;
  c.ok();
}

/** pty_signal(): SIGINT, SIGQUIT or SIGTSTP to the replica's foreground group. */
function signalForeground(c: Call): void {
  const sig = PTY_SIGNALS.get(c.arg);
  if (!sig) fail(EINVAL);
  c.term.ctty?.signalForeground(sig);
  c.ok();
}

/** Reads a termios from the caller and applies it to the backing replica. */
type TermiosSetter = (c: Call) => Promise<(fd: number) => void>;

/** TCSETS*: the caller's 36-byte termios at arg. */
const termiosIn: TermiosSetter = async (c) => {
  const t = await c.fromCaller(tty.KERNEL_TERMIOS_SIZE);
  return (fd) => tty.setTermios(fd, tty.TCSETS, t);
};

/** TCSETA*: the caller's 18-byte termio at arg. */
const termioIn: TermiosSetter = async (c) => {
  const t = await c.fromCaller(tty.TERMIO_SIZE);
  return (fd) => ioctlBuffer(fd, tty.TCSETA, t);
};

/** A get of the replica's settings: the backing replica answers, the caller gets its bytes. */
async function backingOut(c: Call, cmd: number, size: number): Promise<void> {
  const out = Buffer.alloc(size);
  ioctlBuffer(c.term.slave.fd, cmd, out);
  await c.toCaller(out);
  c.ok();
}

/** tty_change_softcar(): CLOCAL on or off, no tty_check_change(). */
async function setSoftCarrier(c: Call): Promise<void> {
  const on = await c.fromCaller(INT_SIZE);
  ioctlBuffer(c.term.slave.fd, tty.TIOCSSOFTCAR, on);
  c.term.termiosChanged();
  c.ok();
}

/** TIOCSLCKTRMIOS: the bits tcsetattr may not change; only with privilege (checkpoint_restore_ns_capable). */
async function setLockedTermios(c: Call): Promise<void> {
  if (!c.caller.sysAdmin) fail(EPERM);
  const t = await c.fromCaller(tty.KERNEL_TERMIOS_SIZE);
  ioctlBuffer(c.term.slave.fd, tty.TIOCSLCKTRMIOS, t);
  c.ok();
}

/** TCSETS2*: the 44-byte termios2 the kernel copied in. */
const termios2In: TermiosSetter = async (c) => {
  const t = c.req.data;
  if (!t || t.length < tty.KERNEL_TERMIOS2_SIZE) fail(EFAULT);
  const copy = Buffer.from(t);
  return (fd) => tty.setTermios2(fd, tty.TCSETS2, copy);
};

/**
 * TCSETS*: set_termios() on the replica: a background process gets
 * SIGTTOU first. TCSETSF also discards input, ours included; TCSETSW's
 * wait for output is none on a pty (no chars_in_buffer), as in the kernel.
 */
async function setTermios(c: Call, flushInput: boolean, read: TermiosSetter): Promise<void> {
  c.term.checkChange(c.caller, 'SIGTTOU');
  const apply = await read(c);
  const slave = c.term.slave.fd;
  if (flushInput) {
    ioctlValue(slave, tty.TCFLSH, tty.TCIFLUSH);
    c.term.slave.input.flush();
  }
  apply(slave);
  c.term.termiosChanged();
  c.ok();
}

/** TCXONC: the backing pty stops and starts; writers it held go on, and TCOOFF may hold them. */
function flowControl(c: Call): void {
  c.checkOwnChange();
  ioctlValue(c.own.fd, tty.TCXONC, c.arg);
  if (c.arg === tty.TCOOFF) c.own.output.mayBeStopped();
  else if (c.arg === tty.TCOON) c.own.output.retry();
  c.ok();
}

/** tiocswinsz(): SIGWINCH to the foreground group when the size changed. */
async function setWinsize(c: Call): Promise<void> {
  const ws = await c.fromCaller(tty.WINSIZE_SIZE);
  const slave = c.term.slave.fd;
  const changed = !tty.getWinsize(slave).equals(ws);
  tty.setWinsize(slave, ws);
  if (changed) c.term.ctty?.signalForeground('SIGWINCH');
  c.ok();
}

/**
 * TCFLSH: input is this side's queue. Output is only what is still in
 * flight: pty_flush_buffer() empties the peer's flip buffer, never what
 * already reached the peer's read buffer (our peer queue), so the backing
 * ioctl is all there is to it.
 */
function flush(c: Call): void {
  c.checkOwnChange();
  const which = c.arg;
  if (which !== tty.TCIFLUSH && which !== tty.TCOFLUSH && which !== tty.TCIOFLUSH) fail(EINVAL);
  if (which !== tty.TCOFLUSH) c.own.input.flush();
  ioctlValue(c.own.fd, tty.TCFLSH, which);
  c.ok();
}

function breakCtl(c: Call): void {
  c.checkOwnChange();
  ioctlValue(c.own.fd, c.req.arg.cmd, c.arg);
  c.ok();
}

/** tiocsetd(): only N_TTY, which the backing pty has; switching it would take the pty from us. */
async function setLineDiscipline(c: Call): Promise<void> {
  c.checkOwnChange();
  if ((await c.readInt()) !== N_TTY) fail(EINVAL);
  c.ok();
}

/**
 * tiocsti(): a byte as if typed, on the caller's controlling tty only
 * unless CAP_SYS_ADMIN; not at all when dev.tty.legacy_tiocsti is 0. On
 * the master it is input for the master's readers.
 */
async function simulateInput(c: Call): Promise<void> {
  const admin = c.caller.sysAdmin;
  if (!admin && !legacyTiocsti()) fail(EIO);
  if (!admin && (c.onMaster || !c.term.controls(c.caller))) fail(EPERM);
  const byte = (await c.fromCaller(1))[0]!;
  if (c.onMaster) c.term.master.input.inject(Buffer.from([byte]));
  else c.term.typed(byte);
  c.ok();
}

function legacyTiocsti(): boolean {
  try {
    return fs.readFileSync(LEGACY_TIOCSTI, 'latin1').trim() !== '0';
  } catch {
    return true; // kernels before 6.2 have no such switch
  }
}

function vhangup(c: Call): void {
  if (!c.caller.sysAdmin) fail(EPERM);
  if (c.onMaster) c.file.vhangup();
  else c.term.vhangupReplicas();
  c.ok();
}

/** tiocnotty(): the master is never a ctty; the session leader giving it up detaches the session. */
function detachCtty(c: Call): void {
  if (c.onMaster) fail(ENOTTY);
  c.requireCtty();
  if (c.caller.leader) c.term.leaderDetached();
  c.ok();
}

/** tiocgpgrp(): on the master, no ctty needed (what terminal emulators ask); 0 with no group. */
async function getForeground(c: Call): Promise<void> {
  if (!c.onMaster) c.requireCtty();
  const ctty = c.term.ctty;
  await c.toCaller(int(ctty ? c.caller.toCallers(ctty.pgrp, ctty.pgrpNsPids) : 0));
  c.ok();
}

async function getSession(c: Call): Promise<void> {
  if (!c.onMaster) c.requireCtty();
  const ctty = c.term.ctty;
  if (!ctty) fail(ENOTTY);
  await c.toCaller(int(c.caller.toCallers(ctty.sid, ctty.sessionNsPids)));
  c.ok();
}

/**
 * tiocspgrp(): the group is named in the caller's pid namespace and must
 * belong to the caller's session, which this pty controls. It is pinned
 * by a pidfd of its leader, so it is this group that later signals reach.
 */
async function setForeground(c: Call): Promise<void> {
  try {
    c.term.checkChange(c.caller, 'SIGTTOU');
  } catch (err) {
    if (isSysError(err, EIO)) fail(ENOTTY);
    throw err;
  }
  const nsPgrp = await c.readInt();
  if (nsPgrp < 0) fail(EINVAL);
  c.requireCtty();
  const ctty = c.term.ctty!;
  // find_vpid() found nothing (0 names no process): ESRCH; found, but of another session: EPERM.
  if (nsPgrp === 0) fail(ESRCH);
  const pgrp = c.caller.toHost(nsPgrp);
  if (sessionOf(pgrp) !== ctty.sid) fail(EPERM);
  let group: Pinned;
  try {
    group = new Pinned(pgrp);
  } catch (err) {
    // Gone meanwhile, or a thread that leads nothing: not a group of this session.
    if (isSysError(err)) fail(EPERM);
    throw err;
  }
  ctty.setForeground(group);
  c.ok();
}
