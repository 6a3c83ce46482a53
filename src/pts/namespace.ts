// One pts namespace: the FUSE filesystem behind one mount, laid out as a
// devpts instance (fs/devpts/inode.c): root (ino 1), ptmx (ino 2), entry N
// (ino N+3), plus `tty`. A plain object, so that one process can serve many.
//
// With entries=chr the nodes are character devices: ptmx, tty and each pty
// N are CUSE devices (chrdev.ts) whose numbers the nodes carry, so the
// kernel opens the device and its requests come over that device's own
// connection; the same open files serve them, by file handle.
//
// st_ino follows devpts, but FUSE nodeids do not: each pty gets a nodeid of
// its own, never reused, so that a request through a stale inode (an O_PATH
// fd kept on a freed entry N) cannot reach the next pty that takes index N.
import * as fs from 'fs';
import {
  DT_CHR, DT_DIR, DT_REG, encodeDirent, S_IFCHR, FATTR_GID, FATTR_MODE, FATTR_UID, FOPEN_DIRECT_IO, FOPEN_NONSEEKABLE,
  FOPEN_PARALLEL_DIRECT_WRITES, FOPEN_STREAM, FUSE_POLL_SCHEDULE_NOTIFY, FUSE_READ_LOCKOWNER, FUSE_ROOT_ID,
  S_IFDIR, S_IFREG, type Attr, type EntryOut, type Handlers, type Req,
} from '../fuse';
import { isDaemonTask } from '../sys/callermem';
import { EIO, EISDIR, ENOENT, ENOSPC, ENOTTY, ENXIO, EBUSY, isSysError } from '../sys/errno';
import { hostHasRoom } from './budget';
import { encodeDev, type ChrDevice, type ChrDevices } from './chrdev';
import { cttyOfSession } from './ctty';
import { FuseRead, FuseWrite } from './file';
import { Caller } from './jobs';
import { POLLERR, POLLHUP } from '../sys/poll';
import type { PtsFile } from './file';
import { IndexAllocator } from './indexes';
import { MasterFile } from './master';
import { NR_UNIX98_PTY_MAX, type PtsOptions } from './options';
import { ReplicaFile } from './replica';
import { openBackingPty, Terminal, type BackingPty, type EntryAttrs } from './terminal';

export const PTMX_INO = 2;
/** First ino of numbered entries: entry N is ino N + 3, as in devpts. */
const FIRST_PTY_INO = 3;
/** Past every entry ino that max= allows. */
export const TTY_INO = FIRST_PTY_INO + NR_UNIX98_PTY_MAX;
/** Nodeids of ptys: TTY_INO + the pty's generation, unique for the life of the mount. */
const FIRST_PTY_NODEID = TTY_INO + 1;

/**
 * The size ptmx and tty report. Every master is an open of ptmx, and FUSE
 * serializes direct writes per inode unless they stay inside i_size
 * (fuse_dio_wr_exclusive_lock); a pty write is at offset 0 (FOPEN_STREAM)
 * and at most MAX_RW_COUNT (include/linux/fs.h), so with this size one
 * master blocked on a full pty does not hold up the others. Numbered
 * entries keep size 0: their writers are one pty's, which the kernel
 * serializes too (tty_write_lock).
 */
const SHARED_NODE_SIZE = 0x7ffff000;

/** Root, ptmx and tty never change behind the kernel's back: cache them long. */
const STATIC_TIMEOUT = 3600;
// Entries N come and go with ptys; a zero timeout has every lookup ask us,
// so an entry is gone the moment its master's RELEASE has been handled.
const ENTRY_TIMEOUT = 0;

/** poll(2) reports these whether asked or not. */
const POLL_ALWAYS = POLLERR | POLLHUP;
const O_NONBLOCK = fs.constants.O_NONBLOCK;
/** include/uapi/asm-generic/fcntl.h (Node's fs.constants lacks it). */
const O_ACCMODE = 0o3;
const BLOCK_SIZE = 4096;
const NAME_MAX = 255;

/** The open was for reading (FMODE_READ). */
function readable(req: Req<'open'>): boolean {
  return (req.arg.flags & O_ACCMODE) !== fs.constants.O_WRONLY;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** Parses an entry name as devpts accepts it: decimal, no leading zeros. */
function entryIndex(name: string): number | undefined {
  if (!/^(0|[1-9]\d{0,6})$/.test(name)) return undefined;
  return Number(name);
}

/** What a nodeid stands for. */
interface Node {
  /** st_ino, as devpts numbers it. */
  readonly ino: number;
  readonly type: number;
  readonly size: number;
  readonly attrs: EntryAttrs;
  readonly timeout: number;
  readonly generation: number;
  /** st_rdev, new_encode_dev()d; 0 for regular files. */
  readonly rdev: number;
}

/** A chr namespace's own devices; each pty has one more (Terminal.device). */
interface ChrNodes {
  readonly devices: ChrDevices;
  /** DEVNAME prefix of this namespace's devices. */
  readonly prefix: string;
  readonly ptmx: ChrDevice;
  readonly tty: ChrDevice;
}

function rdevOf(d: ChrDevice | undefined): number {
  return d ? encodeDev(d.major, d.minor) : 0;
}

export interface NamespaceDeps {
  /** Where backing ptys come from (tests may count them). */
  readonly openPty?: () => BackingPty;
}

export class PtsNamespace implements Handlers {
  private readonly terminals = new Map<number, Terminal>();
  /** The same ptys by nodeid. */
  private readonly byNodeid = new Map<number, Terminal>();
  private readonly files = new Map<number, PtsFile>();
  private readonly indexes: IndexAllocator;
  private nextFh = 1;
  private generation = 0;
  private readonly mounted = now();
  private readonly root: EntryAttrs;
  private readonly ptmx: EntryAttrs;
  private readonly tty: EntryAttrs;
  private readonly openPty: () => BackingPty;
  private chr: ChrNodes | undefined;

  constructor(readonly options: PtsOptions, deps: NamespaceDeps = {}) {
    this.indexes = new IndexAllocator(options.max);
    this.openPty = deps.openPty ?? openBackingPty;
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    // devpts: root 0755 and ptmx owned by the mounter (root of its user ns).
    this.root = { uid, gid, mode: 0o755, ctime: this.mounted };
    this.ptmx = { uid, gid, mode: options.ptmxmode, ctime: this.mounted };
    this.tty = { uid, gid, mode: 0o666, ctime: this.mounted };
  }

  /** The mode the entries have (the options say chr or file once mounted). */
  get entries(): 'chr' | 'file' {
    return this.chr ? 'chr' : 'file';
  }

  /** The char major of this namespace's devices, for the device cgroup rule. */
  get major(): number | undefined {
    return this.chr?.devices.major;
  }

  /** entries=chr: makes this namespace's ptmx and tty devices, before the mount shows them. */
  async makeDevices(devices: ChrDevices): Promise<void> {
    const prefix = devices.namespacePrefix();
    const ptmx = await devices.create(`${prefix}ptmx`, this.deviceHandlers((req) => this.openMasterDevice(req)));
    let tty: ChrDevice;
    try {
      tty = await devices.create(`${prefix}tty`, this.deviceHandlers((req) => this.opened(req, () => this.openCtty(req))));
    } catch (err) {
      devices.remove(ptmx);
      throw err;
    }
    this.chr = { devices, prefix, ptmx, tty };
  }

  /** What a CUSE device serves: its own open, then the namespace's open files by handle. */
  private deviceHandlers(open: (req: Req<'open'>) => void): Handlers {
    return {
      open,
      read: (req) => this.read(req),
      write: (req) => this.write(req),
      ioctl: (req) => this.ioctl(req),
      poll: (req) => this.poll(req),
      flush: (req) => this.flush(req),
      release: (req) => this.release(req),
    };
  }

  /** Open ptys, by index. */
  get ptys(): ReadonlyMap<number, Terminal> {
    return this.terminals;
  }

  // --- inodes ---

  private attr(n: Node): Attr {
    const { ino, size, type, attrs: a } = n;
    return {
      ino, size, blocks: 0, atime: a.ctime, mtime: a.ctime, ctime: a.ctime, atimensec: 0, mtimensec: 0, ctimensec: 0,
      mode: type | a.mode, nlink: type === S_IFDIR ? 2 : 1, uid: a.uid, gid: a.gid, rdev: n.rdev, blksize: BLOCK_SIZE, flags: 0,
    };
  }

  /**
   * Attributes and cache lifetime of a node, or undefined if it does not exist.
   * `hungUpToo`: an entry whose master is gone has no name any more, but its
   * inode lives on while replica fds hold it (fstat, fchmod work on them).
   */
  private node(nodeid: number, hungUpToo = false): Node | undefined {
    const chr = this.chr;
    if (nodeid === FUSE_ROOT_ID) return { ino: FUSE_ROOT_ID, type: S_IFDIR, size: 0, attrs: this.root, timeout: STATIC_TIMEOUT, generation: 0, rdev: 0 };
    if (nodeid === PTMX_INO || nodeid === TTY_INO) {
      const ptmx = nodeid === PTMX_INO;
      const attrs = ptmx ? this.ptmx : this.tty;
      if (chr) return { ino: nodeid, type: S_IFCHR, size: 0, attrs, timeout: STATIC_TIMEOUT, generation: 0, rdev: rdevOf(ptmx ? chr.ptmx : chr.tty) };
      return { ino: nodeid, type: S_IFREG, size: SHARED_NODE_SIZE, attrs, timeout: STATIC_TIMEOUT, generation: 0, rdev: 0 };
    }
    const t = this.byNodeid.get(nodeid);
    if (!t || (t.hungUp && !hungUpToo)) return undefined;
    // A chr entry appears once its device exists.
    if (chr && !t.device) return undefined;
    return {
      ino: t.index + FIRST_PTY_INO, type: chr ? S_IFCHR : S_IFREG, size: 0, attrs: t.attrs, timeout: ENTRY_TIMEOUT,
      generation: t.generation, rdev: rdevOf(t.device),
    };
  }

  private static nodeidOf(t: Terminal): number {
    return FIRST_PTY_NODEID + t.generation - 1;
  }

  /** Entry N exists from the ptmx open until the master's last close. */
  private liveTerminal(index: number): Terminal | undefined {
    const t = this.terminals.get(index);
    return t && !t.hungUp ? t : undefined;
  }

  private entry(nodeid: number): EntryOut | undefined {
    const n = this.node(nodeid);
    if (!n) return undefined;
    return {
      nodeid,
      generation: n.generation,
      entry_valid: n.timeout, attr_valid: n.timeout, entry_valid_nsec: 0, attr_valid_nsec: 0,
      attr: this.attr(n),
    };
  }

  lookup(req: Req<'lookup'>): void {
    if (req.nodeid !== FUSE_ROOT_ID) return req.error(ENOENT);
    const name = req.name ?? '';
    let nodeid: number | undefined;
    if (name === 'ptmx') nodeid = PTMX_INO;
    else if (name === 'tty') nodeid = TTY_INO;
    else {
      const index = entryIndex(name);
      const t = index === undefined ? undefined : this.liveTerminal(index);
      if (t) nodeid = PtsNamespace.nodeidOf(t);
    }
    const e = nodeid === undefined ? undefined : this.entry(nodeid);
    if (e) req.reply(e);
    else req.error(ENOENT);
  }

  getattr(req: Req<'getattr'>): void {
    const n = this.node(req.nodeid, true);
    if (!n) return req.error(ENOENT);
    req.reply({ attr_valid: n.timeout, attr_valid_nsec: 0, attr: this.attr(n) });
  }

  /** chmod and chown; the kernel checked permissions (default_permissions). Sizes and times are ignored, as on devpts. */
  setattr(req: Req<'setattr'>): void {
    const n = this.node(req.nodeid, true);
    if (!n) return req.error(ENOENT);
    const a = req.arg;
    if (a.valid & FATTR_MODE) n.attrs.mode = a.mode & 0o7777;
    if (a.valid & FATTR_UID) n.attrs.uid = a.uid;
    if (a.valid & FATTR_GID) n.attrs.gid = a.gid;
    if (a.valid & (FATTR_MODE | FATTR_UID | FATTR_GID)) n.attrs.ctime = now();
    req.reply({ attr_valid: n.timeout, attr_valid_nsec: 0, attr: this.attr(n) });
  }

  opendir(req: Req<'opendir'>): void {
    if (req.nodeid !== FUSE_ROOT_ID) return req.error(ENOENT);
    req.reply({ fh: 0, open_flags: 0 });
  }

  /** ., .., ptmx, tty, then the entries in index order; offsets are positions in that order. */
  readdir(req: Req<'readdir'>): void {
    const dt = this.chr ? DT_CHR : DT_REG;
    const names: [number, number, string][] = [
      [FUSE_ROOT_ID, DT_DIR, '.'], [FUSE_ROOT_ID, DT_DIR, '..'], [PTMX_INO, dt, 'ptmx'], [TTY_INO, dt, 'tty'],
    ];
    const fixed = names.length;
    const indexes = [...this.terminals.values()].filter((t) => !t.hungUp && (!this.chr || t.device)).map((t) => t.index).sort((a, b) => a - b);
    const buf = Buffer.alloc(req.arg.size);
    let off = 0;
    // Offset k means "k names already listed"; entries use fixed + index + 1 so that
    // a pty vanishing between two READDIRs does not shift the others.
    const start = req.arg.offset;
    for (let i = 0; i < fixed; i++) {
      if (i < start) continue;
      const [ino, type, name] = names[i]!;
      const next = encodeDirent(buf, off, buf.length, ino, i + 1, type, name);
      if (next < 0) return req.replyData(buf.subarray(0, off));
      off = next;
    }
    for (const index of indexes) {
      const pos = fixed + index + 1;
      if (pos <= start) continue;
      const next = encodeDirent(buf, off, buf.length, index + FIRST_PTY_INO, pos, dt, String(index));
      if (next < 0) break;
      off = next;
    }
    req.replyData(buf.subarray(0, off));
  }

  releasedir(req: Req<'releasedir'>): void {
    req.ok();
  }

  statfs(req: Req<'statfs'>): void {
    req.reply({
      st: { blocks: 0, bfree: 0, bavail: 0, files: this.terminals.size + 3, ffree: 0, bsize: BLOCK_SIZE, namelen: NAME_MAX, frsize: BLOCK_SIZE },
    });
  }

  access(req: Req<'access'>): void {
    // default_permissions: the kernel checks modes itself.
    req.ok();
  }

  // --- open files ---

  /** An OPEN through the mount: only file entries get here (the kernel opens a chr node's device). */
  open(req: Req<'open'>): void {
    const ino = req.nodeid;
    if (ino === FUSE_ROOT_ID) return req.error(EISDIR);
    if (ino === PTMX_INO) return this.opened(req, () => this.openMaster(req));
    if (ino === TTY_INO) return this.opened(req, () => this.openCtty(req));
    this.opened(req, () => this.openReplica(req, this.byNodeid.get(ino)));
  }

  /** Answers an open with a new file handle for what `open` made, or its errno. */
  private opened(req: Req<'open'>, open: () => PtsFile | number): void {
    let file: PtsFile | number;
    try {
      file = open();
    } catch (err) {
      if (!isSysError(err)) throw err;
      file = err.errno;
    }
    if (typeof file === 'number') return req.error(file);
    const fh = this.nextFh++;
    this.files.set(fh, file);
    req.reply({ fh, open_flags: FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE | FOPEN_STREAM | FOPEN_PARALLEL_DIRECT_WRITES });
  }

  /**
   * An open of the ptmx device: the pty's own device must exist before
   * the caller learns its index. No room for one more device is ENOSPC,
   * as a full instance is; a namespace never mixes modes.
   */
  private openMasterDevice(req: Req<'open'>): void {
    const chr = this.chr!;
    let master: MasterFile;
    try {
      const m = this.openMaster(req);
      if (typeof m === 'number') return req.error(m);
      master = m;
    } catch (err) {
      if (!isSysError(err)) throw err;
      return req.error(err.errno);
    }
    const t = master.term;
    const replicaOpen = (r: Req<'open'>): void => this.opened(r, () => this.openReplica(r, t));
    chr.devices.create(`${chr.prefix}${t.index}`, this.deviceHandlers(replicaOpen)).then((dev) => {
      t.device = dev;
      // Interrupted meanwhile (the caller got EINTR), or the mount went: nobody holds this master.
      if (req.done || !this.chr) return master.release();
      this.opened(req, () => master);
    }, (err: unknown) => {
      master.release();
      if (!isSysError(err)) console.error('ptsfs: creating a pty device failed:', err);
      req.error(isSysError(err) ? err.errno : EIO);
    });
  }

  /** ptmx_open(): a new pty at the lowest free index, its replica locked. */
  private openMaster(req: Req<'open'>): MasterFile | number {
    if (!hostHasRoom()) return ENOSPC;
    const index = this.indexes.allocate();
    if (index === undefined) return ENOSPC;
    let backing: BackingPty;
    try {
      backing = this.openPty();
    } catch (err) {
      this.indexes.free(index);
      // The host ran out of ptys (kernel.pty.max) or fds.
      return isSysError(err) ? err.errno : ENOSPC;
    }
    const o = this.options;
    // devpts_pty_new(): owner from uid=/gid= or else the opener's fsuid/fsgid.
    const attrs: EntryAttrs = { uid: o.uid ?? req.uid, gid: o.gid ?? req.gid, mode: o.mode, ctime: now() };
    const term = new Terminal(index, ++this.generation, attrs, backing, (t) => this.ptyGone(t));
    this.terminals.set(index, term);
    this.byNodeid.set(PtsNamespace.nodeidOf(term), term);
    return new MasterFile(term, readable(req));
  }

  private openReplica(req: Req<'open'>, t: Terminal | undefined): PtsFile | number {
    // Opening N whose master is gone, or still locked: EIO (pty.c pts_unix98_lookup, pty_open).
    if (!t || t.hungUp) return EIO;
    // tty_reopen(): TIOCEXCL keeps out all but CAP_SYS_ADMIN, checked before pty_open() looks at the lock.
    if (t.slave.exclusive && !new Caller(req.pid).sysAdmin) return EBUSY;
    if (t.locked) return EIO;
    return new ReplicaFile(t, readable(req));
  }

  /** `tty` is /dev/tty: the caller's controlling terminal, if it is a pty of this namespace (tty_open_current_tty). */
  private openCtty(req: Req<'open'>): PtsFile | number {
    const ctty = cttyOfSession(new Caller(req.pid).sid);
    if (!ctty) return ENXIO;
    for (const t of this.terminals.values()) {
      if (t.ctty === ctty) return this.openReplica(req, t);
    }
    return ENXIO;
  }

  /** Both sides closed: the index is free again (devpts_kill_index). */
  private ptyGone(t: Terminal): void {
    this.terminals.delete(t.index);
    this.byNodeid.delete(PtsNamespace.nodeidOf(t));
    this.indexes.free(t.index);
    if (t.device) this.chr?.devices.remove(t.device);
  }

  private file(fh: number): PtsFile | undefined {
    return this.files.get(fh);
  }

  read(req: Req<'read'>): void {
    const f = this.file(req.arg.fh);
    if (!f) return req.error(EIO);
    // A tty has no mmap and no page cache (tty_fops). A READ without a lock
    // owner comes from the page cache: a fault on a MAP_PRIVATE mapping or
    // a splice. Served as a pty read it would wait for input, and when the
    // faulting task is the daemon's own access to caller memory, it would
    // wait for itself. EIO at once: the fault fails (SIGBUS, EFAULT).
    if ((req.arg.read_flags & FUSE_READ_LOCKOWNER) === 0 || isDaemonTask(req.pid)) return req.error(EIO);
    try {
      f.read(new FuseRead(req), (req.arg.flags & O_NONBLOCK) !== 0, req.pid);
    } catch (err) {
      if (!isSysError(err)) throw err;
      req.error(err.errno);
    }
  }

  write(req: Req<'write'>): void {
    const f = this.file(req.arg.fh);
    if (!f) return req.error(EIO);
    try {
      f.write(new FuseWrite(req), (req.arg.flags & O_NONBLOCK) !== 0, req.pid);
    } catch (err) {
      if (!isSysError(err)) throw err;
      req.error(err.errno);
    }
  }

  ioctl(req: Req<'ioctl'>): void {
    const f = this.file(req.arg.fh);
    if (!f) return req.error(ENOTTY);
    f.ioctl(req);
  }

  poll(req: Req<'poll'>): void {
    const f = this.file(req.arg.fh);
    if (!f) return req.error(EIO);
    const { kh, flags } = req.arg;
    const revents = f.poll(flags & FUSE_POLL_SCHEDULE_NOTIFY ? kh : undefined, req.session.wakePoller);
    req.reply({ revents: revents & (req.arg.events | POLL_ALWAYS) });
  }

  flush(req: Req<'flush'>): void {
    req.ok();
  }

  release(req: Req<'release'>): void {
    const f = this.file(req.arg.fh);
    this.files.delete(req.arg.fh);
    req.ok();
    f?.release();
  }

  /** The mount is gone: hang up every pty and free the backing ones. */
  shutdown(): void {
    for (const [fh, f] of [...this.files]) {
      this.files.delete(fh);
      f.release();
    }
    const chr = this.chr;
    this.chr = undefined;
    if (!chr) return;
    for (const t of this.terminals.values()) if (t.device) chr.devices.remove(t.device);
    chr.devices.remove(chr.ptmx);
    chr.devices.remove(chr.tty);
  }
}
