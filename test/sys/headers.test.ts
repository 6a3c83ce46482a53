// Every constant and layout in src/sys checked against the C headers of
// this machine (kernel uapi <asm/ioctls.h>, <asm/termbits.h>, glibc
// <sys/mount.h>), by compiling a tiny program that prints them.

import t from 'tap';
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import * as libc from '../../src/sys/libc';
import * as tty from '../../src/sys/tty';

const TTY_NAMES = [
  'TCGETS', 'TCSETS', 'TCSETSW', 'TCSETSF', 'TCSBRK', 'TCXONC', 'TCFLSH', 'TIOCEXCL', 'TIOCNXCL',
  'TIOCSCTTY', 'TIOCGPGRP', 'TIOCSPGRP', 'TIOCOUTQ', 'TIOCSTI', 'TIOCGWINSZ', 'TIOCSWINSZ',
  'FIONREAD', 'TIOCPKT', 'FIONBIO', 'TIOCNOTTY', 'TIOCGSID', 'TIOCVHANGUP',
  'TCGETS2', 'TCSETS2', 'TCSETSW2', 'TCSETSF2', 'TIOCGPTN', 'TIOCSPTLCK', 'TIOCSIG', 'TIOCGPKT',
  'TIOCGPTLCK', 'TIOCGEXCL', 'TIOCGPTPEER',
  'TCIFLUSH', 'TCOFLUSH', 'TCIOFLUSH', 'TCOOFF', 'TCOON', 'TCIOFF', 'TCION',
  'TIOCPKT_DATA', 'TIOCPKT_FLUSHREAD', 'TIOCPKT_FLUSHWRITE', 'TIOCPKT_STOP', 'TIOCPKT_START',
  'TIOCPKT_NOSTOP', 'TIOCPKT_DOSTOP', 'TIOCPKT_IOCTL',
  'IGNBRK', 'BRKINT', 'INLCR', 'IGNCR', 'ICRNL', 'IXON', 'IXANY', 'IXOFF', 'IMAXBEL', 'IUTF8',
  'OPOST', 'ONLCR', 'CBAUD', 'B38400', 'CSIZE', 'CS8', 'CREAD', 'HUPCL', 'CLOCAL',
  'ISIG', 'ICANON', 'ECHO', 'ECHOE', 'ECHOK', 'ECHONL', 'NOFLSH', 'TOSTOP', 'ECHOCTL', 'ECHOPRT',
  'ECHOKE', 'IEXTEN', 'EXTPROC',
  'NCCS', 'VINTR', 'VQUIT', 'VERASE', 'VKILL', 'VEOF', 'VTIME', 'VMIN', 'VSWTC', 'VSTART', 'VSTOP',
  'VSUSP', 'VEOL', 'VREPRINT', 'VDISCARD', 'VWERASE', 'VLNEXT', 'VEOL2',
] as const;

const LIBC_NAMES = [
  'MS_RDONLY', 'MS_NOSUID', 'MS_NODEV', 'MS_NOEXEC', 'MS_REMOUNT', 'MS_BIND', 'MS_REC', 'MS_PRIVATE',
  'MNT_FORCE', 'MNT_DETACH', 'UMOUNT_NOFOLLOW',
] as const;

// [exported name, C expression]
const LAYOUT: ReadonlyArray<readonly [keyof typeof tty, string]> = [
  ['KERNEL_TERMIOS_SIZE', 'sizeof(struct termios)'],
  ['KERNEL_TERMIOS2_SIZE', 'sizeof(struct termios2)'],
  ['WINSIZE_SIZE', 'sizeof(struct winsize)'],
  ['TERMIOS_IFLAG', 'offsetof(struct termios, c_iflag)'],
  ['TERMIOS_OFLAG', 'offsetof(struct termios, c_oflag)'],
  ['TERMIOS_CFLAG', 'offsetof(struct termios, c_cflag)'],
  ['TERMIOS_LFLAG', 'offsetof(struct termios, c_lflag)'],
  ['TERMIOS_LINE', 'offsetof(struct termios, c_line)'],
  ['TERMIOS_CC', 'offsetof(struct termios, c_cc)'],
  ['TERMIOS2_ISPEED', 'offsetof(struct termios2, c_ispeed)'],
  ['TERMIOS2_OSPEED', 'offsetof(struct termios2, c_ospeed)'],
  ['WINSIZE_ROW', 'offsetof(struct winsize, ws_row)'],
  ['WINSIZE_COL', 'offsetof(struct winsize, ws_col)'],
  ['WINSIZE_XPIXEL', 'offsetof(struct winsize, ws_xpixel)'],
  ['WINSIZE_YPIXEL', 'offsetof(struct winsize, ws_ypixel)'],
];

// glibc's <sys/mount.h> pulls in <sys/ioctl.h>, whose struct winsize clashes
// with the kernel's <asm/termios.h>: so two programs, one per header family.
const TTY_HEADERS = ['asm/termbits.h', 'asm/ioctls.h', 'asm/termios.h'];
const MOUNT_HEADERS = ['sys/mount.h'];

function cProgram(headers: readonly string[], exprs: ReadonlyArray<readonly [string, string]>): string {
  return [
    '#include <stdio.h>',
    '#include <stddef.h>',
    ...headers.map((h) => `#include <${h}>`),
    'int main(void) {',
    ...exprs.map(([label, expr]) => `  printf("%s %lu\\n", "${label}", (unsigned long)(${expr}));`),
    '  return 0;',
    '}',
  ].join('\n');
}

/** Compile and run the program; returns label -> value. */
function headerValues(
  exe: string, headers: readonly string[], exprs: ReadonlyArray<readonly [string, string]>,
): Map<string, number> {
  const src = `${exe}.c`;
  fs.writeFileSync(src, cProgram(headers, exprs));
  execFileSync('cc', ['-o', exe, src]);
  const out = execFileSync(exe, { encoding: 'utf8' });
  return new Map(out.trim().split('\n').map((l) => {
    const [name, value] = l.split(' ');
    return [name, Number(value)] as [string, number];
  }));
}

const same = (names: readonly string[]): Array<[string, string]> => names.map((n) => [n, n]);

const haveCc = spawnSync('cc', ['--version']).status === 0;

t.test('constants and layouts match the C headers', { skip: haveCc ? false : 'no C compiler' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-headers-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = headerValues(path.join(dir, 'tty'), TTY_HEADERS, [...same(TTY_NAMES), ...LAYOUT]);
  for (const name of TTY_NAMES) t.equal(tty[name], c.get(name), name);
  for (const [name] of LAYOUT) t.equal(tty[name], c.get(name), name);
  const m = headerValues(path.join(dir, 'mount'), MOUNT_HEADERS, same(LIBC_NAMES));
  for (const name of LIBC_NAMES) t.equal(libc[name], m.get(name), name);
});
