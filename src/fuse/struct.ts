// C struct layouts, declared once and used both to decode requests and to
// encode replies. All integers are little-endian (x86_64, the only ABI the
// kernel speaks to us in). A layout is an object literal whose key order is
// the field order of the C struct, as in include/uapi/linux/fuse.h.
//
// u64 fields decode to a JS number: node ids, file handles, uniques, offsets,
// user pointers (< 2^47) and poll handles all fit in 53 bits. The one field
// that may not, lock_owner (a hash), is never used by ptsfs.

export type Scalar = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'i64';
/** Reserved bytes (`padding`, `unused[N]`): written as zeros, never decoded. */
export interface Pad {
  readonly pad: number;
}
export type Field = Scalar | Pad | Struct<object>;
export type Layout = Readonly<Record<string, Field>>;

/** The JS value of a layout: numbers for scalars, objects for nested structs. */
export type Value<L extends Layout> = {
  -readonly [K in keyof L as L[K] extends Pad ? never : K]: L[K] extends Struct<infer T> ? T : number;
};

export interface Struct<T extends object> {
  readonly name: string;
  readonly size: number;
  decode(buf: Buffer, off?: number): T;
  /** Writes `v` at `off` and returns the number of bytes written (= size). */
  encode(v: T, buf: Buffer, off?: number): number;
  /** A fresh buffer holding `v`. */
  pack(v: T): Buffer;
}

export function pad(bytes: number): Pad {
  return { pad: bytes };
}

const SCALAR_SIZE: Readonly<Record<Scalar, number>> = { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };
const TWO_32 = 0x1_0000_0000;

export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO_32;
}

export function writeU64(buf: Buffer, v: number, off: number): void {
  buf.writeUInt32LE(v % TWO_32 >>> 0, off);
  buf.writeUInt32LE(Math.floor(v / TWO_32) >>> 0, off + 4);
}

function readScalar(t: Scalar, buf: Buffer, off: number): number {
  switch (t) {
    case 'u8': return buf[off]!;
    case 'u16': return buf.readUInt16LE(off);
    case 'u32': return buf.readUInt32LE(off);
    case 'i32': return buf.readInt32LE(off);
    case 'u64': return readU64(buf, off);
    case 'i64': return buf.readUInt32LE(off) + buf.readInt32LE(off + 4) * TWO_32;
  }
}

function writeScalar(t: Scalar, buf: Buffer, v: number, off: number): void {
  switch (t) {
    case 'u8': buf[off] = v; return;
    case 'u16': buf.writeUInt16LE(v, off); return;
    case 'u32': buf.writeUInt32LE(v >>> 0, off); return;
    case 'i32': buf.writeInt32LE(v | 0, off); return;
    case 'u64': writeU64(buf, v, off); return;
    case 'i64': {
      const hi = Math.floor(v / TWO_32);
      buf.writeUInt32LE((v - hi * TWO_32) >>> 0, off);
      buf.writeInt32LE(hi | 0, off + 4);
      return;
    }
  }
}

function isPad(f: Field): f is Pad {
  return typeof f === 'object' && 'pad' in f;
}

interface Slot {
  readonly name: string;
  readonly off: number;
  readonly field: Scalar | Struct<object>;
}

export function struct<L extends Layout>(name: string, layout: L): Struct<Value<L>> {
  const slots: Slot[] = [];
  const pads: { off: number; len: number }[] = [];
  let size = 0;
  for (const [key, field] of Object.entries(layout)) {
    if (isPad(field)) {
      pads.push({ off: size, len: field.pad });
      size += field.pad;
    } else if (typeof field === 'string') {
      slots.push({ name: key, off: size, field });
      size += SCALAR_SIZE[field];
    } else {
      slots.push({ name: key, off: size, field });
      size += field.size;
    }
  }
  const total = size;
  const s: Struct<Value<L>> = {
    name,
    size: total,
    decode(buf, off = 0) {
      if (off + total > buf.length) throw new RangeError(`${name}: ${buf.length - off} bytes, need ${total}`);
      const v: Record<string, unknown> = {};
      for (const slot of slots) {
        v[slot.name] = typeof slot.field === 'string'
          ? readScalar(slot.field, buf, off + slot.off)
          : slot.field.decode(buf, off + slot.off);
      }
      return v as Value<L>;
    },
    encode(v, buf, off = 0) {
      const rec = v as Record<string, unknown>;
      for (const slot of slots) {
        if (typeof slot.field === 'string') writeScalar(slot.field, buf, (rec[slot.name] as number | undefined) ?? 0, off + slot.off);
        else slot.field.encode(rec[slot.name] as object, buf, off + slot.off);
      }
      for (const p of pads) buf.fill(0, off + p.off, off + p.off + p.len);
      return total;
    },
    pack(v) {
      const buf = Buffer.alloc(total);
      s.encode(v, buf, 0);
      return buf;
    },
  };
  return s;
}
