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
type ProcessVmFn = (pid: number, local: Buffer, liovcnt: number, remote: Buffer, riovcnt: number, flags: number) => number;

const native = {
  mount: libc.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ) as MountFn,
  umount2: libc.func('int umount2(const char *target, int flags)') as Umount2Fn,
  // glibc declares `int ioctl(int fd, unsigned long request, ...)`. Calling a
  // variadic function through a fixed prototype is undefined in C (on x86_64
  // the caller must also set %al), so it is bound as variadic.
  ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)') as IoctlFn,
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

// --- process_vm_readv / process_vm_writev -------------------------------
//
// struct iovec { void *iov_base; size_t iov_len; } = 16 bytes on LP64.
// The two iovecs (one local, one remote) live in one buffer allocated once;
// a call only rewrites the base/length words and passes the same Buffers.
// allocUnsafeSlow: a dedicated off-heap backing store whose address never
// changes (small Buffer.alloc()s may sit in V8's moving heap).
const IOVEC_SIZE = 2 * WORD;
const IOV_BASE = 0;
const IOV_LEN = WORD;
const iovecs = Buffer.allocUnsafeSlow(2 * IOVEC_SIZE);
const localIov = iovecs.subarray(0, IOVEC_SIZE);
const remoteIov = iovecs.subarray(IOVEC_SIZE, 2 * IOVEC_SIZE);

// Reads land in a preallocated scratch area and are copied out: tty ioctl
// arguments are 4-60 bytes, and a copy is cheaper than a fresh off-heap
// allocation plus an address lookup per call. Larger reads get their own.
const SCRATCH_SIZE = 64 * 1024;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
const scratchAddress = koffi.address(scratch);

/** Store a non-negative safe integer as a little-endian u64 (no BigInt). */
function writeWord(buf: Buffer, offset: number, n: number): void {
  buf.writeUInt32LE(n % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(n / 0x1_0000_0000), offset + 4);
}

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad length ${length}`);
}

function setIovecs(localBase: bigint, remoteBase: bigint, length: number): void {
  localIov.writeBigUInt64LE(localBase, IOV_BASE);
  writeWord(localIov, IOV_LEN, length);
  remoteIov.writeBigUInt64LE(remoteBase, IOV_BASE);
  writeWord(remoteIov, IOV_LEN, length);
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
  if (data.length === 0) return;
  // koffi.address asks Node for the Buffer's data pointer, which first moves
  // an on-heap typed array off-heap, so the address stays valid for the call.
  setIovecs(koffi.address(data), addr, data.length);
  transfer('process_vm_writev', native.processVmWritev, pid, data.length);
}
