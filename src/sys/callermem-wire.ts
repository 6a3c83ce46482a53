// What the daemon and its caller-memory helper say to each other over a
// pipe: fixed little-endian records, a request and its answer, each
// followed by `length` bytes (the data written, or the data read).

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
/** Largest access: tty ioctl arguments are a few dozen bytes (struct termios2: 44). */
export const MAX_ACCESS = 4096;
/** The helper's first words: it is up and reading requests. */
export const READY = Buffer.from('ptsfs-callermem-ready\n');

export interface AccessIn {
  id: number;
  op: number;
  pid: number;
  length: number;
  /** A user address, below 2^53 (the caller checks). */
  addr: bigint;
}

export interface AccessOut {
  id: number;
  /** 0, or the errno of process_vm_readv/writev. */
  errno: number;
  length: number;
}

/** u32 id, u32 op, i32 pid, u32 length, u64 addr */
export const accessIn = {
  size: 24,
  encode(v: AccessIn, buf: Buffer, off: number): void {
    buf.writeUInt32LE(v.id, off);
    buf.writeUInt32LE(v.op, off + 4);
    buf.writeInt32LE(v.pid, off + 8);
    buf.writeUInt32LE(v.length, off + 12);
    buf.writeBigUInt64LE(v.addr, off + 16);
  },
  decode(buf: Buffer, off: number): AccessIn {
    return {
      id: buf.readUInt32LE(off), op: buf.readUInt32LE(off + 4), pid: buf.readInt32LE(off + 8),
      length: buf.readUInt32LE(off + 12), addr: buf.readBigUInt64LE(off + 16),
    };
  },
};

/** u32 id, i32 errno, u32 length */
export const accessOut = {
  size: 12,
  encode(v: AccessOut, buf: Buffer, off: number): void {
    buf.writeUInt32LE(v.id, off);
    buf.writeInt32LE(v.errno, off + 4);
    buf.writeUInt32LE(v.length, off + 8);
  },
  decode(buf: Buffer, off: number): AccessOut {
    return { id: buf.readUInt32LE(off), errno: buf.readInt32LE(off + 4), length: buf.readUInt32LE(off + 8) };
  },
};
