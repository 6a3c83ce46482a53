// Decoding requests and encoding replies, driven by the opcode table. Pure
// functions over buffers: testable without a mount.
import { Opcode } from './abi';
import { OP_BY_CODE, type AnyOp } from './opcodes';
import { dirent, forgetOne, inHeader, outHeader, type ValueOf } from './structs';

export type InHeader = ValueOf<typeof inHeader>;
export type ForgetOne = ValueOf<typeof forgetOne>;

export interface Decoded {
  readonly header: InHeader;
  /** undefined: an opcode this table does not know (answered ENOSYS). */
  readonly op: AnyOp | undefined;
  readonly arg: object | undefined;
  readonly name?: string;
  readonly name2?: string;
  /** A view into the read buffer: valid only until the handler returns. */
  readonly data?: Buffer;
  readonly forgets?: ForgetOne[];
}

export class ProtocolError extends Error {}

const NO_DATA = Buffer.alloc(0);

/** sizeof(struct fuse_init_in) before protocol 7.36 (FUSE_INIT_EXT). */
const INIT_IN_COMPAT_SIZE = 16;

/** NUL-terminated string starting at off, within [off, end). */
function cstring(buf: Buffer, off: number, end: number): [string, number] {
  const nul = buf.indexOf(0, off);
  if (nul < 0 || nul >= end) throw new ProtocolError('name without NUL terminator');
  return [buf.toString('utf8', off, nul), nul + 1];
}

export function decodeRequest(buf: Buffer, length: number): Decoded {
  if (length < inHeader.size) throw new ProtocolError(`short request: ${length} bytes`);
  const header = inHeader.decode(buf, 0);
  if (header.len !== length) throw new ProtocolError(`header says ${header.len} bytes, read ${length}`);
  const op = OP_BY_CODE.get(header.opcode);
  if (!op) return { header, op, arg: undefined };
  // Extensions (security context, supplementary groups) follow the body;
  // we never ask for them, but skip them should the kernel add them anyway.
  const end = length - header.total_extlen * 8;
  let off = inHeader.size;
  if (end < off) throw new ProtocolError(`extensions of ${header.total_extlen * 8} bytes exceed the body`);
  let arg: object | undefined;
  if (op.arg) {
    let src = buf;
    if (off + op.arg.size > end) {
      // Kernels before protocol 7.36 send the 16-byte fuse_init_in; the
      // fields added since then read as zeros.
      if (op.opcode !== Opcode.INIT || end - off < INIT_IN_COMPAT_SIZE) {
        throw new ProtocolError(`${op.arg.name}: body of ${end - off} bytes, need ${op.arg.size}`);
      }
      src = Buffer.alloc(off + op.arg.size);
      buf.copy(src, 0, 0, end);
    }
    arg = op.arg.decode(src, off);
    off += op.arg.size;
  }
  switch (op.tail) {
    case 'none':
      return { header, op, arg };
    case 'name': {
      const [name] = cstring(buf, off, end);
      return { header, op, arg, name };
    }
    case 'names': {
      const [name, next] = cstring(buf, off, end);
      const [name2] = cstring(buf, next, end);
      return { header, op, arg, name, name2 };
    }
    case 'nameData': {
      const [name, next] = cstring(buf, off, end);
      return { header, op, arg, name, data: buf.subarray(next, end) };
    }
    case 'data':
      // Most IOCTLs carry no input: skip allocating an empty view.
      return { header, op, arg, data: off < end ? buf.subarray(off, end) : NO_DATA };
    case 'forgets': {
      const count = (arg as { count: number }).count;
      if (off + count * forgetOne.size > end) throw new ProtocolError('BATCH_FORGET count exceeds body');
      const forgets: ForgetOne[] = [];
      for (let i = 0; i < count; i++) forgets.push(forgetOne.decode(buf, off + i * forgetOne.size));
      return { header, op, arg, forgets };
    }
  }
}

/** Writes a fuse_out_header for a reply of `bodyLength` bytes; returns its size. */
export function encodeOutHeader(buf: Buffer, unique: number, error: number, bodyLength: number): number {
  return outHeader.encode({ len: outHeader.size + bodyLength, error, unique }, buf, 0);
}

/** Appends one fuse_dirent record at off; returns the new offset, or -1 if it does not fit. */
export function encodeDirent(buf: Buffer, off: number, limit: number, ino: number, nextOff: number, type: number, name: string): number {
  const namelen = Buffer.byteLength(name);
  const reclen = (dirent.size + namelen + 7) & ~7; // FUSE_DIRENT_SIZE: 8-byte aligned
  if (off + reclen > limit) return -1;
  dirent.encode({ ino, off: nextOff, namelen, type }, buf, off);
  buf.write(name, off + dirent.size, 'utf8');
  buf.fill(0, off + dirent.size + namelen, off + reclen);
  return off + reclen;
}
