// Constants of the FUSE kernel ABI, from include/uapi/linux/fuse.h.
// We speak protocol 7.38: every structure we use has its 7.38 size, and the
// kernel (7.45 here) adapts to the minor version we answer INIT with.

export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR_VERSION = 38;
export const FUSE_ROOT_ID = 1;
/** A /dev/fuse read buffer must hold at least this much (fs/fuse/dev.c). */
export const FUSE_MIN_READ_BUFFER = 8192;

export enum Opcode {
  LOOKUP = 1,
  FORGET = 2,
  GETATTR = 3,
  SETATTR = 4,
  READLINK = 5,
  SYMLINK = 6,
  MKNOD = 8,
  MKDIR = 9,
  UNLINK = 10,
  RMDIR = 11,
  RENAME = 12,
  LINK = 13,
  OPEN = 14,
  READ = 15,
  WRITE = 16,
  STATFS = 17,
  RELEASE = 18,
  FSYNC = 20,
  SETXATTR = 21,
  GETXATTR = 22,
  LISTXATTR = 23,
  REMOVEXATTR = 24,
  FLUSH = 25,
  INIT = 26,
  OPENDIR = 27,
  READDIR = 28,
  RELEASEDIR = 29,
  FSYNCDIR = 30,
  GETLK = 31,
  SETLK = 32,
  SETLKW = 33,
  ACCESS = 34,
  CREATE = 35,
  INTERRUPT = 36,
  BMAP = 37,
  DESTROY = 38,
  IOCTL = 39,
  POLL = 40,
  NOTIFY_REPLY = 41,
  BATCH_FORGET = 42,
  FALLOCATE = 43,
  READDIRPLUS = 44,
  RENAME2 = 45,
  LSEEK = 46,
  COPY_FILE_RANGE = 47,
  SETUPMAPPING = 48,
  REMOVEMAPPING = 49,
  SYNCFS = 50,
  TMPFILE = 51,
  STATX = 52,
  /** The first request on /dev/cuse: the server answers with the device to create (fs/fuse/cuse.c). */
  CUSE_INIT = 4096,
}

export enum NotifyCode {
  POLL = 1,
  INVAL_INODE = 2,
  INVAL_ENTRY = 3,
  STORE = 4,
  RETRIEVE = 5,
  DELETE = 6,
}

/** INIT flags (fuse_init_in.flags / fuse_init_out.flags). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  ATOMIC_O_TRUNC: 1 << 3,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  HAS_IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  NO_OPENDIR_SUPPORT: 1 << 24,
  INIT_EXT: 1 << 30,
} as const;

/** fuse_open_out.open_flags */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;
export const FOPEN_STREAM = 1 << 4;
export const FOPEN_NOFLUSH = 1 << 5;
/** Writes through different opens of one inode need not wait for each other (7.36). */
export const FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;

/** fuse_read_in.read_flags: set by direct I/O (read(2)); page-cache reads (mmap faults, splice) lack it. */
export const FUSE_READ_LOCKOWNER = 1 << 1;

/** fuse_setattr_in.valid */
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_CTIME = 1 << 10;

/** fuse_ioctl_in.flags */
export const FUSE_IOCTL_COMPAT = 1 << 0;
export const FUSE_IOCTL_UNRESTRICTED = 1 << 1;
export const FUSE_IOCTL_RETRY = 1 << 2;
export const FUSE_IOCTL_32BIT = 1 << 3;
export const FUSE_IOCTL_DIR = 1 << 4;

/** Most iovecs an ioctl retry may ask for, in and out together. */
export const FUSE_IOCTL_MAX_IOV = 256;

/** cuse_init_out.flags: ioctls arrive unrestricted (FUSE_IOCTL_UNRESTRICTED), so the server can ask for any memory. */
export const CUSE_UNRESTRICTED_IOCTL = 1 << 0;
/** Bytes of "KEY=value\0" device info a CUSE_INIT reply may carry (fs/fuse/cuse.c). */
export const CUSE_INIT_INFO_MAX = 4096;

/** fuse_poll_in.flags: the kernel wants a FUSE_NOTIFY_POLL when readiness changes. */
export const FUSE_POLL_SCHEDULE_NOTIFY = 1 << 0;

/** fuse_getattr_in.getattr_flags */
export const FUSE_GETATTR_FH = 1 << 0;

/** fuse_release_in.release_flags */
export const FUSE_RELEASE_FLUSH = 1 << 0;

/** File type bits of st_mode and dirent types (include/uapi/linux/stat.h). */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFCHR = 0o020000;
export const S_IFLNK = 0o120000;
export const DT_DIR = 4;
export const DT_REG = 8;
export const DT_CHR = 2;
