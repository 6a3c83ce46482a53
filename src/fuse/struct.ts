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

// decode() and encode() are generated per struct (new Function) from the
// layout: straight-line byte loads and stores after one bounds check, into
// one object literal, so every decoded value of a struct has one fixed
// shape. Buffer#readUInt32LE and friends are not inlined by V8 in Node 20
// (~10 ns a call here), and a generic loop over the slots with keyed stores
// was the largest JS cost of a request; the generated code is ~20x faster.
const u32At = (o: string): string => `((buf[${o}] | buf[${o} + 1] << 8 | buf[${o} + 2] << 16) + buf[${o} + 3] * 0x1000000)`;
const i32At = (o: string): string => `(buf[${o}] | buf[${o} + 1] << 8 | buf[${o} + 2] << 16 | buf[${o} + 3] << 24)`;
/** Stores the low 32 bits of the integer expression y at o (Uint8Array stores wrap modulo 256). */
const store32 = (y: string, o: string): string =>
  `buf[${o}] = ${y}; buf[${o} + 1] = ${y} >>> 8; buf[${o} + 2] = ${y} >>> 16; buf[${o} + 3] = ${y} >>> 24;`;

const READ: Readonly<Record<Scalar, (o: string) => string>> = {
  u8: (o) => `buf[${o}]`,
  u16: (o) => `(buf[${o}] | buf[${o} + 1] << 8)`,
  u32: u32At,
  i32: i32At,
  u64: (o) => `(${u32At(o)} + ${u32At(`${o} + 4`)} * ${TWO_32})`,
  i64: (o) => `(${u32At(o)} + ${i32At(`${o} + 4`)} * ${TWO_32})`,
};

// Same conversions as before generation: u32 `x >>> 0`, i32 `x | 0`, u64 as
// low/high words; u16 keeps writeUInt16LE's range check.
const WRITE: Readonly<Record<Scalar, (o: string) => string>> = {
  u8: (o) => `buf[${o}] = x;`,
  u16: (o) => `buf.writeUInt16LE(x, ${o});`,
  u32: (o) => `y = x >>> 0; ${store32('y', o)}`,
  i32: (o) => `y = x | 0; ${store32('y', o)}`,
  u64: (o) => `y = x % ${TWO_32} >>> 0; ${store32('y', o)} y = Math.floor(x / ${TWO_32}) >>> 0; ${store32('y', `${o} + 4`)}`,
  i64: (o) => `{ const hi = Math.floor(x / ${TWO_32}); y = (x - hi * ${TWO_32}) >>> 0; ${store32('y', o)} y = hi | 0; ${store32('y', `${o} + 4`)} }`,
};

/** Pads up to this size are zeroed by single-byte stores, longer ones by fill(). */
const INLINE_PAD = 32;

type DecodeFn = (buf: Buffer, off?: number) => object;
type EncodeFn = (v: object, buf: Buffer, off?: number) => number;

function compile(name: string, slots: readonly Slot[], pads: readonly { off: number; len: number }[], total: number): [DecodeFn, EncodeFn] {
  const nested: Struct<object>[] = [];
  const key = (k: string): string => JSON.stringify(k);
  const at = (n: number): string => `off + ${n}`;
  const check = `if (off === undefined) off = 0;
  if (!(off >= 0) || off + ${total} > buf.length) throw new RangeError(${key(name)} + ": " + (buf.length - off) + " bytes, need ${total}");`;
  const fields: string[] = [];
  const writes: string[] = [];
  for (const slot of slots) {
    if (typeof slot.field === 'string') {
      fields.push(`${key(slot.name)}: ${READ[slot.field](at(slot.off))}`);
      writes.push(`x = v[${key(slot.name)}]; if (x == null) x = 0; ${WRITE[slot.field](at(slot.off))}`);
    } else {
      const i = nested.push(slot.field) - 1;
      fields.push(`${key(slot.name)}: nested[${i}].decode(buf, ${at(slot.off)})`);
      writes.push(`nested[${i}].encode(v[${key(slot.name)}], buf, ${at(slot.off)});`);
    }
  }
  for (const p of pads) {
    if (p.len <= INLINE_PAD) for (let i = 0; i < p.len; i++) writes.push(`buf[${at(p.off + i)}] = 0;`);
    else writes.push(`buf.fill(0, ${at(p.off)}, ${at(p.off + p.len)});`);
  }
  const make = new Function('nested', `
return [
  function decode(buf, off) {
  ${check}
  return { ${fields.join(', ')} };
  },
  function encode(v, buf, off) {
  ${check}
  let x, y;
  ${writes.join('\n  ')}
  return ${total};
  },
];`) as (nested: Struct<object>[]) => [DecodeFn, EncodeFn];
  return make(nested);
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
  const [decode, encode] = compile(name, slots, pads, total);
  const s: Struct<Value<L>> = {
    name,
    size: total,
    decode: decode as (buf: Buffer, off?: number) => Value<L>,
    encode: encode as (v: Value<L>, buf: Buffer, off?: number) => number,
    pack(v) {
      const buf = Buffer.alloc(total);
      s.encode(v, buf, 0);
      return buf;
    },
  };
  return s;
}
