// Named errno values and the error type every src/sys wrapper throws.
//
// Numbers come from Node's own table (os.constants.errno), which libuv fills
// from the platform headers, so nothing here hard-codes an errno value.
// Errno numbers are positive throughout ptsfs (as the kernel's syscall ABI
// negates them, a FUSE reply carries -errno; the caller does the negation).

import os from 'os';
import util from 'util';

export const {
  EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, EBADF, EAGAIN, ENOMEM, EACCES,
  EFAULT, EBUSY, EEXIST, ENODEV, ENOTDIR, EISDIR, EINVAL, EMFILE, ENOTTY,
  ENOSPC, EROFS, EPIPE, ERANGE, ENAMETOOLONG, ENOSYS, ENOTEMPTY, ENODATA,
  EOPNOTSUPP, ECHILD, EXDEV, EPROTO, ENOTCONN, ETIMEDOUT, ECONNREFUSED,
} = os.constants.errno;

// Linux gives some numbers two names. Prefer the one the kernel and glibc's
// strerrorname_np() print: EAGAIN (not EWOULDBLOCK), EOPNOTSUPP (not ENOTSUP).
const PREFERRED_NAMES: readonly string[] = ['EAGAIN', 'EOPNOTSUPP'];

const NAMES: ReadonlyMap<number, string> = buildNameMap();

function buildNameMap(): Map<number, string> {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(os.constants.errno)) {
    if (!names.has(value) || PREFERRED_NAMES.includes(name)) names.set(value, name);
  }
  return names;
}

// glibc's strerror() text for the errnos ptsfs deals in. Node 20 has no
// util.getSystemErrorMessage, and libuv's own messages differ from what
// strace, perror and the kernel docs say ("i/o error", "resource busy or
// locked"), so messages match glibc, which the tests check against strerror().
const MESSAGES: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files',
  ENOTTY: 'Inappropriate ioctl for device',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EPIPE: 'Broken pipe',
  ERANGE: 'Numerical result out of range',
  ENAMETOOLONG: 'File name too long',
  ENOSYS: 'Function not implemented',
  ENOTEMPTY: 'Directory not empty',
  ENODATA: 'No data available',
  EOPNOTSUPP: 'Operation not supported',
  ECHILD: 'No child processes',
  EXDEV: 'Invalid cross-device link',
  EPROTO: 'Protocol error',
  ENOTCONN: 'Transport endpoint is not connected',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
};

/** Symbolic name of an errno number, e.g. 1 -> "EPERM"; unknown -> "E<n>". */
export function errnoName(n: number): string {
  return NAMES.get(n) ?? `E${n}`;
}

/** Human-readable text for an errno number, as glibc's strerror() words it. */
export function errnoMessage(n: number): string {
  const name = NAMES.get(n);
  const known = name === undefined ? undefined : MESSAGES[name];
  if (known !== undefined) return known;
  // Outside the table: libuv's wording (Node stores it under -errno).
  const uv = util.getSystemErrorMap().get(-n);
  return uv === undefined ? `Unknown error ${n}` : uv[1].charAt(0).toUpperCase() + uv[1].slice(1);
}

/** A failed system call: `syscall` failed with positive `errno` (`code` is its name). */
export class SysError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;

  constructor(syscall: string, errno: number) {
    super(`${syscall}: ${errnoName(errno)} (${errnoMessage(errno)})`);
    this.name = 'SysError';
    this.errno = errno;
    this.code = errnoName(errno);
    this.syscall = syscall;
  }
}

/** True if `e` is a SysError, and (if given) carries exactly errno `errno`. */
export function isSysError(e: unknown, errno?: number): e is SysError {
  return e instanceof SysError && (errno === undefined || e.errno === errno);
}
