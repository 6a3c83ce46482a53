// process_vm_readv/writev on this test's own process (and a child).

import t from 'tap';
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import koffi from 'koffi';
import { EFAULT, EPERM, ESRCH } from '../../src/sys/errno';
import { processVmRead, processVmWrite } from '../../src/sys/libc';
import { sysError } from './util';

const PAGE = 4096n;
// Above PID_MAX_LIMIT (4194304, include/linux/threads.h): no such pid exists.
const NO_SUCH_PID = 0x7fffffff;
// The top of the canonical x86_64 user address space; above it is the kernel.
const USER_TOP = 0x7fff_ffff_f000n;

interface Mapping { start: bigint; end: bigint; perms: string; name: string }

function mappings(): Mapping[] {
  return fs.readFileSync('/proc/self/maps', 'utf8').trim().split('\n').map((line) => {
    const [range, perms, , , , name = ''] = line.split(/\s+/);
    const [start, end] = range.split('-').map((h) => BigInt(`0x${h}`));
    return { start, end, perms, name };
  });
}

/**
 * A readable mapping followed by the largest unmapped gap below USER_TOP.
 * [heap] is skipped (brk can grow it into the gap) as is the first gap, below
 * everything. A large gap makes a new mapping landing there meanwhile unlikely.
 */
function readableBeforeGap(): { mapping: Mapping; gapEnd: bigint } {
  const maps = mappings().filter((m) => m.end <= USER_TOP);
  let best: { mapping: Mapping; gapEnd: bigint } | undefined;
  for (let i = 0; i + 1 < maps.length; i++) {
    const [m, next] = [maps[i], maps[i + 1]];
    if (m.perms[0] !== 'r' || m.name === '[heap]' || next.start - m.end < PAGE) continue;
    if (!best || next.start - m.end > best.gapEnd - best.mapping.end) best = { mapping: m, gapEnd: next.start };
  }
  if (!best) throw new Error('no gap in /proc/self/maps');
  return best;
}

t.test('read and write round trip on our own memory', async (t) => {
  const target = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
  const addr = koffi.address(target);
  t.same(processVmRead(process.pid, addr, 64), target, 'read back what is there');
  t.same(processVmRead(process.pid, addr + 10n, 3), Buffer.from([10, 11, 12]), 'offset read');

  processVmWrite(process.pid, addr + 8n, Buffer.from('ptsfs'));
  t.equal(target.toString('latin1', 8, 13), 'ptsfs', 'written into the buffer');
  t.equal(target[7], 7, 'byte before untouched');
  t.equal(target[13], 13, 'byte after untouched');
  t.same(processVmRead(process.pid, addr, 0), Buffer.alloc(0), 'zero length');
});

t.test('a read result does not alias the next read', async (t) => {
  const a = Buffer.from('first-');
  const b = Buffer.from('second');
  const ra = processVmRead(process.pid, koffi.address(a), a.length);
  const rb = processVmRead(process.pid, koffi.address(b), b.length);
  t.equal(ra.toString(), 'first-');
  t.equal(rb.toString(), 'second');
});

t.test('reads larger than the scratch area', async (t) => {
  const big = Buffer.allocUnsafeSlow(200_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  t.ok(processVmRead(process.pid, koffi.address(big), big.length).equals(big));
});

t.test('address 0 is EFAULT', async (t) => {
  t.throws(() => processVmRead(process.pid, 0n, 4), sysError(EFAULT, 'process_vm_readv'));
  t.throws(() => processVmWrite(process.pid, 0n, Buffer.from('x')), sysError(EFAULT, 'process_vm_writev'));
});

t.test('unmapped and kernel addresses are EFAULT', async (t) => {
  const { mapping, gapEnd } = readableBeforeGap();
  const hole = (mapping.end + (gapEnd - mapping.end) / 2n) & ~(PAGE - 1n);
  t.throws(() => processVmRead(process.pid, hole, 8), sysError(EFAULT), `read 0x${hole.toString(16)}`);
  t.throws(() => processVmWrite(process.pid, hole, Buffer.from('x')), sysError(EFAULT), 'write');
  t.throws(() => processVmRead(process.pid, 0xffff_8000_0000_0000n, 8), sysError(EFAULT), 'kernel half');
});

t.test('a read running off the end of a mapping is EFAULT, not short', async (t) => {
  const { mapping } = readableBeforeGap();
  const last = mapping.end - 8n;
  t.equal(processVmRead(process.pid, last, 8).length, 8, 'the last 8 bytes are readable');
  // The kernel returns 8 (bytes moved before the hole), not an error.
  t.throws(() => processVmRead(process.pid, last, 16), sysError(EFAULT, 'process_vm_readv'));
});

t.test('no such process is ESRCH', async (t) => {
  const buf = Buffer.alloc(4);
  t.throws(() => processVmRead(NO_SUCH_PID, koffi.address(buf), 4), sysError(ESRCH, 'process_vm_readv'));
  t.throws(() => processVmWrite(NO_SUCH_PID, koffi.address(buf), buf), sysError(ESRCH, 'process_vm_writev'));
});

t.test('bad arguments are refused before the syscall', async (t) => {
  t.throws(() => processVmRead(2 ** 31, 0x1000n, 4), RangeError, 'pid beyond pid_t');
  t.throws(() => processVmRead(process.pid, 0x1000n, -1), RangeError, 'negative length');
  t.throws(() => processVmRead(process.pid, -1n, 4), RangeError, 'negative address');
  t.throws(() => processVmRead(process.pid, 1n << 64n, 4), RangeError, 'address beyond 64 bits');
});

// ptrace access checks: an unprivileged process may not read another
// user's process (PTRACE_MODE_ATTACH_REALCREDS in mm/process_vm_access.c).
t.test('another user\'s process is EPERM', { skip: process.getuid?.() === 0 ? false : 'needs root' }, async (t) => {
  const libcPath = path.resolve(__dirname, '../../src/sys/libc.js');
  // Through env -u: tap's processinfo plugin adds NODE_OPTIONS hooks to
  // children, which would fail to write their report once we are uid 65534.
  const child = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', `
    const { processVmRead } = require(${JSON.stringify(libcPath)});
    process.setgid(65534); process.setuid(65534);
    try { processVmRead(${process.pid}, 0x1000n, 4); console.log('no error'); }
    catch (e) { console.log(e.errno, e.message); }
  `], { encoding: 'utf8' });
  t.equal(child.stderr, '', 'child ran cleanly');
  t.equal(child.stdout.trim(), `${EPERM} process_vm_readv: EPERM (Operation not permitted)`);
});
