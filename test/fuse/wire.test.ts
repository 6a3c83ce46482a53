// The session's wire behaviour without a mount: a Session runs on one end
// of an AF_UNIX SOCK_SEQPACKET socketpair (one message per read, like
// /dev/fuse), the test plays the kernel on the other end with requests and
// expected replies laid out by hand from include/uapi/linux/fuse.h.
import * as fs from 'fs';
import koffi from 'koffi';
import t from 'tap';
import { FOPEN_DIRECT_IO, Opcode, Session, type CuseDevice, type Handlers } from '../../src/fuse';
import { EINTR, EIO, ENOENT, ENOSYS, EPROTO } from '../../src/sys/errno';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const socketpair = koffi.load('libc.so.6').func('int socketpair(int, int, int, _Out_ int *sv)') as
  (domain: number, type: number, protocol: number, sv: Int32Array) => number;

const TWO32 = 0x1_0000_0000;
function u64(buf: Buffer, v: number, off: number): void {
  buf.writeUInt32LE(v % TWO32, off);
  buf.writeUInt32LE(Math.floor(v / TWO32), off + 4);
}
function r64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
}

/** fuse_in_header (40 bytes, offsets as in fuse.h) + body. */
function request(opcode: number, unique: number, nodeid: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(40 + body.length);
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt32LE(opcode, 4);
  u64(buf, unique, 8);
  u64(buf, nodeid, 16);
  buf.writeUInt32LE(0, 24); // uid
  buf.writeUInt32LE(0, 28); // gid
  buf.writeUInt32LE(1234, 32); // pid
  body.copy(buf, 40);
  return buf;
}

interface Reply {
  len: number;
  error: number;
  unique: number;
  body: Buffer;
  raw: Buffer;
}

/** A fake kernel end: writes requests, reads replies (one message each). */
class Kernel {
  constructor(readonly fd: number) {}

  send(msg: Buffer): void {
    fs.writeSync(this.fd, msg);
  }

  /** Next message from the session, or undefined if none arrives within ms. */
  async next(ms = 2000): Promise<Reply | undefined> {
    const buf = Buffer.alloc(256 * 1024);
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        const n = fs.readSync(this.fd, buf, 0, buf.length, null);
        const raw = Buffer.from(buf.subarray(0, n));
        // fuse_out_header { u32 len @0; i32 error @4; u64 unique @8 }
        return { len: raw.readUInt32LE(0), error: raw.readInt32LE(4), unique: r64(raw, 8), body: raw.subarray(16), raw };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async expect(t: tap.Test, what: string): Promise<Reply> {
    const r = await this.next();
    if (!r) throw new Error(`no message from the session: ${what}`);
    t.equal(r.len, r.raw.length, `${what}: out_header.len = bytes written in one write`);
    return r;
  }
}

function pair(t: tap.Test, handlers: Handlers, cuse?: CuseDevice): { session: Session; kernel: Kernel } {
  const sv = new Int32Array(2);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) !== 0) throw new Error('socketpair failed');
  const session = new Session(sv[0]!, handlers, cuse);
  const kernel = new Kernel(sv[1]!);
  t.teardown(async () => {
    session.close();
    await session.closed;
    fs.closeSync(kernel.fd);
  });
  return { session, kernel };
}

/** fuse_init_in: { major @0, minor @4, max_readahead @8, flags @12, flags2 @16, unused[11] @20 } */
function initBody(minor: number, flags: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(7, 0);
  b.writeUInt32LE(minor, 4);
  b.writeUInt32LE(128 * 1024, 8);
  b.writeUInt32LE(flags, 12);
  return b;
}

async function init(t: tap.Test, kernel: Kernel): Promise<void> {
  kernel.send(request(Opcode.INIT, 1, 0, initBody(45, 0x7fffffff)));
  const r = await kernel.expect(t, 'INIT reply');
  t.equal(r.error, 0);
}

t.test('INIT is answered with fuse_init_out 7.38', async (t) => {
  const { session, kernel } = pair(t, {});
  // Offer everything: the reply keeps only what the session wants.
  kernel.send(request(Opcode.INIT, 0x1_0000_0001, 0, initBody(45, 0x7fffffff)));
  const r = await kernel.expect(t, 'INIT');
  t.equal(r.len, 16 + 64, 'header + fuse_init_out');
  t.equal(r.error, 0);
  t.equal(r.unique, 0x1_0000_0001, 'unique echoed, all 64 bits');
  const b = r.body;
  // fuse_init_out { major @0; minor @4; max_readahead @8; flags @12; u16 max_background @16;
  //   u16 congestion_threshold @18; max_write @20; time_gran @24; u16 max_pages @28;
  //   u16 map_alignment @30; flags2 @32; unused[7] @36 }
  t.equal(b.readUInt32LE(0), 7, 'major');
  t.equal(b.readUInt32LE(4), 38, 'minor 38');
  t.equal(b.readUInt32LE(8), 128 * 1024, 'max_readahead as offered');
  const flags = b.readUInt32LE(12);
  for (const [bit, name] of [[0, 'ASYNC_READ'], [3, 'ATOMIC_O_TRUNC'], [5, 'BIG_WRITES'], [18, 'PARALLEL_DIROPS'], [22, 'MAX_PAGES']] as const) {
    t.ok(flags & (1 << bit), `flags has ${name}`);
  }
  t.notOk(flags & (1 << 30), 'no INIT_EXT: no flags2/extensions asked for');
  const maxWrite = b.readUInt32LE(20);
  t.ok(maxWrite >= 4096, `max_write ${maxWrite}`);
  t.equal(b.readUInt16LE(28), Math.ceil(maxWrite / 4096), 'max_pages covers max_write');
  t.ok(b.readUInt16LE(16) > 0, 'max_background');
  t.same(b.subarray(36, 64), Buffer.alloc(28), 'unused[7] zero');
  const info = await session.ready;
  t.same(info, { major: 7, minor: 38, flags });
});

t.test('INIT from a kernel older than 7.31 is refused with EPROTO', async (t) => {
  const { session, kernel } = pair(t, {});
  kernel.send(request(Opcode.INIT, 1, 0, initBody(26, 0)));
  const r = await kernel.expect(t, 'INIT');
  t.equal(r.len, 16);
  t.equal(r.error, -EPROTO, 'EPROTO');
  await t.rejects(session.ready);
});

/** cuse_init_in: { major @0, minor @4, unused @8, flags @12 } */
function cuseInitBody(minor: number, flags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(7, 0);
  b.writeUInt32LE(minor, 4);
  b.writeUInt32LE(flags, 12);
  return b;
}

t.test('CUSE_INIT is answered with cuse_init_out and DEVNAME; INIT on it, and CUSE_INIT on FUSE, get EPROTO', async (t) => {
  const dev = { name: 'ptsfs!1.2!ptmx', major: 120, minor: 7 };
  const { session, kernel } = pair(t, {}, dev);
  // CUSE_INIT is 4096; the kernel offers CUSE_UNRESTRICTED_IOCTL (bit 0) and nothing else.
  kernel.send(request(4096, 3, 0, cuseInitBody(45, 0xffffffff)));
  const r = await kernel.expect(t, 'CUSE_INIT');
  t.equal(r.error, 0);
  const info = Buffer.from('DEVNAME=ptsfs!1.2!ptmx\0');
  t.equal(r.len, 16 + 72 + info.length, 'header + cuse_init_out (72 bytes) + the info string');
  const b = r.body;
  // cuse_init_out { major @0; minor @4; unused @8; flags @12; max_read @16; max_write @20;
  //   dev_major @24; dev_minor @28; spare[10] @32 }
  t.equal(b.readUInt32LE(0), 7, 'major');
  t.equal(b.readUInt32LE(4), 38, 'minor 38');
  t.equal(b.readUInt32LE(12), 1, 'flags: only CUSE_UNRESTRICTED_IOCTL kept');
  t.ok(b.readUInt32LE(16) >= 4096 && b.readUInt32LE(20) >= 4096, 'max_read, max_write');
  t.equal(b.readUInt32LE(24), 120, 'dev_major');
  t.equal(b.readUInt32LE(28), 7, 'dev_minor');
  t.same(b.subarray(32, 72), Buffer.alloc(40), 'spare[10] zero');
  t.same(b.subarray(72), info, 'DEVNAME=..., NUL-terminated, right after');
  t.same(await session.ready, { major: 7, minor: 38, flags: 1 });

  const other = pair(t, {}, dev);
  other.kernel.send(request(Opcode.INIT, 1, 0, initBody(45, 0)));
  t.equal((await other.kernel.expect(t, 'INIT on /dev/cuse')).error, -EPROTO, 'INIT on a CUSE session: EPROTO');
  await t.rejects(other.session.ready);
  const fuse = pair(t, {});
  fuse.kernel.send(request(4096, 1, 0, cuseInitBody(45, 1)));
  t.equal((await fuse.kernel.expect(t, 'CUSE_INIT on /dev/fuse')).error, -EPROTO, 'CUSE_INIT on a FUSE session: EPROTO');
  await t.rejects(fuse.session.ready);
});

t.test('unknown and unhandled opcodes get ENOSYS; FORGET gets nothing', async (t) => {
  const { kernel } = pair(t, {});
  await init(t, kernel);
  kernel.send(request(4000, 7, 1, Buffer.from('junk')));
  let r = await kernel.expect(t, 'unknown opcode');
  t.same({ len: r.len, error: r.error, unique: r.unique }, { len: 16, error: -ENOSYS, unique: 7 });
  // MKDIR is in the table, but these handlers have no mkdir.
  const mk = Buffer.concat([Buffer.alloc(8), Buffer.from('d\0')]);
  kernel.send(request(Opcode.MKDIR, 8, 1, mk));
  r = await kernel.expect(t, 'MKDIR');
  t.same({ len: r.len, error: r.error, unique: r.unique }, { len: 16, error: -ENOSYS, unique: 8 });
  // FORGET (fuse_forget_in { u64 nlookup }) has no reply, handled or not.
  const f = Buffer.alloc(8);
  u64(f, 1, 0);
  kernel.send(request(Opcode.FORGET, 9, 5, f));
  t.equal(await kernel.next(100), undefined, 'no reply to FORGET');
});

t.test('struct replies, data replies, errors, a throwing handler', async (t) => {
  const { kernel } = pair(t, {
    lookup(req) {
      if (req.name !== 'x') return req.error(ENOENT);
      req.reply({
        nodeid: 5, generation: 1, entry_valid: 10, attr_valid: 20, entry_valid_nsec: 0, attr_valid_nsec: 0,
        attr: { ino: 5, size: 3, blocks: 0, atime: 0, mtime: 0, ctime: 0, atimensec: 0, mtimensec: 0, ctimensec: 0, mode: 0o100600, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0 },
      });
    },
    open(req) { req.reply({ fh: 0x1_0000_0003, open_flags: FOPEN_DIRECT_IO }); },
    read(req) { req.replyData(Buffer.from('ab'), Buffer.from('cd')); },
    getattr() { throw new Error('handler bug (expected by the test)'); },
    ioctl(req) { req.reply({ result: 3, flags: 0, in_iovs: 0, out_iovs: 0 }, Buffer.from([9, 8, 7, 6])); },
  });
  await init(t, kernel);
  kernel.send(request(Opcode.LOOKUP, 20, 1, Buffer.from('x\0')));
  let r = await kernel.expect(t, 'LOOKUP');
  t.equal(r.len, 16 + 128, 'fuse_entry_out is 128 bytes');
  t.equal(r.unique, 20);
  t.equal(r64(r.body, 0), 5, 'nodeid @0');
  t.equal(r64(r.body, 16), 10, 'entry_valid @16');
  t.equal(r64(r.body, 24), 20, 'attr_valid @24');
  t.equal(r.body.readUInt32LE(40 + 60), 0o100600, 'attr.mode @40+60');

  kernel.send(request(Opcode.LOOKUP, 21, 1, Buffer.from('y\0')));
  r = await kernel.expect(t, 'negative LOOKUP');
  t.same({ len: r.len, error: r.error }, { len: 16, error: -ENOENT });

  kernel.send(request(Opcode.OPEN, 22, 5, Buffer.alloc(8)));
  r = await kernel.expect(t, 'OPEN');
  t.equal(r.len, 16 + 16);
  t.equal(r64(r.body, 0), 0x1_0000_0003, 'fh @0');
  t.equal(r.body.readUInt32LE(8), FOPEN_DIRECT_IO, 'open_flags @8');
  t.equal(r.body.readUInt32LE(12), 0, 'padding');

  kernel.send(request(Opcode.READ, 23, 5, Buffer.alloc(40)));
  r = await kernel.expect(t, 'READ');
  t.equal(r.len, 16 + 4);
  t.equal(r.body.toString(), 'abcd', 'several buffers, one message');

  kernel.send(request(Opcode.IOCTL, 24, 5, Buffer.alloc(32)));
  r = await kernel.expect(t, 'IOCTL');
  t.equal(r.len, 16 + 16 + 4, 'ioctl_out + output bytes');
  t.equal(r.body.readInt32LE(0), 3, 'result');
  t.same([...r.body.subarray(16)], [9, 8, 7, 6], 'output after ioctl_out');

  const errors: unknown[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a);
  try {
    kernel.send(request(Opcode.GETATTR, 25, 5, Buffer.alloc(16)));
    r = await kernel.expect(t, 'GETATTR with a throwing handler');
  } finally {
    console.error = orig;
  }
  t.same({ len: r.len, error: r.error, unique: r.unique }, { len: 16, error: -EIO, unique: 25 });
  t.equal(errors.length, 1, 'the failure is logged');
});

t.test('a malformed request fails with EIO and the session goes on', async (t) => {
  const { kernel } = pair(t, { lookup(req) { req.error(ENOENT); } });
  await init(t, kernel);
  const orig = console.error;
  console.error = () => undefined;
  let r: Reply;
  try {
    kernel.send(request(Opcode.LOOKUP, 30, 1, Buffer.from('no-nul')));
    r = await kernel.expect(t, 'bad LOOKUP');
  } finally {
    console.error = orig;
  }
  t.same({ len: r.len, error: r.error, unique: r.unique }, { len: 16, error: -EIO, unique: 30 });
  kernel.send(request(Opcode.LOOKUP, 31, 1, Buffer.from('ok\0')));
  r = await kernel.expect(t, 'next LOOKUP');
  t.same({ error: r.error, unique: r.unique }, { error: -ENOENT, unique: 31 });
});

t.test('deferred replies and FUSE_INTERRUPT', async (t) => {
  const held = new Map<number, { replyData(...b: Buffer[]): void }>();
  let hooked = 0;
  const { session, kernel } = pair(t, {
    read(req) {
      held.set(req.unique, req);
      if (req.nodeid === 6) req.onInterrupt(() => { hooked++; req.replyData(Buffer.from('late')); });
    },
  });
  await init(t, kernel);
  kernel.send(request(Opcode.READ, 40, 5, Buffer.alloc(40)));
  kernel.send(request(Opcode.READ, 41, 5, Buffer.alloc(40)));
  kernel.send(request(Opcode.READ, 42, 6, Buffer.alloc(40)));
  t.equal(await kernel.next(100), undefined, 'held READs are not answered');
  t.equal(session.pending.size, 3, 'three requests pending');

  // fuse_interrupt_in { u64 unique } in a request of its own (unique 43, pid 0).
  const intr = Buffer.alloc(8);
  u64(intr, 41, 0);
  kernel.send(request(Opcode.INTERRUPT, 43, 0, intr));
  let r = await kernel.expect(t, 'interrupted READ');
  t.same({ len: r.len, error: r.error, unique: r.unique }, { len: 16, error: -EINTR, unique: 41 }, 'EINTR to the target, nothing to the INTERRUPT');
  t.equal(await kernel.next(50), undefined, 'no second message');

  // A hook may answer otherwise (here: with data).
  u64(intr, 42, 0);
  kernel.send(request(Opcode.INTERRUPT, 44, 0, intr));
  r = await kernel.expect(t, 'hooked READ');
  t.same({ error: r.error, unique: r.unique, body: r.body.toString() }, { error: 0, unique: 42, body: 'late' });
  t.equal(hooked, 1);

  // An INTERRUPT for something already answered or unknown is ignored.
  u64(intr, 41, 0);
  kernel.send(request(Opcode.INTERRUPT, 45, 0, intr));
  u64(intr, 999, 0);
  kernel.send(request(Opcode.INTERRUPT, 46, 0, intr));
  t.equal(await kernel.next(50), undefined, 'nothing sent for stale INTERRUPTs');

  held.get(40)!.replyData(Buffer.from('x'));
  held.get(41)!.replyData(Buffer.from('too late'));
  r = await kernel.expect(t, 'deferred READ');
  t.same({ error: r.error, unique: r.unique, body: r.body.toString() }, { error: 0, unique: 40, body: 'x' });
  t.equal(await kernel.next(50), undefined, 'a second answer to an interrupted request is dropped');
  t.equal(session.pending.size, 0, 'nothing left pending');
});

t.test('notifications', async (t) => {
  const { session, kernel } = pair(t, {});
  await init(t, kernel);
  // FUSE_NOTIFY_POLL: out header { len 24, error = 1, unique 0 } + fuse_notify_poll_wakeup_out { u64 kh }
  session.notifyPoll(0x1_2345_6789);
  let r = await kernel.expect(t, 'poll notification');
  const poll = Buffer.alloc(24);
  poll.writeUInt32LE(24, 0);
  poll.writeInt32LE(1, 4);
  u64(poll, 0, 8);
  u64(poll, 0x1_2345_6789, 16);
  t.same(r.raw, poll);

  // FUSE_NOTIFY_INVAL_ENTRY (3): fuse_notify_inval_entry_out { u64 parent; u32 namelen; u32 flags } + name + NUL
  await session.notifyInvalEntry(1, 'gone');
  r = await kernel.expect(t, 'inval entry');
  const ent = Buffer.alloc(16 + 16 + 5);
  ent.writeUInt32LE(37, 0);
  ent.writeInt32LE(3, 4);
  u64(ent, 1, 16);
  ent.writeUInt32LE(4, 24); // namelen without the NUL
  ent.writeUInt32LE(0, 28);
  ent.write('gone\0', 32);
  t.same(r.raw, ent);

  // FUSE_NOTIFY_INVAL_INODE (2): fuse_notify_inval_inode_out { u64 ino; i64 off; i64 len }
  await session.notifyInvalInode(7, 0, -1);
  r = await kernel.expect(t, 'inval inode');
  const ino = Buffer.alloc(16 + 24);
  ino.writeUInt32LE(40, 0);
  ino.writeInt32LE(2, 4);
  u64(ino, 7, 16);
  ino.writeBigInt64LE(0n, 24);
  ino.writeBigInt64LE(-1n, 32);
  t.same(r.raw, ino);
});

t.test('the peer closing ends the session', async (t) => {
  const sv = new Int32Array(2);
  t.equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  let late: unknown = 'not run';
  const session = new Session(sv[0]!, {
    read(req) {
      setTimeout(() => {
        try {
          req.replyData(Buffer.from('x'));
          late = req.done;
        } catch (err) {
          late = err;
        }
      }, 50);
    },
  });
  const kernel = new Kernel(sv[1]!);
  await init(t, kernel);
  kernel.send(request(Opcode.READ, 50, 5, Buffer.alloc(40)));
  await new Promise((r) => setTimeout(r, 10));
  t.equal(session.pending.size, 1, 'READ held');
  fs.closeSync(sv[1]!);
  const err = await Promise.race([session.closed, new Promise((r) => setTimeout(() => r('timeout'), 2000))]);
  t.equal(err, undefined, 'closed resolves without an error');
  t.notOk(session.isOpen);
  t.equal(session.pending.size, 0, 'held requests dropped');
  await new Promise((r) => setTimeout(r, 80));
  t.equal(late, true, 'a late reply after the end is a no-op, not a throw');
});
