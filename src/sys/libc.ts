// System calls Node lacks, bound from glibc with koffi, behind typed
// wrappers that throw SysError. Only for Linux on an LP64 ABI (x86_64):
// checkAbi() refuses to load elsewhere rather than pass mis-sized arguments.

import koffi from 'koffi';
import { EFAULT, SysError } from './errno';
import { IOC_NONE, iocDir, iocSize } from './ioc';

// mount(2) flags (include/uapi/linux/mount.h).
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;

// umount2(2) flags (glibc <sys/mount.h>, kernel include/linux/fs.h).
export const MNT_FORCE = 1;
/** Lazy unmount: detach now, clean up when the last user goes. */
export const MNT_DETACH = 2;
export const UMOUNT_NOFOLLOW = 8;

// koffi's 'long', 'unsigned long', 'size_t' and pointers must all be the
// 8-byte kernel `long` the syscall ABI passes in a register; struct iovec
// below is laid out on that assumption too.
const WORD = 8;

function checkAbi(): void {
  for (const type of ['long', 'unsigned long', 'size_t', 'void *']) {
    if (koffi.sizeof(type) !== WORD) {
      throw new Error(`ptsfs/sys needs an LP64 ABI: koffi sizeof(${type}) = ${koffi.sizeof(type)}`);
    }
  }
}

checkAbi();

const libc = koffi.load('libc.so.6');

// Each binding is cast from koffi's untyped function to the exact JS shape
// the prototype accepts; the wrappers below are the only callers.
type MountFn = (source: string, target: string, fstype: string, flags: number, data: string | null) => number;
type Umount2Fn = (target: string, flags: number) => number;
// Variadic: koffi takes (type, value) pairs for the arguments after `...`.
type IoctlFn = (fd: number, request: number, argType: string, arg: Buffer | number) => number;
type ReadFn = (fd: number, buf: Buffer, count: number) => number;
type WriteFn = (fd: number, buf: Buffer, count: number) => number;
type FcntlFn = (fd: number, cmd: number, argType: string, arg: number) => number;
type FlockFn = (fd: number, operation: number) => number;
type ProcessVmFn = (pid: number, local: Buffer, liovcnt: number, remote: Buffer, riovcnt: number, flags: number) => number;

const native = {
  read: libc.func('long read(int fd, void *buf, unsigned long count)') as ReadFn,
  write: libc.func('long write(int fd, const void *buf, unsigned long count)') as WriteFn,
  mount: libc.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ) as MountFn,
  umount2: libc.func('int umount2(const char *target, int flags)') as Umount2Fn,
  // glibc declares `int ioctl(int fd, unsigned long request, ...)`. Calling a
  // variadic function through a fixed prototype is undefined in C (on x86_64
  // the caller must also set %al), so it is bound as variadic.
  ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)') as IoctlFn,
  fcntl: libc.func('int fcntl(int fd, int cmd, ...)') as FcntlFn,
  flock: libc.func('int flock(int fd, int operation)') as FlockFn,
  // ssize_t is `long` on LP64; koffi has no ssize_t spelling.
  processVmReadv: libc.func(
    'long process_vm_readv(int pid, void *local, unsigned long liovcnt, void *remote, unsigned long riovcnt, unsigned long flags)',
  ) as ProcessVmFn,
  processVmWritev: libc.func(
    'long process_vm_writev(int pid, void *local, unsigned long liovcnt, void *remote, unsigned long riovcnt, unsigned long flags)',
  ) as ProcessVmFn,
};

/** Throw SysError with the current errno if a libc call returned -1. */
function check(syscall: string, rc: number): number {
  if (rc === -1) throw new SysError(syscall, koffi.errno());
  return rc;
}

/** mount(2). `data` is the filesystem's option string (null for none). */
export function mount(source: string, target: string, fstype: string, flags: number, data: string | null): void {
  check('mount', native.mount(source, target, fstype, flags, data));
}

/** umount2(2) with MNT_* / UMOUNT_NOFOLLOW flags. */
export function umount2(target: string, flags: number): void {
  check('umount2', native.umount2(target, flags));
}

/**
 * ioctl(fd, request, buf): the kernel reads and/or writes `buf`'s memory.
 * For _IOC-encoded requests the buffer must hold the encoded size: the
 * kernel copies exactly that many bytes, and a shorter Buffer would let it
 * read or scribble past the end of Node's heap allocation. Legacy requests
 * (TCGETS 0x5401 ...) carry no size; the caller must size `buf` right.
 */
export function ioctlBuffer(fd: number, request: number, buf: Buffer): number {
  if (iocDir(request) !== IOC_NONE && buf.length < iocSize(request)) {
    throw new RangeError(`ioctl 0x${request.toString(16)} needs ${iocSize(request)} bytes, got ${buf.length}`);
  }
  return check('ioctl', native.ioctl(fd, request, 'void *', buf));
}

/**
 * ioctl(fd, request, value) for requests that take their argument by value
 * (TCFLSH, TCXONC, TCSBRK, TIOCSIG), not through a pointer.
 * Passed as a full `long`: glibc forwards the variadic word unchanged as the
 * kernel's `unsigned long arg`, so an `int` would leave the upper half of
 * the register undefined.
 */
export function ioctlValue(fd: number, request: number, value: number): number {
  return check('ioctl', native.ioctl(fd, request, 'long', value));
}

// fcntl commands and fd flag (include/uapi/asm-generic/fcntl.h;
// F_DUPFD_CLOEXEC is F_LINUX_SPECIFIC_BASE + 6 in include/uapi/linux/fcntl.h).
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_DUPFD_CLOEXEC = 1030;

/**
 * dup(2), but close-on-exec like every fd Node opens itself: a plain dup
 * would leak into spawned children and keep e.g. a pty end open there, so
 * the peer would never see the hangup.
 */
export function dup(fd: number): number {
  return check('fcntl', native.fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0));
}

/**
 * Mark `fd` close-on-exec. For fds that native code opened without
 * O_CLOEXEC (node-pty's native.open), which children would otherwise inherit.
 */
export function setCloexec(fd: number): void {
  const flags = check('fcntl', native.fcntl(fd, F_GETFD, 'int', 0));
  check('fcntl', native.fcntl(fd, F_SETFD, 'int', flags | FD_CLOEXEC));
}

// flock(2) operations (include/uapi/asm-generic/fcntl.h).
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2): an advisory lock that the kernel drops when the holder dies, so no stale lock outlives a SIGKILL. */
export function flock(fd: number, operation: number): void {
  check('flock', native.flock(fd, operation));
}

// --- process_vm_readv / process_vm_writev -------------------------------
//
// struct iovec { void *iov_base; size_t iov_len; } = 16 bytes on LP64.
// The two iovecs (local at index 0, remote at index 1) live in one buffer
// allocated once; a call rewrites their words through typed-array views
// (native byte order, as the kernel reads them; several times faster than
// Buffer.writeBigUInt64LE) and passes the same two Buffers every time.
// allocUnsafeSlow: a dedicated off-heap backing store whose address never
// changes (small Buffer.alloc()s may sit in V8's moving heap).
const IOVEC_SIZE = 2 * WORD;
const LOCAL = 0;
const REMOTE = 1;
const iovecs = Buffer.allocUnsafeSlow(2 * IOVEC_SIZE);
const localIov = iovecs.subarray(LOCAL * IOVEC_SIZE, (LOCAL + 1) * IOVEC_SIZE);
const remoteIov = iovecs.subarray(REMOTE * IOVEC_SIZE, (REMOTE + 1) * IOVEC_SIZE);
const iovWords = new BigUint64Array(iovecs.buffer, iovecs.byteOffset, 2 * IOVEC_SIZE / WORD);
const iovHalves = new Uint32Array(iovecs.buffer, iovecs.byteOffset, 2 * IOVEC_SIZE / 4);

// Reads land in a preallocated scratch area and are copied out: tty ioctl
// arguments are 4-60 bytes, and a copy is cheaper than a fresh off-heap
// allocation plus an address lookup per call. Larger reads get their own.
const SCRATCH_SIZE = 64 * 1024;
const MAX_ADDRESS = 0xffff_ffff_ffff_ffffn;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
const scratchAddress = koffi.address(scratch);

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad length ${length}`);
}

// pid_t is an int: koffi would silently wrap a larger number to another pid.
function checkPid(pid: number): void {
  if ((pid | 0) !== pid) throw new RangeError(`bad pid ${pid}`);
}

/** Fill iovec `index`: base pointer, then iov_len as two native u32 halves (no BigInt). */
function setIovec(index: number, base: bigint, length: number): void {
  const word = index * (IOVEC_SIZE / WORD);
  iovWords[word] = base;
  iovHalves[2 * word + 2] = length % 0x1_0000_0000;
  iovHalves[2 * word + 3] = Math.floor(length / 0x1_0000_0000);
}

function setIovecs(localBase: bigint, remoteBase: bigint, length: number): void {
  if (remoteBase < 0n || remoteBase > MAX_ADDRESS) throw new RangeError(`bad address ${remoteBase}`);
  setIovec(LOCAL, localBase, length);
  setIovec(REMOTE, remoteBase, length);
}

/**
 * Run one transfer over the iovecs set up by setIovecs. The kernel returns
 * the bytes moved; it stops early (a short count, not an error) when the
 * remote range runs into an unmapped or inaccessible page
 * (mm/process_vm_access.c), and fails with EFAULT only if nothing moved. To
 * an ioctl caller both mean the same: its pointer was bad. So anything short
 * of `length` is EFAULT.
 */
function transfer(syscall: string, fn: ProcessVmFn, pid: number, length: number): void {
  const moved = check(syscall, fn(pid, localIov, 1, remoteIov, 1, 0));
  if (moved !== length) throw new SysError(syscall, EFAULT);
}

/**
 * Copy `length` bytes at `addr` in process `pid` (a host pid). Throws
 * SysError: ESRCH (no such pid), EPERM (ptrace access denied), EFAULT (bad
 * or partly unmapped range, including address 0).
 */
export function processVmRead(pid: number, addr: bigint, length: number): Buffer {
  checkPid(pid);
  checkLength(length);
  if (length > SCRATCH_SIZE) {
    const out = Buffer.allocUnsafeSlow(length);
    setIovecs(koffi.address(out), addr, length);
    transfer('process_vm_readv', native.processVmReadv, pid, length);
    return out;
  }
  setIovecs(scratchAddress, addr, length);
  transfer('process_vm_readv', native.processVmReadv, pid, length);
  const out = Buffer.allocUnsafe(length);
  scratch.copy(out, 0, 0, length);
  return out;
}

/**
 * Copy `data` to `addr` in process `pid`. Same errors as processVmRead. A
 * partial write (EFAULT) may have changed the bytes before the bad page.
 */
export function processVmWrite(pid: number, addr: bigint, data: Buffer): void {
  checkPid(pid);
  // The kernel returns 0 for an empty transfer before it even looks up the pid.
  if (data.length === 0) return;
  // koffi.address asks Node for the Buffer's data pointer, which first moves
  // an on-heap typed array off-heap, so the address stays valid for the call.
  setIovecs(koffi.address(data), addr, data.length);
  transfer('process_vm_writev', native.processVmWritev, pid, data.length);
}


/**
 * read(2) on a non-blocking fd for the hot paths that expect "nothing there"
 * often: returns the byte count, or -1 when the read failed (EAGAIN, or an
 * error the fd's own watcher will report). fs.readSync would build and throw
 * an Error for every EAGAIN.
 */
export function tryRead(fd: number, buf: Buffer, offset = 0, length = buf.length - offset): number {
  if (offset < 0 || length < 0 || offset + length > buf.length) throw new RangeError('tryRead: range outside the buffer');
  return native.read(fd, offset === 0 ? buf : buf.subarray(offset), length);
}

/**
 * write(2) on a non-blocking fd where a full fd is routine: returns the
 * byte count, or -errno (-EAGAIN when full). fs.writeSync would throw an
 * Error, stack trace and all, for every EAGAIN: on a busy pty that was the
 * largest cost of relaying bytes.
 */
export function tryWrite(fd: number, buf: Buffer, offset = 0, length = buf.length - offset): number {
  if (offset < 0 || length < 0 || offset + length > buf.length) throw new RangeError('tryWrite: range outside the buffer');
  const n = native.write(fd, offset === 0 ? buf : buf.subarray(offset), length);
  return n >= 0 ? n : -koffi.errno();
}
