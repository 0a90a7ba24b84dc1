/**
 * Minimal byte writer/reader for the CRDT wire codecs: unsigned LEB128 varints up to 2^53 - 1 and
 * byte strings. Reader failures are {@link InvalidCrdtStateError}s naming the codec and byte offset.
 */
import { fail } from './validate.js';

export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;
  /** True while this writer holds the shared scratch buffer. */
  private owner = false;

  /**
   * Writes into a shared scratch buffer (allocating a typed array costs more than encoding a small
   * message); `finish()` copies the result out. Encoders run synchronously, one at a time.
   */
  constructor(expected = 256) {
    if (scratchBusy || expected > MAX_SCRATCH) {
      this.buf = new Uint8Array(expected);
      return;
    }
    if (scratch.length < expected) scratch = new Uint8Array(Math.max(expected, scratch.length * 2));
    this.buf = scratch;
    this.owner = true;
    scratchBusy = true;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    if (this.owner && size <= MAX_SCRATCH) scratch = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint, `0 <= v <= 2^53 - 1`. */
  varint(v: number): void {
    this.ensure(8);
    const buf = this.buf;
    let p = this.pos;
    if (v < 0x80000000) {
      let x = v;
      while (x >= 0x80) {
        buf[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      buf[p++] = x;
    } else {
      let x = v;
      while (x >= 0x80) {
        buf[p++] = (x % 0x80) | 0x80;
        x = Math.floor(x / 0x80);
      }
      buf[p++] = x;
    }
    this.pos = p;
  }

  /** Raw bytes of a string known to be ASCII (node ids). */
  ascii(s: string): void {
    this.ensure(s.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** The UTF-8 of `s`, preceded by its byte length as a varint. */
  utf8(s: string): void {
    // Reserve the worst case, encode in place, then write the length in front (moving the bytes only
    // if the length takes more than the one byte reserved for it).
    this.ensure(s.length * 3 + 8);
    const start = this.pos + 1;
    const { written } = ENCODER.encodeInto(s, this.buf.subarray(start));
    if (written < 0x80) {
      this.buf[this.pos] = written;
      this.pos = start + written;
      return;
    }
    const bytes = this.buf.slice(start, start + written);
    this.varint(written);
    this.raw(bytes);
  }

  /** The bytes written (a copy); the writer cannot be used afterwards. */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.release();
    return out;
  }

  /** Gives the scratch buffer back (finish does; call it from `finally` on error paths). */
  release(): void {
    if (this.owner) {
      this.owner = false;
      scratchBusy = false;
    }
  }
}

export class ByteReader {
  private pos = 0;
  private readonly bytes: Uint8Array;
  private readonly codec: string;

  constructor(bytes: Uint8Array, codec: string) {
    if (!(bytes instanceof Uint8Array)) fail(codec, 'expected bytes (a Uint8Array)');
    this.bytes = bytes;
    this.codec = codec;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(problem: string): never {
    fail(`${this.codec} at byte ${this.pos}`, problem, { offset: this.pos });
  }

  byte(): number {
    const b = this.bytes[this.pos];
    if (b === undefined) this.fail('truncated');
    this.pos++;
    return b;
  }

  varint(): number {
    const bytes = this.bytes;
    let result = 0;
    let mul = 1;
    for (let k = 0; k < 8; k++) {
      const b = bytes[this.pos];
      if (b === undefined) this.fail('truncated varint');
      this.pos++;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) this.fail('number exceeds 2^53 - 1');
        if (k > 0 && b === 0) this.fail('non-canonical varint (trailing zero byte)');
        return result;
      }
      mul *= 0x80;
    }
    this.fail('varint longer than 8 bytes');
  }

  /** A count of items that each take at least `minBytes` bytes: refuses counts the input cannot hold. */
  count(minBytes: number, what: string): number {
    const n = this.varint();
    if (n * minBytes > this.remaining) this.fail(`${what} count ${n} exceeds what the remaining ${this.remaining} bytes can hold`);
    return n;
  }

  /** `n` raw bytes (a view, not a copy). */
  take(n: number): Uint8Array {
    if (n > this.remaining) this.fail(`truncated: ${n} bytes needed, ${this.remaining} left`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Bytes as ASCII (callers validate the result, e.g. as a node id). */
  ascii(n: number): string {
    if (n > this.remaining) this.fail(`truncated: ${n} bytes needed, ${this.remaining} left`);
    const b = this.bytes;
    let s = '';
    for (let i = this.pos; i < this.pos + n; i++) s += String.fromCharCode(b[i]!);
    this.pos += n;
    return s;
  }

  /** Valid UTF-8 bytes as a string. */
  utf8(n: number): string {
    const b = this.take(n);
    try {
      return DECODER.decode(b);
    } catch {
      this.fail('invalid UTF-8');
    }
  }

  end(): void {
    if (this.pos !== this.bytes.length) this.fail(`${this.bytes.length - this.pos} trailing bytes`);
  }
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Largest buffer kept for reuse between encodings (bigger ones are left to the garbage collector). */
const MAX_SCRATCH = 1 << 20;
let scratch = new Uint8Array(4096);
/** Set while a writer holds `scratch`; a nested writer allocates its own buffer. */
let scratchBusy = false;
