// The _IOC ioctl number encoding (include/uapi/asm-generic/ioctl.h, used by
// x86_64 and arm64): bits 0-7 nr, 8-15 type, 16-29 argument size, 30-31
// direction. Kept apart from tty.ts so libc.ts can size-check ioctl buffers
// without importing the tty layer that is built on top of it.

export const IOC_NONE = 0;
/** Userspace writes: the kernel copies the argument in (_IOW). */
export const IOC_WRITE = 1;
/** Userspace reads: the kernel copies the argument out (_IOR). */
export const IOC_READ = 2;

const NR_SHIFT = 0;
const TYPE_SHIFT = 8;
const SIZE_SHIFT = 16;
const DIR_SHIFT = 30;
const NR_MASK = 0xff;
const TYPE_MASK = 0xff;
const SIZE_MASK = 0x3fff;
const DIR_MASK = 0x3;

/**
 * Encode an ioctl number like the kernel's _IOC(dir, type, nr, size).
 * `type` is a one-character string ('T') or its code. The result is an
 * unsigned 32-bit number (`>>> 0`: dir bits would make a JS int negative).
 */
export function ioc(dir: number, type: string | number, nr: number, size: number): number {
  const typeCode = typeof type === 'string' ? type.charCodeAt(0) : type;
  if (size < 0 || size > SIZE_MASK) throw new RangeError(`ioctl size ${size} does not fit _IOC`);
  return (((dir & DIR_MASK) << DIR_SHIFT) |
    ((size & SIZE_MASK) << SIZE_SHIFT) |
    ((typeCode & TYPE_MASK) << TYPE_SHIFT) |
    ((nr & NR_MASK) << NR_SHIFT)) >>> 0;
}

/** _IOC_DIR: IOC_NONE, IOC_READ, IOC_WRITE or IOC_READ|IOC_WRITE. */
export function iocDir(cmd: number): number {
  return (cmd >>> DIR_SHIFT) & DIR_MASK;
}

/** _IOC_SIZE: bytes the argument points at (meaningful only if iocDir != IOC_NONE). */
export function iocSize(cmd: number): number {
  return (cmd >>> SIZE_SHIFT) & SIZE_MASK;
}

/** _IOC_TYPE: the "magic" byte, e.g. 0x54 ('T') for tty ioctls. */
export function iocType(cmd: number): number {
  return (cmd >>> TYPE_SHIFT) & TYPE_MASK;
}

/** _IOC_NR: the command number within its type. */
export function iocNr(cmd: number): number {
  return (cmd >>> NR_SHIFT) & NR_MASK;
}
