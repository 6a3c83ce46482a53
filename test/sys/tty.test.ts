// tty ioctls against a real host pty pair from node-pty.

import t from 'tap';
import { spawnSync } from 'child_process';
import fs from 'fs';
import { EBADF, EINVAL, ENOTTY } from '../../src/sys/errno';
import { dup, ioctlBuffer, ioctlValue, setCloexec } from '../../src/sys/libc';
import { sysError } from './util';
import {
  ECHO, FIONREAD, ICANON, ISIG, KERNEL_TERMIOS_SIZE, TCFLSH, TCGETS, TCIFLUSH, TCSETS, TCSETS2,
  TERMIOS2_ISPEED, TERMIOS2_OSPEED, TERMIOS_CC, TERMIOS_LFLAG, TIOCGPTN, VINTR,
  decodeWinsize, encodeWinsize, getTermios, getTermios2, getWinsize, setTermios, setTermios2,
  setWinsize,
} from '../../src/sys/tty';

interface PtyPair { master: number; slave: number; pty: string }
interface PtyNative { open(cols: number, rows: number): PtyPair }
// node-pty's typings do not describe `native`; this is the shape it returns.
const ptyNative = (require('node-pty') as { native: PtyNative }).native;

/** The part of a tap test openPty needs. */
interface HasTeardown { teardown(fn: () => void): void }

function openPty(t: HasTeardown): PtyPair {
  const pair = ptyNative.open(80, 24);
  t.teardown(() => {
    fs.closeSync(pair.master);
    fs.closeSync(pair.slave);
  });
  return pair;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Read what is there now from a non-blocking fd ('' if nothing). */
function readNow(fd: number): string {
  const buf = Buffer.alloc(4096);
  try {
    return buf.toString('latin1', 0, fs.readSync(fd, buf));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return '';
    throw e;
  }
}

/** Bytes queued for reading on a tty fd (FIONREAD takes int *). */
function inputQueued(fd: number): number {
  const n = Buffer.alloc(4);
  ioctlBuffer(fd, FIONREAD, n);
  return n.readInt32LE(0);
}

/** The line discipline works off a workqueue: poll until `cond` or time out. */
async function until(cond: () => boolean, ms = 2000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (cond()) return true;
  return cond();
}

function setEcho(fd: number, on: boolean): void {
  const tio = getTermios(fd);
  const lflag = tio.readUInt32LE(TERMIOS_LFLAG);
  tio.writeUInt32LE(on ? lflag | ECHO : lflag & ~ECHO, TERMIOS_LFLAG);
  setTermios(fd, TCSETS, tio);
}

t.test('winsize set on the master is seen on the slave', async (t) => {
  const { master, slave } = openPty(t);
  t.same(decodeWinsize(getWinsize(slave)), { rows: 24, cols: 80, xpixel: 0, ypixel: 0 });
  const ws = { rows: 33, cols: 101, xpixel: 640, ypixel: 480 };
  setWinsize(master, encodeWinsize(ws));
  t.same(decodeWinsize(getWinsize(slave)), ws);
  t.same(decodeWinsize(getWinsize(master)), ws);
});

t.test('termios: ECHO off via TCSETS is read back and obeyed', async (t) => {
  const { master, slave } = openPty(t);
  const before = getTermios(slave);
  t.equal(before.length, KERNEL_TERMIOS_SIZE);
  t.ok(before.readUInt32LE(TERMIOS_LFLAG) & ECHO, 'echo starts on');

  setEcho(slave, false);
  const after = getTermios(slave);
  const lflag = after.readUInt32LE(TERMIOS_LFLAG);
  t.equal(lflag & ECHO, 0, 'ECHO cleared');
  t.equal(lflag & (ICANON | ISIG), ICANON | ISIG, 'other bits kept');
  t.same(getTermios(master), after, 'TCGETS on the master returns the slave termios');

  fs.writeSync(master, 'quiet\n');
  t.ok(await until(() => inputQueued(slave) === 6), 'line reached the slave');
  t.equal(readNow(slave), 'quiet\n');
  t.equal(readNow(master), '', 'nothing echoed');

  setEcho(slave, true);
  fs.writeSync(master, 'loud\n');
  let echoed = '';
  t.ok(await until(() => (echoed += readNow(master)) === 'loud\r\n'), `echo came back: ${JSON.stringify(echoed)}`);
});

t.test('termios2 extends termios with speeds', async (t) => {
  const { slave } = openPty(t);
  const tio2 = getTermios2(slave);
  t.same(tio2.subarray(0, KERNEL_TERMIOS_SIZE), getTermios(slave));
  t.equal(tio2.readUInt32LE(TERMIOS2_ISPEED), 38400);
  t.equal(tio2.readUInt32LE(TERMIOS2_OSPEED), 38400);
  tio2[TERMIOS_CC + VINTR] = 0x02;
  setTermios2(slave, TCSETS2, tio2);
  t.equal(getTermios(slave)[TERMIOS_CC + VINTR], 0x02, 'VINTR changed through TCSETS2');
});

t.test('TIOCGPTN through ioctlBuffer names the pty', async (t) => {
  const { master, pty } = openPty(t);
  const n = Buffer.alloc(4);
  t.equal(ioctlBuffer(master, TIOCGPTN, n), 0);
  t.equal(`/dev/pts/${n.readUInt32LE(0)}`, pty);
});

t.test('ioctlValue passes the argument by value (TCFLSH)', async (t) => {
  const { master, slave } = openPty(t);
  fs.writeSync(master, 'flush me\n');
  t.ok(await until(() => inputQueued(slave) > 0), 'input queued');
  t.equal(ioctlValue(slave, TCFLSH, TCIFLUSH), 0);
  t.equal(inputQueued(slave), 0, 'input flushed');
  t.throws(() => ioctlValue(slave, TCFLSH, 99), sysError(EINVAL, 'ioctl'), 'bad queue selector');
});

t.test('errors', async (t) => {
  const { slave } = openPty(t);
  const devnull = fs.openSync('/dev/null', 'r');
  t.teardown(() => fs.closeSync(devnull));
  t.throws(() => getTermios(devnull), sysError(ENOTTY, 'ioctl'));
  t.throws(() => ioctlBuffer(-1, TCGETS, Buffer.alloc(KERNEL_TERMIOS_SIZE)), sysError(EBADF));
  t.throws(() => ioctlBuffer(slave, TIOCGPTN, Buffer.alloc(2)), RangeError, 'short buffer for a sized request');
  t.throws(() => setTermios(slave, TCGETS, getTermios(slave)), RangeError, 'not a set request');
  t.throws(() => setTermios(slave, TCSETS, Buffer.alloc(10)), RangeError, 'short termios');
  t.throws(() => setWinsize(slave, Buffer.alloc(4)), RangeError, 'short winsize');
});

t.test('dup gives a close-on-exec duplicate of the same open file', async (t) => {
  const { master, slave } = openPty(t);
  const copy = dup(master);
  t.teardown(() => fs.closeSync(copy));
  t.not(copy, master);
  // fdinfo "flags:" is octal open flags; O_CLOEXEC is 02000000 there.
  const flags = /flags:\s+([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${copy}`, 'utf8'));
  t.ok(flags && (parseInt(flags[1], 8) & 0o2000000), 'close-on-exec');
  fs.writeSync(copy, 'via dup\n');
  t.ok(await until(() => inputQueued(slave) === 8), 'written through the duplicate');
  t.throws(() => dup(-1), sysError(EBADF, 'fcntl'));
});

t.test('setCloexec keeps an fd out of spawned children', async (t) => {
  const { master } = openPty(t);
  const childSees = (fd: number): boolean =>
    spawnSync('sh', ['-c', `test -e /proc/self/fd/${fd}`]).status === 0;
  t.ok(childSees(master), 'node-pty fds start inheritable (why setCloexec exists)');
  setCloexec(master);
  t.notOk(childSees(master), 'not inherited after setCloexec');
  t.throws(() => setCloexec(-1), sysError(EBADF, 'fcntl'));
});
