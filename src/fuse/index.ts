// The FUSE protocol layer: knows files, not ttys.
export * from './abi';
export { decodeRequest, encodeDirent, encodeOutHeader, ProtocolError, type Decoded, type InHeader } from './codec';
export { OPS, OP_BY_CODE, type AnyOp, type Method, type OpSpec, type Tail } from './opcodes';
export { Request, Session, MAX_WRITE, type ConnInfo, type CuseDevice, type Handlers, type Req, type RequestOf } from './session';
export { chrdevTaken, createCuseDevice, cuseUnavailable, CUSE_PATH } from './cuse';
export { mountType, mountFuse, MountedSession, serve, unmountFuse, type MountOptions } from './mount';
export * as structs from './structs';
export type { Attr, EntryOut, AttrOut, OpenOut, Kstatfs } from './structs';
