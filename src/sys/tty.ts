// tty ioctl numbers, kernel termios/winsize layouts and termios flags for
// Linux x86_64. Values are those of include/uapi/asm-generic/ioctls.h and
// termbits.h (x86_64's asm/ioctls.h just includes the generic file).
//
// The layouts are the KERNEL's: TCGETS copies a 36-byte struct termios
// (glibc's userspace struct termios is 60 bytes, with speeds appended and a
// 32-entry c_cc; never mix the two).

import { ioctlBuffer } from './libc';
import { IOC_NONE, IOC_READ, IOC_WRITE, ioc } from './ioc';

export { IOC_NONE, IOC_READ, IOC_WRITE, ioc, iocDir, iocNr, iocSize, iocType } from './ioc';

// --- layouts ------------------------------------------------------------

/** Control characters in the kernel's struct termios (NCCS in termbits.h). */
export const NCCS = 19;

/** struct termios: 4 x u32 flags, u8 c_line, u8 c_cc[NCCS]. */
export const TERMIOS_IFLAG = 0;
export const TERMIOS_OFLAG = 4;
export const TERMIOS_CFLAG = 8;
export const TERMIOS_LFLAG = 12;
export const TERMIOS_LINE = 16;
export const TERMIOS_CC = 17;
export const KERNEL_TERMIOS_SIZE = TERMIOS_CC + NCCS; // 36

/** struct termios2 = struct termios + u32 c_ispeed, u32 c_ospeed. */
export const TERMIOS2_ISPEED = KERNEL_TERMIOS_SIZE;
export const TERMIOS2_OSPEED = KERNEL_TERMIOS_SIZE + 4;
export const KERNEL_TERMIOS2_SIZE = KERNEL_TERMIOS_SIZE + 8; // 44

/** struct winsize: u16 ws_row, ws_col, ws_xpixel, ws_ypixel. */
export const WINSIZE_ROW = 0;
export const WINSIZE_COL = 2;
export const WINSIZE_XPIXEL = 4;
export const WINSIZE_YPIXEL = 6;
export const WINSIZE_SIZE = 8;

// --- ioctl numbers ----------------------------------------------------------

// Legacy numbers: no _IOC direction/size, so a FUSE file gets only the raw
// pointer for these and must move the data itself.
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
/** The SysV struct termio (include/uapi/asm-generic/termbits.h): 4 shorts, c_line, 8 c_cc, padded to 18. */
export const TCGETA = 0x5405;
export const TCSETA = 0x5406;
export const TCSETAW = 0x5407;
export const TCSETAF = 0x5408;
export const TERMIO_SIZE = 18;
export const TCSBRK = 0x5409;
export const TCXONC = 0x540a;
export const TCFLSH = 0x540b;
export const TIOCEXCL = 0x540c;
export const TIOCNXCL = 0x540d;
export const TIOCSCTTY = 0x540e;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCOUTQ = 0x5411;
export const TIOCSTI = 0x5412;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const TIOCGSOFTCAR = 0x5419;
export const TIOCSSOFTCAR = 0x541a;
export const TIOCCONS = 0x541d;
export const FIONREAD = 0x541b;
export const TIOCPKT = 0x5420;
export const FIONBIO = 0x5421;
export const TIOCNOTTY = 0x5422;
export const TIOCSETD = 0x5423;
export const TIOCGETD = 0x5424;
export const TCSBRKP = 0x5425;
export const TIOCSBRK = 0x5427;
export const TIOCCBRK = 0x5428;
export const TIOCGSID = 0x5429;
export const TIOCVHANGUP = 0x5437;
export const TIOCGLCKTRMIOS = 0x5456;
export const TIOCSLCKTRMIOS = 0x5457;

// _IOC-encoded numbers, derived the way the header writes them.
const INT_SIZE = 4;
export const TCGETS2 = ioc(IOC_READ, 'T', 0x2a, KERNEL_TERMIOS2_SIZE); // 0x802c542a
export const TCSETS2 = ioc(IOC_WRITE, 'T', 0x2b, KERNEL_TERMIOS2_SIZE); // 0x402c542b
export const TCSETSW2 = ioc(IOC_WRITE, 'T', 0x2c, KERNEL_TERMIOS2_SIZE); // 0x402c542c
export const TCSETSF2 = ioc(IOC_WRITE, 'T', 0x2d, KERNEL_TERMIOS2_SIZE); // 0x402c542d
export const TIOCGPTN = ioc(IOC_READ, 'T', 0x30, INT_SIZE); // 0x80045430
export const TIOCSPTLCK = ioc(IOC_WRITE, 'T', 0x31, INT_SIZE); // 0x40045431
/** _IOW, yet the signal number is passed BY VALUE (drivers/tty/pty.c). */
export const TIOCSIG = ioc(IOC_WRITE, 'T', 0x36, INT_SIZE); // 0x40045436
export const TIOCGDEV = ioc(IOC_READ, 'T', 0x32, INT_SIZE); // 0x80045432
export const TIOCGPKT = ioc(IOC_READ, 'T', 0x38, INT_SIZE); // 0x80045438
export const TIOCGPTLCK = ioc(IOC_READ, 'T', 0x39, INT_SIZE); // 0x80045439
export const TIOCGEXCL = ioc(IOC_READ, 'T', 0x40, INT_SIZE); // 0x80045440
/** _IO: returns a new fd for the slave, so a FUSE file can never serve it. */
export const TIOCGPTPEER = ioc(IOC_NONE, 'T', 0x41, 0); // 0x5441

// --- ioctl argument values --------------------------------------------------

/** TCFLSH queue selectors. */
export const TCIFLUSH = 0;
export const TCOFLUSH = 1;
export const TCIOFLUSH = 2;

/** TCXONC actions. */
export const TCOOFF = 0;
export const TCOON = 1;
export const TCIOFF = 2;
export const TCION = 3;

/** Packet mode (TIOCPKT) status bits, the first byte of a master read. */
export const TIOCPKT_DATA = 0;
export const TIOCPKT_FLUSHREAD = 1;
export const TIOCPKT_FLUSHWRITE = 2;
export const TIOCPKT_STOP = 4;
export const TIOCPKT_START = 8;
export const TIOCPKT_NOSTOP = 16;
export const TIOCPKT_DOSTOP = 32;
export const TIOCPKT_IOCTL = 64;

// --- termios flags (asm-generic/termbits.h, termbits-common.h) ------------

// c_iflag
export const IGNBRK = 0x001;
export const BRKINT = 0x002;
export const INLCR = 0x040;
export const IGNCR = 0x080;
export const ICRNL = 0x100;
export const IXON = 0x400;
export const IXANY = 0x800;
export const IXOFF = 0x1000;
export const IMAXBEL = 0x2000;
export const IUTF8 = 0x4000;

// c_oflag
export const OPOST = 0x01;
export const ONLCR = 0x04;

// c_cflag
export const CBAUD = 0x100f;
export const B38400 = 0x0f;
export const CSIZE = 0x30;
export const CS8 = 0x30;
export const CREAD = 0x80;
export const HUPCL = 0x400;
export const CLOCAL = 0x800;

// c_lflag
export const ISIG = 0x00001;
export const ICANON = 0x00002;
export const ECHO = 0x00008;
export const ECHOE = 0x00010;
export const ECHOK = 0x00020;
export const ECHONL = 0x00040;
export const NOFLSH = 0x00080;
export const TOSTOP = 0x00100;
export const ECHOCTL = 0x00200;
export const ECHOPRT = 0x00400;
export const ECHOKE = 0x00800;
export const IEXTEN = 0x08000;
export const EXTPROC = 0x10000;

// c_cc indices
export const VINTR = 0;
export const VQUIT = 1;
export const VERASE = 2;
export const VKILL = 3;
export const VEOF = 4;
export const VTIME = 5;
export const VMIN = 6;
export const VSWTC = 7;
export const VSTART = 8;
export const VSTOP = 9;
export const VSUSP = 10;
export const VEOL = 11;
export const VREPRINT = 12;
export const VDISCARD = 13;
export const VWERASE = 14;
export const VLNEXT = 15;
export const VEOL2 = 16;

// --- typed wrappers ---------------------------------------------------------

const SET_TERMIOS: readonly number[] = [TCSETS, TCSETSW, TCSETSF];
const SET_TERMIOS2: readonly number[] = [TCSETS2, TCSETSW2, TCSETSF2];

function requireRequest(request: number, allowed: readonly number[]): void {
  if (!allowed.includes(request)) throw new RangeError(`unexpected request 0x${request.toString(16)}`);
}

// Legacy requests carry no size for ioctlBuffer to check, and the kernel
// copies the full struct: a short Buffer would be over-read.
function requireSize(buf: Buffer, size: number): void {
  if (buf.length < size) throw new RangeError(`need ${size} bytes, got ${buf.length}`);
}

/** TCGETS: the 36-byte kernel termios. On a pty master it is the slave's. */
export function getTermios(fd: number): Buffer {
  const buf = Buffer.alloc(KERNEL_TERMIOS_SIZE);
  ioctlBuffer(fd, TCGETS, buf);
  return buf;
}

/** TCSETS (now), TCSETSW (after output drains) or TCSETSF (drain, flush input). */
export function setTermios(fd: number, request: number, buf: Buffer): void {
  requireRequest(request, SET_TERMIOS);
  requireSize(buf, KERNEL_TERMIOS_SIZE);
  ioctlBuffer(fd, request, buf);
}

/** TCGETS2: termios plus explicit input/output speeds (44 bytes). */
export function getTermios2(fd: number): Buffer {
  const buf = Buffer.alloc(KERNEL_TERMIOS2_SIZE);
  ioctlBuffer(fd, TCGETS2, buf);
  return buf;
}

/** TCSETS2, TCSETSW2 or TCSETSF2 with a 44-byte termios2. */
export function setTermios2(fd: number, request: number, buf: Buffer): void {
  requireRequest(request, SET_TERMIOS2);
  requireSize(buf, KERNEL_TERMIOS2_SIZE);
  ioctlBuffer(fd, request, buf);
}

/** TIOCGWINSZ: the 8-byte struct winsize. */
export function getWinsize(fd: number): Buffer {
  const buf = Buffer.alloc(WINSIZE_SIZE);
  ioctlBuffer(fd, TIOCGWINSZ, buf);
  return buf;
}

/** TIOCSWINSZ. The kernel sends SIGWINCH to the foreground pgrp if it changed. */
export function setWinsize(fd: number, buf: Buffer): void {
  requireSize(buf, WINSIZE_SIZE);
  ioctlBuffer(fd, TIOCSWINSZ, buf);
}

/** Window size fields, in struct winsize order. */
export interface Winsize {
  rows: number;
  cols: number;
  xpixel: number;
  ypixel: number;
}

export function encodeWinsize(ws: Winsize): Buffer {
  const buf = Buffer.alloc(WINSIZE_SIZE);
  buf.writeUInt16LE(ws.rows, WINSIZE_ROW);
  buf.writeUInt16LE(ws.cols, WINSIZE_COL);
  buf.writeUInt16LE(ws.xpixel, WINSIZE_XPIXEL);
  buf.writeUInt16LE(ws.ypixel, WINSIZE_YPIXEL);
  return buf;
}

export function decodeWinsize(buf: Buffer): Winsize {
  requireSize(buf, WINSIZE_SIZE);
  return {
    rows: buf.readUInt16LE(WINSIZE_ROW),
    cols: buf.readUInt16LE(WINSIZE_COL),
    xpixel: buf.readUInt16LE(WINSIZE_XPIXEL),
    ypixel: buf.readUInt16LE(WINSIZE_YPIXEL),
  };
}
