// Codec tests without a mount. Every expected byte layout below is written
// by hand from include/uapi/linux/fuse.h (protocol 7.38, as in
// /usr/include/linux/fuse.h here): field offsets are spelled out, never
// derived from our own struct declarations.
import t from 'tap';
import { decodeRequest, encodeDirent, encodeOutHeader, Opcode, ProtocolError, structs as s } from '../../src/fuse';
import { pad, struct } from '../../src/fuse/struct';

const IN_HEADER = 40; // sizeof(struct fuse_in_header)
const TWO32 = 0x1_0000_0000;

/** Writes a little-endian u64 from a safe integer, by hand. */
function u64(buf: Buffer, v: number, off: number): void {
  buf.writeUInt32LE(v % TWO32, off);
  buf.writeUInt32LE(Math.floor(v / TWO32), off + 4);
}

interface Hdr {
  opcode: number;
  unique?: number;
  nodeid?: number;
  uid?: number;
  gid?: number;
  pid?: number;
  extlen?: number;
}

/**
 * struct fuse_in_header { u32 len @0; u32 opcode @4; u64 unique @8;
 * u64 nodeid @16; u32 uid @24; u32 gid @28; u32 pid @32;
 * u16 total_extlen @36; u16 padding @38; }  followed by `body`.
 */
function request(h: Hdr, body: Buffer = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(IN_HEADER + body.length);
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt32LE(h.opcode, 4);
  u64(buf, h.unique ?? 2, 8);
  u64(buf, h.nodeid ?? 1, 16);
  buf.writeUInt32LE(h.uid ?? 1000, 24);
  buf.writeUInt32LE(h.gid ?? 100, 28);
  buf.writeUInt32LE(h.pid ?? 4242, 32);
  buf.writeUInt16LE(h.extlen ?? 0, 36);
  buf.writeUInt16LE(0, 38);
  body.copy(buf, IN_HEADER);
  return buf;
}

/** Decodes a request built by hand, the way the session sees it: a larger read buffer. */
function decode(req: Buffer) {
  const readBuf = Buffer.alloc(req.length + 64, 0xee);
  req.copy(readBuf);
  return decodeRequest(readBuf, req.length);
}

/**
 * Asserts that fn throws a ProtocolError. (tap's t.throws(fn, Class) also
 * compares err.name, which ProtocolError leaves at "Error".)
 */
function throwsProtocolError(t: tap.Test, fn: () => unknown, msg: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ProtocolError, `${msg}: ProtocolError (got ${caught === undefined ? 'no error' : String(caught)})`);
}

/** A buffer of n bytes pre-filled with garbage, so that unwritten padding shows. */
function dirty(n: number): Buffer {
  return Buffer.alloc(n, 0xa5);
}

const ATTR = {
  ino: 0x1_2345_6789, size: 5 * TWO32 + 17, blocks: 9, atime: 1_700_000_001, mtime: 1_700_000_002, ctime: 1_700_000_003,
  atimensec: 11, mtimensec: 12, ctimensec: 13, mode: 0o100644, nlink: 3, uid: 1001, gid: 1002, rdev: 0x0501,
  blksize: 4096, flags: 0x20,
};

/** struct fuse_attr, 88 bytes, at `base` of buf. */
function checkAttr(t: tap.Test, buf: Buffer, base: number): void {
  t.equal(buf.readUInt32LE(base + 0) + buf.readUInt32LE(base + 4) * TWO32, ATTR.ino, 'attr.ino @0');
  t.equal(buf.readUInt32LE(base + 8) + buf.readUInt32LE(base + 12) * TWO32, ATTR.size, 'attr.size @8');
  t.equal(buf.readBigUInt64LE(base + 16), BigInt(ATTR.blocks), 'attr.blocks @16');
  t.equal(buf.readBigUInt64LE(base + 24), BigInt(ATTR.atime), 'attr.atime @24');
  t.equal(buf.readBigUInt64LE(base + 32), BigInt(ATTR.mtime), 'attr.mtime @32');
  t.equal(buf.readBigUInt64LE(base + 40), BigInt(ATTR.ctime), 'attr.ctime @40');
  t.equal(buf.readUInt32LE(base + 48), ATTR.atimensec, 'attr.atimensec @48');
  t.equal(buf.readUInt32LE(base + 52), ATTR.mtimensec, 'attr.mtimensec @52');
  t.equal(buf.readUInt32LE(base + 56), ATTR.ctimensec, 'attr.ctimensec @56');
  t.equal(buf.readUInt32LE(base + 60), ATTR.mode, 'attr.mode @60');
  t.equal(buf.readUInt32LE(base + 64), ATTR.nlink, 'attr.nlink @64');
  t.equal(buf.readUInt32LE(base + 68), ATTR.uid, 'attr.uid @68');
  t.equal(buf.readUInt32LE(base + 72), ATTR.gid, 'attr.gid @72');
  t.equal(buf.readUInt32LE(base + 76), ATTR.rdev, 'attr.rdev @76');
  t.equal(buf.readUInt32LE(base + 80), ATTR.blksize, 'attr.blksize @80');
  t.equal(buf.readUInt32LE(base + 84), ATTR.flags, 'attr.flags @84');
}

/** struct fuse_attr written by hand at `base`. */
function writeAttr(buf: Buffer, base: number): void {
  u64(buf, ATTR.ino, base + 0);
  u64(buf, ATTR.size, base + 8);
  u64(buf, ATTR.blocks, base + 16);
  u64(buf, ATTR.atime, base + 24);
  u64(buf, ATTR.mtime, base + 32);
  u64(buf, ATTR.ctime, base + 40);
  buf.writeUInt32LE(ATTR.atimensec, base + 48);
  buf.writeUInt32LE(ATTR.mtimensec, base + 52);
  buf.writeUInt32LE(ATTR.ctimensec, base + 56);
  buf.writeUInt32LE(ATTR.mode, base + 60);
  buf.writeUInt32LE(ATTR.nlink, base + 64);
  buf.writeUInt32LE(ATTR.uid, base + 68);
  buf.writeUInt32LE(ATTR.gid, base + 72);
  buf.writeUInt32LE(ATTR.rdev, base + 76);
  buf.writeUInt32LE(ATTR.blksize, base + 80);
  buf.writeUInt32LE(ATTR.flags, base + 84);
}

t.test('struct sizes are those of fuse.h 7.38', async (t) => {
  const sizes: [string, { size: number }, number][] = [
    ['fuse_in_header', s.inHeader, 40], ['fuse_out_header', s.outHeader, 16], ['fuse_attr', s.attr, 88],
    ['fuse_entry_out', s.entryOut, 128], ['fuse_attr_out', s.attrOut, 104], ['fuse_init_in', s.initIn, 64],
    ['fuse_init_out', s.initOut, 64], ['fuse_read_in', s.readIn, 40], ['fuse_write_in', s.writeIn, 40],
    ['fuse_write_out', s.writeOut, 8], ['fuse_ioctl_in', s.ioctlIn, 32], ['fuse_ioctl_out', s.ioctlOut, 16],
    ['fuse_poll_in', s.pollIn, 24], ['fuse_poll_out', s.pollOut, 8], ['fuse_open_in', s.openIn, 8],
    ['fuse_open_out', s.openOut, 16], ['fuse_dirent', s.dirent, 24], ['fuse_batch_forget_in', s.batchForgetIn, 8],
    ['fuse_forget_one', s.forgetOne, 16], ['fuse_getattr_in', s.getattrIn, 16], ['fuse_setattr_in', s.setattrIn, 88],
    ['fuse_release_in', s.releaseIn, 24], ['fuse_flush_in', s.flushIn, 24], ['fuse_interrupt_in', s.interruptIn, 8],
    ['fuse_notify_poll_wakeup_out', s.notifyPollWakeupOut, 8], ['fuse_notify_inval_entry_out', s.notifyInvalEntryOut, 16],
    ['fuse_notify_inval_inode_out', s.notifyInvalInodeOut, 24], ['fuse_kstatfs', s.kstatfs, 80],
    ['fuse_create_in', s.createIn, 16], ['fuse_mkdir_in', s.mkdirIn, 8], ['fuse_rename_in', s.renameIn, 8],
  ];
  for (const [name, st, size] of sizes) t.equal(st.size, size, `sizeof(struct ${name})`);
});

t.test('fuse_in_header', async (t) => {
  // u64 fields beyond 32 bits, and uid/gid/pid with the top bit set.
  const req = request({ opcode: Opcode.GETATTR, unique: 0x2_0000_0003, nodeid: 0x7_0000_0001, uid: 0xfffffffe, gid: 65534, pid: 0x8000_0001 },
    Buffer.alloc(16));
  const d = decode(req);
  t.same(d.header, {
    len: 56, opcode: Opcode.GETATTR, unique: 0x2_0000_0003, nodeid: 0x7_0000_0001,
    uid: 0xfffffffe, gid: 65534, pid: 0x8000_0001, total_extlen: 0,
  });
  t.equal(d.op?.method, 'getattr');
  // fuse_getattr_in { u32 getattr_flags @0; u32 dummy @4; u64 fh @8 }
  const body = Buffer.alloc(16);
  body.writeUInt32LE(1, 0); // FUSE_GETATTR_FH
  body.writeUInt32LE(0xdeadbeef, 4);
  u64(body, 0x1_0000_0009, 8);
  t.same(decode(request({ opcode: Opcode.GETATTR }, body)).arg, { getattr_flags: 1, fh: 0x1_0000_0009 }, 'getattr_in, dummy not decoded');
});

t.test('fuse_out_header', async (t) => {
  const buf = dirty(16);
  t.equal(encodeOutHeader(buf, 0x3_0000_0004, -4, 100), 16);
  t.equal(buf.readUInt32LE(0), 116, 'len @0 counts the header');
  t.equal(buf.readInt32LE(4), -4, 'error @4 is -errno');
  t.equal(buf.readUInt32LE(8), 4, 'unique low @8');
  t.equal(buf.readUInt32LE(12), 3, 'unique high @12');
});

t.test('fuse_init_in / fuse_init_out', async (t) => {
  // fuse_init_in { u32 major @0; minor @4; max_readahead @8; flags @12; flags2 @16; unused[11] @20 } = 64
  const body = Buffer.alloc(64);
  body.writeUInt32LE(7, 0);
  body.writeUInt32LE(45, 4);
  body.writeUInt32LE(131072, 8);
  body.writeUInt32LE(0x73fffffb, 12);
  body.writeUInt32LE(0x3, 16);
  body.fill(0x77, 20, 64);
  const d = decode(request({ opcode: Opcode.INIT, nodeid: 0 }, body));
  t.equal(d.op?.method, 'init');
  t.same(d.arg, { major: 7, minor: 45, max_readahead: 131072, flags: 0x73fffffb, flags2: 3 });
  // Before 7.36 (FUSE_INIT_EXT) fuse_init_in was { major, minor, max_readahead, flags } = 16 bytes.
  const old = decode(request({ opcode: Opcode.INIT, nodeid: 0 }, body.subarray(0, 16)));
  t.same(old.arg, { major: 7, minor: 45, max_readahead: 131072, flags: 0x73fffffb, flags2: 0 }, '16-byte init_in of older kernels');

  // fuse_init_out { u32 major @0; minor @4; max_readahead @8; flags @12;
  //   u16 max_background @16; u16 congestion_threshold @18; u32 max_write @20;
  //   u32 time_gran @24; u16 max_pages @28; u16 map_alignment @30; u32 flags2 @32; u32 unused[7] @36 } = 64
  const out = dirty(64);
  const n = s.initOut.encode({
    major: 7, minor: 38, max_readahead: 65536, flags: 0x40_0069, max_background: 64, congestion_threshold: 48,
    max_write: 131072, time_gran: 1, max_pages: 32, map_alignment: 0, flags2: 0,
  }, out, 0);
  t.equal(n, 64);
  const want = Buffer.alloc(64);
  want.writeUInt32LE(7, 0);
  want.writeUInt32LE(38, 4);
  want.writeUInt32LE(65536, 8);
  want.writeUInt32LE(0x40_0069, 12);
  want.writeUInt16LE(64, 16);
  want.writeUInt16LE(48, 18);
  want.writeUInt32LE(131072, 20);
  want.writeUInt32LE(1, 24);
  want.writeUInt16LE(32, 28);
  want.writeUInt16LE(0, 30);
  want.writeUInt32LE(0, 32);
  t.same(out, want, 'init_out bytes, unused[7] zeroed');
});

t.test('fuse_entry_out (128) with fuse_attr (88)', async (t) => {
  const entry = {
    nodeid: 0x1_0000_0005, generation: 2, entry_valid: 3600, attr_valid: 0x1_0000_0000, entry_valid_nsec: 500,
    attr_valid_nsec: 999_999_999, attr: ATTR,
  };
  const buf = dirty(128);
  t.equal(s.entryOut.encode(entry, buf, 0), 128);
  // fuse_entry_out { u64 nodeid @0; generation @8; entry_valid @16; attr_valid @24;
  //   u32 entry_valid_nsec @32; attr_valid_nsec @36; struct fuse_attr attr @40 }
  t.equal(buf.readBigUInt64LE(0), 0x1_0000_0005n, 'nodeid @0');
  t.equal(buf.readBigUInt64LE(8), 2n, 'generation @8');
  t.equal(buf.readBigUInt64LE(16), 3600n, 'entry_valid @16');
  t.equal(buf.readBigUInt64LE(24), 0x1_0000_0000n, 'attr_valid @24');
  t.equal(buf.readUInt32LE(32), 500, 'entry_valid_nsec @32');
  t.equal(buf.readUInt32LE(36), 999_999_999, 'attr_valid_nsec @36');
  checkAttr(t, buf, 40);

  const hand = Buffer.alloc(128);
  u64(hand, 0x1_0000_0005, 0);
  u64(hand, 2, 8);
  u64(hand, 3600, 16);
  u64(hand, 0x1_0000_0000, 24);
  hand.writeUInt32LE(500, 32);
  hand.writeUInt32LE(999_999_999, 36);
  writeAttr(hand, 40);
  t.same(buf, hand, 'encode = hand-written bytes');
  t.same(s.entryOut.decode(hand, 0), entry, 'decode of hand-written bytes');
  // an offset inside a larger buffer, as after the out header
  const big = dirty(16 + 128);
  s.entryOut.encode(entry, big, 16);
  t.same(big.subarray(16), hand, 'encode at offset 16');
  t.same(big.subarray(0, 16), dirty(16), 'bytes before the offset untouched');
});

t.test('fuse_attr_out (104)', async (t) => {
  // fuse_attr_out { u64 attr_valid @0; u32 attr_valid_nsec @8; u32 dummy @12; struct fuse_attr attr @16 }
  const buf = dirty(104);
  t.equal(s.attrOut.encode({ attr_valid: 7, attr_valid_nsec: 8, attr: ATTR }, buf, 0), 104);
  const hand = Buffer.alloc(104);
  u64(hand, 7, 0);
  hand.writeUInt32LE(8, 8);
  hand.writeUInt32LE(0, 12);
  writeAttr(hand, 16);
  t.same(buf, hand, 'dummy written as zero');
  checkAttr(t, buf, 16);
});

t.test('fuse_read_in', async (t) => {
  // fuse_read_in { u64 fh @0; u64 offset @8; u32 size @16; u32 read_flags @20;
  //   u64 lock_owner @24; u32 flags @32; u32 padding @36 } = 40
  const body = Buffer.alloc(40);
  u64(body, 0x9_0000_0001, 0);
  u64(body, 0x1_0000_1000, 8);
  body.writeUInt32LE(131072, 16);
  body.writeUInt32LE(2, 20); // FUSE_READ_LOCKOWNER
  u64(body, 12345, 24);
  body.writeUInt32LE(0o4002, 32); // O_RDWR|O_NONBLOCK
  body.writeUInt32LE(0xffffffff, 36);
  const d = decode(request({ opcode: Opcode.READ, nodeid: 6 }, body));
  t.equal(d.op?.method, 'read');
  t.same(d.arg, { fh: 0x9_0000_0001, offset: 0x1_0000_1000, size: 131072, read_flags: 2, lock_owner: 12345, flags: 0o4002 });
  t.equal(d.data, undefined);
  t.equal(decode(request({ opcode: Opcode.READDIR }, body)).op?.method, 'readdir', 'READDIR uses fuse_read_in too');
});

t.test('fuse_write_in followed by data', async (t) => {
  // fuse_write_in { u64 fh @0; u64 offset @8; u32 size @16; u32 write_flags @20;
  //   u64 lock_owner @24; u32 flags @32; u32 padding @36 } = 40, then `size` bytes
  const payload = Buffer.from('some bytes\0with a NUL\n');
  const body = Buffer.alloc(40 + payload.length);
  u64(body, 3, 0);
  u64(body, 0, 8);
  body.writeUInt32LE(payload.length, 16);
  body.writeUInt32LE(1, 20); // FUSE_WRITE_CACHE
  u64(body, 0, 24);
  body.writeUInt32LE(0o1, 32);
  payload.copy(body, 40);
  const d = decode(request({ opcode: Opcode.WRITE, nodeid: 8 }, body));
  t.same(d.arg, { fh: 3, offset: 0, size: payload.length, write_flags: 1, lock_owner: 0, flags: 1 });
  t.same(d.data, payload, 'data = the bytes after write_in, NULs included');

  // Extensions (total_extlen, in 8-byte units) follow the body and are not data.
  const ext = Buffer.concat([body, Buffer.alloc(16, 0xcc)]);
  const d2 = decode(request({ opcode: Opcode.WRITE, extlen: 2 }, ext));
  t.same(d2.data, payload, 'extension bytes excluded from data');

  // fuse_write_out { u32 size @0; u32 padding @4 }
  const out = dirty(8);
  s.writeOut.encode({ size: 70000 }, out, 0);
  const want = Buffer.alloc(8);
  want.writeUInt32LE(70000, 0);
  t.same(out, want);
});

t.test('fuse_ioctl_in + input / fuse_ioctl_out + output', async (t) => {
  // fuse_ioctl_in { u64 fh @0; u32 flags @8; u32 cmd @12; u64 arg @16; u32 in_size @24; u32 out_size @28 } = 32
  const input = Buffer.from('0123456789abcdef');
  const body = Buffer.alloc(32 + 16);
  u64(body, 77, 0);
  body.writeUInt32LE(0, 8);
  body.writeUInt32LE(0xc0104501, 12); // _IOWR('E', 1, 16)
  u64(body, 0x7ffd_1234_5678, 16); // a user-space pointer above 2^32
  body.writeUInt32LE(16, 24);
  body.writeUInt32LE(16, 28);
  input.copy(body, 32);
  const d = decode(request({ opcode: Opcode.IOCTL, nodeid: 6 }, body));
  t.equal(d.op?.method, 'ioctl');
  t.same(d.arg, { fh: 77, flags: 0, cmd: 0xc0104501, arg: 0x7ffd_1234_5678, in_size: 16, out_size: 16 });
  t.same(d.data, input, 'input bytes follow ioctl_in');

  // fuse_ioctl_out { i32 result @0; u32 flags @4; u32 in_iovs @8; u32 out_iovs @12 } = 16
  const out = dirty(16);
  s.ioctlOut.encode({ result: -25, flags: 4, in_iovs: 1, out_iovs: 2 }, out, 0);
  t.equal(out.readInt32LE(0), -25, 'result @0 is signed');
  t.equal(out.readUInt32LE(4), 4, 'flags @4');
  t.equal(out.readUInt32LE(8), 1, 'in_iovs @8');
  t.equal(out.readUInt32LE(12), 2, 'out_iovs @12');
  const hand = Buffer.alloc(16);
  hand.writeInt32LE(-25, 0);
  hand.writeUInt32LE(4, 4);
  hand.writeUInt32LE(1, 8);
  hand.writeUInt32LE(2, 12);
  t.same(s.ioctlOut.decode(hand), { result: -25, flags: 4, in_iovs: 1, out_iovs: 2 });
});

t.test('fuse_poll_in / fuse_poll_out', async (t) => {
  // fuse_poll_in { u64 fh @0; u64 kh @8; u32 flags @16; u32 events @20 } = 24
  const body = Buffer.alloc(24);
  u64(body, 5, 0);
  u64(body, 0xffff_8880_1234_5000 % 2 ** 53, 8);
  body.writeUInt32LE(1, 16); // FUSE_POLL_SCHEDULE_NOTIFY
  body.writeUInt32LE(0x145, 20);
  const kh = 0xffff_8880_1234_5000 % 2 ** 53;
  t.same(decode(request({ opcode: Opcode.POLL, nodeid: 5 }, body)).arg, { fh: 5, kh, flags: 1, events: 0x145 });
  // fuse_poll_out { u32 revents @0; u32 padding @4 }
  const out = dirty(8);
  s.pollOut.encode({ revents: 0x41 }, out, 0);
  const want = Buffer.alloc(8);
  want.writeUInt32LE(0x41, 0);
  t.same(out, want, 'revents @0, padding zero');
});

t.test('fuse_open_in / fuse_open_out', async (t) => {
  // fuse_open_in { u32 flags @0; u32 open_flags @4 }
  const body = Buffer.alloc(8);
  body.writeUInt32LE(0o100002, 0); // O_RDWR|O_LARGEFILE
  body.writeUInt32LE(0, 4);
  t.same(decode(request({ opcode: Opcode.OPEN, nodeid: 2 }, body)).arg, { flags: 0o100002, open_flags: 0 });
  // fuse_open_out { u64 fh @0; u32 open_flags @8; u32 padding @12 } = 16
  const out = dirty(16);
  s.openOut.encode({ fh: 0x1_0000_0002, open_flags: 0x15 }, out, 0);
  const want = Buffer.alloc(16);
  u64(want, 0x1_0000_0002, 0);
  want.writeUInt32LE(0x15, 8); // DIRECT_IO|NONSEEKABLE|STREAM
  t.same(out, want);
});

t.test('fuse_dirent records are 8-byte aligned', async (t) => {
  // fuse_dirent { u64 ino @0; u64 off @8; u32 namelen @16; u32 type @20; char name[] @24 },
  // FUSE_DIRENT_SIZE = (24 + namelen + 7) & ~7
  const buf = dirty(256);
  let off = 0;
  const names: [string, number][] = [['.', 32], ['ab', 32], ['12345678', 32], ['123456789', 40], ['é', 32]];
  const starts: number[] = [];
  for (const [i, [name]] of names.entries()) {
    starts.push(off);
    off = encodeDirent(buf, off, buf.length, 100 + i, i + 1, i === 0 ? 4 : 8, name);
    t.not(off, -1, `${name} fits`);
  }
  let at = 0;
  for (const [i, [name, reclen]] of names.entries()) {
    t.equal(starts[i], at, `${name} starts at ${at}`);
    const nameBytes = Buffer.from(name);
    t.equal(buf.readBigUInt64LE(at), BigInt(100 + i), 'ino @0');
    t.equal(buf.readBigUInt64LE(at + 8), BigInt(i + 1), 'off @8');
    t.equal(buf.readUInt32LE(at + 16), nameBytes.length, 'namelen @16 in bytes, no NUL');
    t.equal(buf.readUInt32LE(at + 20), i === 0 ? 4 : 8, 'type @20');
    t.same(buf.subarray(at + 24, at + 24 + nameBytes.length), nameBytes, 'name @24');
    t.same(buf.subarray(at + 24 + nameBytes.length, at + reclen), Buffer.alloc(reclen - 24 - nameBytes.length), 'padding zeroed');
    at += reclen;
  }
  t.equal(off, at, 'returns the end of the last record');
  t.equal(off % 8, 0);
});

t.test('dirent limit', async (t) => {
  const buf = dirty(64);
  t.equal(encodeDirent(buf, 0, 32, 1, 1, 8, 'hello'), 32, 'reclen 32 fits exactly in 32');
  t.equal(encodeDirent(buf, 32, 63, 2, 2, 8, 'hello'), -1, 'second record would end at 64 > 63');
  t.same(buf.subarray(32), dirty(32), 'nothing written past the limit');
});

t.test('notification bodies', async (t) => {
  // fuse_notify_poll_wakeup_out { u64 kh @0 }
  const poll = dirty(8);
  s.notifyPollWakeupOut.encode({ kh: 0x1_dead_beef }, poll, 0);
  t.equal(poll.readBigUInt64LE(0), 0x1_dead_beefn);
  // fuse_notify_inval_entry_out { u64 parent @0; u32 namelen @8; u32 flags @12 }
  const ent = dirty(16);
  s.notifyInvalEntryOut.encode({ parent: 1, namelen: 5, flags: 0 }, ent, 0);
  const want = Buffer.alloc(16);
  u64(want, 1, 0);
  want.writeUInt32LE(5, 8);
  t.same(ent, want);
  // fuse_notify_inval_inode_out { u64 ino @0; i64 off @8; i64 len @16 }
  const ino = dirty(24);
  s.notifyInvalInodeOut.encode({ ino: 9, off: 4096, len: -1 }, ino, 0);
  t.equal(ino.readBigUInt64LE(0), 9n);
  t.equal(ino.readBigInt64LE(8), 4096n);
  t.equal(ino.readBigInt64LE(16), -1n, 'len is signed');
  t.same(s.notifyInvalInodeOut.decode(ino), { ino: 9, off: 4096, len: -1 });
});

t.test('FORGET and BATCH_FORGET', async (t) => {
  // fuse_forget_in { u64 nlookup @0 }
  const f = Buffer.alloc(8);
  u64(f, 3, 0);
  const d = decode(request({ opcode: Opcode.FORGET, nodeid: 12 }, f));
  t.equal(d.op?.method, 'forget');
  t.same(d.arg, { nlookup: 3 });
  t.equal(d.op?.reply, 'none', 'FORGET gets no reply');

  // fuse_batch_forget_in { u32 count @0; u32 dummy @4 } + fuse_forget_one { u64 nodeid @0; u64 nlookup @8 }[count]
  const body = Buffer.alloc(8 + 3 * 16);
  body.writeUInt32LE(3, 0);
  for (let i = 0; i < 3; i++) {
    u64(body, 100 + i, 8 + i * 16);
    u64(body, i === 2 ? 0x1_0000_0000 : i + 1, 8 + i * 16 + 8);
  }
  const b = decode(request({ opcode: Opcode.BATCH_FORGET, nodeid: 0 }, body));
  t.equal(b.op?.method, 'batchForget');
  t.same(b.arg, { count: 3 });
  t.same(b.forgets, [{ nodeid: 100, nlookup: 1 }, { nodeid: 101, nlookup: 2 }, { nodeid: 102, nlookup: 0x1_0000_0000 }]);

  body.writeUInt32LE(4, 0);
  throwsProtocolError(t, () => decode(request({ opcode: Opcode.BATCH_FORGET, nodeid: 0 }, body)), 'count beyond the body');
});

t.test('name tails', async (t) => {
  const l = decode(request({ opcode: Opcode.LOOKUP, nodeid: 1 }, Buffer.from('hello\0')));
  t.equal(l.op?.method, 'lookup');
  t.equal(l.name, 'hello');
  t.equal(decode(request({ opcode: Opcode.LOOKUP }, Buffer.from('ünïcödé\0'))).name, 'ünïcödé', 'UTF-8 name');

  // RENAME: fuse_rename_in { u64 newdir @0 } + "old\0" + "new\0"
  const body = Buffer.concat([Buffer.alloc(8), Buffer.from('old name\0new\0')]);
  u64(body, 0x1_0000_0007, 0);
  const r = decode(request({ opcode: Opcode.RENAME, nodeid: 1 }, body));
  t.equal(r.op?.method, 'rename');
  t.same(r.arg, { newdir: 0x1_0000_0007 });
  t.equal(r.name, 'old name');
  t.equal(r.name2, 'new');

  // MKDIR: fuse_mkdir_in { u32 mode @0; u32 umask @4 } + "name\0"
  const mk = Buffer.concat([Buffer.alloc(8), Buffer.from('dir\0')]);
  mk.writeUInt32LE(0o755, 0);
  mk.writeUInt32LE(0o022, 4);
  const m = decode(request({ opcode: Opcode.MKDIR }, mk));
  t.same(m.arg, { mode: 0o755, umask: 0o022 });
  t.equal(m.name, 'dir');

  // SETXATTR: fuse_setxattr_in { u32 size @0; u32 flags @4 } + "name\0" + value
  const sx = Buffer.concat([Buffer.alloc(8), Buffer.from('user.k\0'), Buffer.from('v\0al')]);
  sx.writeUInt32LE(4, 0);
  const x = decode(request({ opcode: Opcode.SETXATTR }, sx));
  t.equal(x.name, 'user.k');
  t.same(x.data, Buffer.from('v\0al'));
});

t.test('unknown opcode', async (t) => {
  for (const opcode of [0, 7, 19, 4095, 0xffffffff]) {
    const d = decode(request({ opcode, unique: 99 }, Buffer.from('whatever')));
    t.equal(d.op, undefined, `opcode ${opcode}: op undefined`);
    t.equal(d.header.opcode, opcode);
    t.equal(d.header.unique, 99, 'header still decoded, so the session can answer ENOSYS');
  }
});

t.test('malformed requests throw ProtocolError', async (t) => {
  throwsProtocolError(t, () => decodeRequest(Buffer.alloc(64), 39), 'shorter than fuse_in_header');
  throwsProtocolError(t, () => decodeRequest(Buffer.alloc(64), 0), 'empty read');
  const lookup = request({ opcode: Opcode.LOOKUP }, Buffer.from('hello\0'));
  throwsProtocolError(t, () => decodeRequest(lookup, lookup.length - 1), 'len disagrees with bytes read');
  // A name without its NUL; the read buffer beyond `len` holds a 0 that must not count.
  const noNul = request({ opcode: Opcode.LOOKUP }, Buffer.from('hello'));
  const readBuf = Buffer.concat([noNul, Buffer.alloc(16)]);
  throwsProtocolError(t, () => decodeRequest(readBuf, noNul.length), 'LOOKUP name without NUL');
  const rename = Buffer.concat([Buffer.alloc(8), Buffer.from('old\0new')]);
  throwsProtocolError(t, () => decode(request({ opcode: Opcode.RENAME }, rename)), 'RENAME second name without NUL');
  throwsProtocolError(t, () => decode(request({ opcode: Opcode.LOOKUP }, Buffer.alloc(0))), 'LOOKUP without a name');
  // Bodies shorter than their argument struct.
  throwsProtocolError(t, () => decode(request({ opcode: Opcode.READ }, Buffer.alloc(39))), 'READ body of 39 < 40 bytes');
  throwsProtocolError(t, () => decode(request({ opcode: Opcode.INIT }, Buffer.alloc(12))), 'INIT body of 12 < 16 bytes');
  throwsProtocolError(t, () => decode(request({ opcode: Opcode.IOCTL }, Buffer.alloc(8))), 'IOCTL body of 8 < 32 bytes');
  // total_extlen larger than the body.
  throwsProtocolError(t, () => decode(request({ opcode: Opcode.READ, extlen: 8 }, Buffer.alloc(40))), 'extensions longer than the body');
});

t.test('scalar conversions on encode (u8 u16 u32 i32 u64 i64, pads, missing fields)', async (t) => {
  // A layout of every scalar type, checked against hand-computed bytes.
  const all = struct('all', { a: 'u8', p: pad(1), b: 'u16', c: 'u32', d: 'i32', e: 'u64', f: 'i64', g: 'u32' });
  t.equal(all.size, 1 + 1 + 2 + 4 + 4 + 8 + 8 + 4);
  const buf = dirty(all.size);
  all.encode({ a: 0x1ff, b: 0xbeef, c: -1, d: -2, e: 2 ** 52 + 3, f: -(2 ** 40) - 1 } as never, buf, 0);
  const want = Buffer.alloc(all.size);
  want[0] = 0xff; // u8 stores wrap modulo 256
  want.writeUInt16LE(0xbeef, 2);
  want.writeUInt32LE(0xffffffff, 4); // u32: x >>> 0
  want.writeInt32LE(-2, 8);
  want.writeBigUInt64LE(2n ** 52n + 3n, 12);
  want.writeBigInt64LE(-(2n ** 40n) - 1n, 20);
  want.writeUInt32LE(0, 28); // missing field: 0
  t.same(buf, want);
  t.same(all.decode(want), { a: 0xff, b: 0xbeef, c: 0xffffffff, d: -2, e: 2 ** 52 + 3, f: -(2 ** 40) - 1, g: 0 }, 'decode');
  t.throws(() => all.decode(Buffer.alloc(all.size - 1)), RangeError, 'decode past the end');
  t.throws(() => all.encode({} as never, Buffer.alloc(all.size), 1), RangeError, 'encode past the end');
  t.throws(() => all.encode({ b: 0x10000 } as never, Buffer.alloc(all.size), 0), RangeError, 'u16 out of range');
  t.same(all.pack({ a: 1 } as never).subarray(0, 2), Buffer.from([1, 0]), 'pack: a fresh zeroed buffer');
});
