// The protocol as a table: for each opcode, the handler method that serves
// it, the struct the kernel sends, what follows that struct, and what the
// reply carries. Parsing a request and encoding its reply are driven from
// here only (see codec.ts), so this file is the whole wire format.
import { Opcode } from './abi';
import * as s from './structs';
import type { Struct } from './struct';

/** What follows the fixed argument struct in a request body. */
export type Tail =
  | 'none'
  | 'name' //    one NUL-terminated name (LOOKUP, UNLINK, MKNOD, ...)
  | 'names' //   two NUL-terminated names (RENAME, SYMLINK)
  | 'nameData' // a NUL-terminated name, then bytes (SETXATTR)
  | 'data' //    bytes (WRITE, IOCTL input)
  | 'forgets'; // fuse_forget_one[count] (BATCH_FORGET)

/**
 * What a successful reply carries: a struct (optionally followed by bytes),
 * raw bytes ('data': READ, READDIR, READLINK), nothing ('empty': UNLINK,
 * RELEASE, ...), or no reply at all ('none': FORGET, INTERRUPT).
 */
export type ReplyKind<R extends object> = Struct<R> | 'data' | 'empty' | 'none';

export interface OpSpec<M extends string = string, A extends object = object, R extends object = object> {
  readonly opcode: Opcode;
  readonly method: M;
  readonly arg: Struct<A> | null;
  readonly tail: Tail;
  readonly reply: ReplyKind<R>;
}

function op<M extends string, A extends object, R extends object>(
  opcode: Opcode, method: M, arg: Struct<A> | null, tail: Tail, reply: ReplyKind<R>,
): OpSpec<M, A, R> {
  return { opcode, method, arg, tail, reply };
}

const none = null;

export const OPS = [
  op(Opcode.INIT, 'init', s.initIn, 'none', s.initOut),
  op(Opcode.CUSE_INIT, 'cuseInit', s.cuseInitIn, 'none', s.cuseInitOut),
  op(Opcode.DESTROY, 'destroy', none, 'none', 'empty'),
  op(Opcode.INTERRUPT, 'interrupt', s.interruptIn, 'none', 'none'),
  op(Opcode.LOOKUP, 'lookup', none, 'name', s.entryOut),
  op(Opcode.FORGET, 'forget', s.forgetIn, 'none', 'none'),
  op(Opcode.BATCH_FORGET, 'batchForget', s.batchForgetIn, 'forgets', 'none'),
  op(Opcode.GETATTR, 'getattr', s.getattrIn, 'none', s.attrOut),
  op(Opcode.SETATTR, 'setattr', s.setattrIn, 'none', s.attrOut),
  op(Opcode.READLINK, 'readlink', none, 'none', 'data'),
  op(Opcode.SYMLINK, 'symlink', none, 'names', s.entryOut),
  op(Opcode.MKNOD, 'mknod', s.mknodIn, 'name', s.entryOut),
  op(Opcode.MKDIR, 'mkdir', s.mkdirIn, 'name', s.entryOut),
  op(Opcode.UNLINK, 'unlink', none, 'name', 'empty'),
  op(Opcode.RMDIR, 'rmdir', none, 'name', 'empty'),
  op(Opcode.RENAME, 'rename', s.renameIn, 'names', 'empty'),
  op(Opcode.RENAME2, 'rename2', s.rename2In, 'names', 'empty'),
  op(Opcode.LINK, 'link', s.linkIn, 'name', s.entryOut),
  op(Opcode.OPEN, 'open', s.openIn, 'none', s.openOut),
  op(Opcode.READ, 'read', s.readIn, 'none', 'data'),
  op(Opcode.WRITE, 'write', s.writeIn, 'data', s.writeOut),
  op(Opcode.STATFS, 'statfs', none, 'none', s.statfsOut),
  op(Opcode.RELEASE, 'release', s.releaseIn, 'none', 'empty'),
  op(Opcode.FSYNC, 'fsync', s.fsyncIn, 'none', 'empty'),
  op(Opcode.SETXATTR, 'setxattr', s.setxattrIn, 'nameData', 'empty'),
  op(Opcode.GETXATTR, 'getxattr', s.getxattrIn, 'name', 'data'),
  op(Opcode.LISTXATTR, 'listxattr', s.getxattrIn, 'none', 'data'),
  op(Opcode.REMOVEXATTR, 'removexattr', none, 'name', 'empty'),
  op(Opcode.FLUSH, 'flush', s.flushIn, 'none', 'empty'),
  op(Opcode.OPENDIR, 'opendir', s.openIn, 'none', s.openOut),
  op(Opcode.READDIR, 'readdir', s.readIn, 'none', 'data'),
  op(Opcode.RELEASEDIR, 'releasedir', s.releaseIn, 'none', 'empty'),
  op(Opcode.FSYNCDIR, 'fsyncdir', s.fsyncIn, 'none', 'empty'),
  op(Opcode.ACCESS, 'access', s.accessIn, 'none', 'empty'),
  op(Opcode.CREATE, 'create', s.createIn, 'name', s.createOut),
  op(Opcode.IOCTL, 'ioctl', s.ioctlIn, 'data', s.ioctlOut),
  op(Opcode.POLL, 'poll', s.pollIn, 'none', s.pollOut),
  op(Opcode.STATX, 'statx', none, 'none', 'data'),
] as const;

export type AnyOp = (typeof OPS)[number];
export type Method = AnyOp['method'];

/** Spec by opcode, for the dispatcher; undefined for opcodes we do not know. */
export const OP_BY_CODE: ReadonlyMap<number, AnyOp> = new Map(OPS.map((o) => [o.opcode, o]));
