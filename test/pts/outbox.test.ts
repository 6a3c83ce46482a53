// The outbox and the input queue through their ports, without a mount: a
// backing host pty and plain objects standing for FUSE requests.
import * as fs from 'fs';
import t from 'tap';
import { EAGAIN } from '../../src/sys/errno';
import { ioctlValue, tryRead } from '../../src/sys/libc';
import { Outbox, type KeyFilter } from '../../src/pts/outbox';
import { InputQueue } from '../../src/pts/queue';
import type { ReadPort, WritePort } from '../../src/pts/port';
import { openBackingPty } from '../../src/pts/terminal';
import { setTermios, getTermios, TERMIOS_LFLAG, TCSETS, ICANON, ECHO, ISIG, TCOOFF, TCOON, TCXONC } from '../../src/sys/tty';

function rawPty(t: { teardown(fn: () => void): void }): { master: number; slave: number } {
  const p = openBackingPty();
  const tio = getTermios(p.slave);
  tio.writeUInt32LE(tio.readUInt32LE(TERMIOS_LFLAG) & ~(ICANON | ECHO | ISIG), TERMIOS_LFLAG);
  setTermios(p.slave, TCSETS, tio);
  t.teardown(() => {
    fs.closeSync(p.master);
    fs.closeSync(p.slave);
  });
  return p;
}

class Write implements WritePort {
  result: number | string | undefined;
  cancel: (() => void) | undefined;
  constructor(readonly data: Buffer) {}
  done(n: number): void { this.result = n; }
  fail(errno: number): void { this.result = `errno ${errno}`; }
  onCancel(hook: () => void): void { this.cancel = hook; }
}

class Read implements ReadPort {
  got: Buffer[] | 'eof' | number | undefined;
  constructor(readonly size: number) {}
  give(...chunks: Buffer[]): void { this.got = chunks.map((c) => Buffer.from(c)); }
  eof(): void { this.got = 'eof'; }
  fail(errno: number): void { this.got = errno; }
  onCancel(): void {}
}

function readAll(fd: number): string {
  const b = Buffer.alloc(65536);
  let s = '';
  for (let n = tryRead(fd, b); n > 0; n = tryRead(fd, b)) s += b.toString('latin1', 0, n);
  return s;
}

t.test('keys go into the pty with the bytes around them and are acted on once written, once per kind, in order', async (t) => {
  const p = rawPty(t);
  const taken: string[] = [];
  const keys: KeyFilter = {
    find: (d, from) => { const i = d.subarray(from).findIndex((b) => b === 0x03 || b === 0x1a); return i < 0 ? -1 : from + i; },
    passed: (d, from, to) => taken.push(`pass ${d.toString('latin1', from, to)}`),
    take: (ks) => taken.push(`keys ${ks.join(',')}`),
  };
  const out = new Outbox(p.master, keys);
  const w = new Write(Buffer.from('ab\x03cd\x03\x03\x1a'));
  out.write(w, false);
  t.equal(w.result, 8, 'the whole count, keys included');
  t.same(taken, ['pass ab\x03', 'pass cd\x03', 'pass \x03', 'pass \x1a', 'keys 3,26'], 'one write; each key kind acted on once, in order');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(readAll(p.slave), 'ab\x03cd\x03\x03\x1a', 'the keys reach the backing n_tty too');
});

t.test('a full pty: nonblocking writes get EAGAIN, a blocked one is finished by retry() in order', async (t) => {
  const p = rawPty(t);
  const out = new Outbox(p.master);
  const big = Buffer.alloc(256 * 1024, 0x61);
  const first = new Write(big);
  out.write(first, false);
  t.equal(first.result, undefined, 'waits: the pty took only part');
  t.equal(out.writable, false);
  const nb = new Write(Buffer.from('x'));
  out.write(nb, true);
  t.equal(nb.result, `errno ${EAGAIN}`, 'a nonblocking write does not overtake');
  let read = 0;
  const b = Buffer.alloc(65536);
  for (let i = 0; i < 10000 && first.result === undefined; i++) {
    const n = tryRead(p.slave, b);
    if (n > 0) read += n;
    else await new Promise((r) => setTimeout(r, 1));
    out.retry();
  }
  t.equal(first.result, big.length, 'answered with the full count once all went in');
  t.equal(out.writable, true);
  await new Promise((r) => setTimeout(r, 50));
  read += readAll(p.slave).length;
  t.equal(read, big.length, 'every byte arrived');
});

t.test('a key the full pty cannot take yet is acted on only once it went in', async (t) => {
  const p = rawPty(t);
  const taken: number[] = [];
  const keys: KeyFilter = { find: (d, from) => d.indexOf(0x03, from), passed: () => undefined, take: (ks) => taken.push(...ks) };
  const out = new Outbox(p.master, keys);
  const w = new Write(Buffer.concat([Buffer.alloc(256 * 1024, 0x61), Buffer.from([0x03])]));
  out.write(w, false);
  t.equal(w.result, undefined, 'waits: the pty is full');
  t.same(taken, [], 'the key behind the full pty is not acted on');
  const b = Buffer.alloc(65536);
  for (let i = 0; i < 10000 && w.result === undefined; i++) {
    if (tryRead(p.slave, b) <= 0) await new Promise((r) => setTimeout(r, 1));
    out.retry();
  }
  t.equal(w.result, w.data.length);
  t.same(taken, [0x03], 'acted on once written');
});

t.test('a writer held by stopped output (TCOOFF) goes on once output starts, with no retry() of ours', async (t) => {
  const p = rawPty(t);
  const out = new Outbox(p.slave);
  ioctlValue(p.slave, TCXONC, TCOOFF);
  out.mayBeStopped();
  const w = new Write(Buffer.from('held'));
  out.write(w, false);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(readAll(p.master), '', 'nothing comes out while stopped');
  ioctlValue(p.slave, TCXONC, TCOON);
  for (let i = 0; i < 200 && w.result === undefined; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(w.result, 4, 'answered once output started');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(readAll(p.master), 'held', 'every byte, in order');
  out.fail(0);
});

t.test('an interrupted blocked write answers what was written', async (t) => {
  const p = rawPty(t);
  const out = new Outbox(p.master);
  const w = new Write(Buffer.alloc(256 * 1024, 0x62));
  out.write(w, false);
  t.ok(w.cancel, 'a cancel hook is set');
  w.cancel!();
  t.type(w.result, 'number');
  t.ok((w.result as number) > 0 && (w.result as number) < 256 * 1024, `partial count ${w.result}`);
  t.equal(out.writable, true);
});

t.test('the input queue hands bytes to a waiting reader, queues them otherwise, and flushes', async (t) => {
  const p = rawPty(t);
  let inputs = 0;
  const q = new InputQueue(p.slave, () => inputs++, () => true);
  t.teardown(() => q.close('eof'));
  const r = new Read(100);
  q.read(r, false, 'wait');
  t.equal(r.got, undefined, 'nothing yet: it waits');
  fs.writeSync(p.master, 'hello');
  for (let i = 0; i < 200 && r.got === undefined; i++) await new Promise((res) => setTimeout(res, 5));
  t.same(Buffer.concat(r.got as Buffer[]).toString(), 'hello');
  fs.writeSync(p.master, 'queued');
  for (let i = 0; i < 200 && !q.readable; i++) await new Promise((res) => setTimeout(res, 5));
  t.ok(q.readable && inputs > 0, 'queued, and the owner was told');
  q.flush();
  t.equal(q.readable, false, 'flush empties it');
  const nb = new Read(10);
  q.read(nb, true, 'wait');
  t.equal(nb.got, EAGAIN);
  const closed = new Read(10);
  q.close(5);
  q.read(closed, false, 'eof');
  t.equal(closed.got, 'eof', 'after close an empty queue says what it is told');
});
