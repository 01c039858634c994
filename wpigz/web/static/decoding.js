// decoding.js -- decompression in the browser, mirroring wpigz/decode/sequential.py: this (memory-safe)
// JavaScript reads only the container structure -- gzip headers and trailers, the zlib header,
// a zip local header and data descriptor, the compress (.Z) header -- and every byte of
// compressed data is decoded by the wasm inflater (wasm/inflater.c, the same exports the
// Python Decoder uses), which also computes the check value. Data streams through the
// inflater's fixed buffers. The error texts are decode/sequential.py's (pigz's wording). zstd is not
// read here: the command decodes it natively, outside the engine module.
// Loaded by orchestrator.js with importScripts.
"use strict";

// decoder step results and check kinds, as in wasm/inflater.c
const STEP_END = 1, STEP_ERROR = -1;
const DECODE_CHECK_CRC32 = 0, DECODE_CHECK_ADLER32 = 1;

class CorruptInput extends Error {}      // damaged input; message is pigz's reason text
class Unrecognized extends Error {}      // not a format wpigz reads (or empty)

class Decoded {
  constructor() {
    this.form = "unknown";
    this.name = null;
    this.mtime = 0;
    this.members = [];
    this.warnings = [];
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];

// CRC-32 of a few header bytes, for the 16-bit FHCRC (decode/sequential.py uses Python's zlib for it)
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// A chunked input with a pushback buffer: headers are read from it here, bodies go straight
// into the decoder's wasm input buffer.
class Source {
  constructor(chunks) {
    this.chunks = chunks;           // .next() -> Uint8Array or null at the end
    this.buf = new Uint8Array(0);
    this.pos = 0;
    this.consumed = 0;              // bytes handed out so far
  }

  get available() { return this.buf.length - this.pos; }

  async fill(n) {
    while (this.available < n) {
      const chunk = await this.chunks.next();
      if (chunk === null) return;
      this.buf = this.available ? concat(this.buf.subarray(this.pos), chunk) : chunk;
      this.pos = 0;
    }
  }

  async peek(n) {
    await this.fill(n);
    return this.buf.slice(this.pos, this.pos + n);
  }

  async read(n) {
    const data = await this.peek(n);
    this.pos += data.length;
    this.consumed += data.length;
    return data;
  }

  async readUntilNul(what) {
    const bytes = [];
    for (;;) {
      const byte = await this.read(1);
      if (!byte.length) throw new CorruptInput(`corrupted -- unexpected end of file in the ${what}`);
      if (byte[0] === 0) return new Uint8Array(bytes);
      bytes.push(byte[0]);
    }
  }

  unread(data) {
    this.buf = concat(data, this.buf.subarray(this.pos));
    this.pos = 0;
    this.consumed -= data.length;
  }

  async readInto(view) {
    if (!this.available) await this.fill(1);
    const n = Math.min(view.length, this.available);
    view.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    this.consumed += n;
    return n;
  }
}

// The sandboxed decompressor's exports (wasm_host.Decoder)
class Decoder {
  constructor(runtime, inSize = 256 * 1024, outSize = 1024 * 1024) {
    this.runtime = runtime;
    this.f = runtime.call("wpigz_inflater_new", inSize, outSize) >>> 0;
    if (this.f === 0) throw new Error("not enough wasm memory for a decompressor");
    this.inAddress = runtime.call("wpigz_inflater_in", this.f) >>> 0;
    this.outAddress = runtime.call("wpigz_inflater_out", this.f) >>> 0;
    this.inSize = inSize;
  }
  get input() { return this.runtime.view(this.inAddress, this.inSize); }
  close() {
    if (this.f) this.runtime.call("wpigz_inflater_free", this.f);
    this.f = 0;
  }
  startInflate(checkKind) {
    if (this.runtime.call("wpigz_inflate_reset", this.f, checkKind) < 0) throw new Error("cannot reset the inflater");
  }
  startLzw(flagsByte) {
    return this.runtime.call("wpigz_lzw_reset", this.f, flagsByte) < 0 ? this.message() : null;
  }
  feed(length) { this.runtime.call("wpigz_inflater_feed", this.f, length); }
  step(atEof = false) {
    const state = this.runtime.call("wpigz_inflater_step", this.f, atEof ? 1 : 0);
    const produced = this.runtime.call("wpigz_inflater_out_len", this.f) >>> 0;
    return [state, this.runtime.view(this.outAddress, produced)];
  }
  unused() { return this.runtime.call("wpigz_inflater_avail_in", this.f) >>> 0; }
  check() { return this.runtime.call("wpigz_inflater_check", this.f) >>> 0; }
  message() {
    const bytes = this.runtime.view(this.runtime.call("wpigz_inflater_msg", this.f), 128).slice();
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  }
}

// One raw deflate stream into sink: {check, produced, compressed}; what follows it is given
// back to source.
async function inflate(source, decoder, checkKind, sink) {
  decoder.startInflate(checkKind);
  const start = source.consumed;
  let fed = 0, produced = 0;
  for (;;) {
    const [state, out] = decoder.step();
    if (out.length) {
      produced += out.length;
      sink(out);
    }
    if (state === STEP_END) {
      const left = decoder.unused();
      if (left) source.unread(decoder.input.slice(fed - left, fed));
      return { check: decoder.check(), produced, compressed: source.consumed - start };
    }
    if (state === STEP_ERROR) throw new CorruptInput(`corrupted -- invalid deflate data (${decoder.message()})`);
    if (!out.length && decoder.unused() === 0) {
      fed = await source.readInto(decoder.input);
      if (fed === 0) throw new CorruptInput("corrupted -- incomplete deflate data");
      decoder.feed(fed);
    }
  }
}

const u16le = (b, i) => b[i] | (b[i + 1] << 8);
const u32le = (b, i) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
const u32be = (b, i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

async function gzipHeaderFields(source) {
  const fixed = await source.read(10);
  const cut = "corrupted -- unexpected end of file in the gzip header";
  if (fixed.length < 10) throw new CorruptInput(cut);
  const method = fixed[2], flags = fixed[3], mtime = u32le(fixed, 4);
  if (method !== 8) throw new CorruptInput(`unknown compression method ${method}`);
  if (flags & 0xe0) throw new CorruptInput("corrupted -- reserved gzip header flags set");
  let header = fixed;
  if (flags & 0x04) {                                   // FEXTRA
    const size = await source.read(2);
    if (size.length < 2) throw new CorruptInput(cut);
    const extra = await source.read(u16le(size, 0));
    if (extra.length < u16le(size, 0)) throw new CorruptInput(cut);
    header = concat(concat(header, size), extra);
  }
  let name = null;
  if (flags & 0x08) {                                   // FNAME
    name = await source.readUntilNul("gzip header");
    header = concat(concat(header, name), new Uint8Array(1));
  }
  if (flags & 0x10) {                                   // FCOMMENT
    const comment = await source.readUntilNul("gzip header");
    header = concat(concat(header, comment), new Uint8Array(1));
  }
  if (flags & 0x02) {                                   // FHCRC
    const stored = await source.read(2);
    if (stored.length < 2) throw new CorruptInput(cut);
    if (u16le(stored, 0) !== (crc32(header) & 0xffff)) throw new CorruptInput("corrupt: header crc error");
  }
  return { name, mtime };
}

const allZero = (bytes) => bytes.every((b) => b === 0);

// After a gzip member: true if another member follows; otherwise consume the rest, warning
// about anything but zero bytes (GNU gzip's rules, as decode/sequential.py)
async function trailing(source, decoded) {
  const head = await source.peek(2);
  if (!head.length) return false;
  if (head[0] === 0x1f && (head.length === 1 || head[1] === 0x8b)) return true;
  return skipRest(source, decoded);
}

async function skipRest(source, decoded) {
  for (;;) {
    const chunk = await source.read(65536);
    if (!chunk.length) return false;
    if (!allZero(chunk)) {
      decoded.warnings.push("decompression OK, trailing garbage ignored");
      return false;
    }
  }
}

async function gzipMembers(source, decoder, decoded, sink) {
  let first = true;
  for (;;) {
    const magic = await source.peek(2);
    if (magic.length < 2 || magic[0] !== GZIP_MAGIC[0] || magic[1] !== GZIP_MAGIC[1])
      throw new CorruptInput("corrupted -- unexpected end of file");     // a further member cut short
    const { name, mtime } = await gzipHeaderFields(source);
    if (first) {
      decoded.name = name;
      decoded.mtime = mtime;
      first = false;
    }
    const { check, produced, compressed } = await inflate(source, decoder, DECODE_CHECK_CRC32, sink);
    const trailer = await source.read(8);
    if (trailer.length < 8) throw new CorruptInput("corrupted -- missing trailer");
    if (u32le(trailer, 0) !== check) throw new CorruptInput("corrupted -- crc32 mismatch");
    if (u32le(trailer, 4) !== produced % 2 ** 32) throw new CorruptInput("corrupted -- length mismatch");
    decoded.members.push({ method: "gzip", compressed, original: produced, check });
    if (!await trailing(source, decoded)) return;
  }
}

async function zlibStream(source, decoder, decoded, sink) {
  await source.read(2);
  const { check, produced, compressed } = await inflate(source, decoder, DECODE_CHECK_ADLER32, sink);
  const trailer = await source.read(4);
  if (trailer.length < 4) throw new CorruptInput("corrupted -- missing trailer");
  if (u32be(trailer, 0) !== check) throw new CorruptInput("corrupted -- adler32 mismatch");
  decoded.members.push({ method: "zlib", compressed, original: produced, check });
  await skipRest(source, decoded);                       // a zlib stream is alone in its file
}

async function zipEntry(source, decoder, decoded, sink) {
  const fixed = await source.read(30);
  if (fixed.length < 30) throw new Unrecognized("unrecognized format");
  const flags = u16le(fixed, 6), method = u16le(fixed, 8);
  let crc = u32le(fixed, 14), csize = u32le(fixed, 18), usize = u32le(fixed, 22);
  const nameLength = u16le(fixed, 26), extraLength = u16le(fixed, 28);
  if (flags & 0xf7f0) throw new Unrecognized("unrecognized format");
  const name = await source.read(nameLength), extra = await source.read(extraLength);
  if (name.length < nameLength || extra.length < extraLength)
    throw new CorruptInput("corrupted entry -- unexpected end of file in the zip header");
  if (flags & 1 || method !== 8) throw new CorruptInput(`unknown compression method ${method}`);
  decoded.name = name;
  const { check, produced, compressed } = await inflate(source, decoder, DECODE_CHECK_CRC32, sink);
  if (flags & 8) {                                       // data descriptor, signature optional
    let head = await source.read(4);
    if (head.length === 4 && u32le(head, 0) === 0x08074b50) head = await source.read(4);
    if (head.length < 4) throw new CorruptInput("corrupted entry -- missing trailer");
    crc = u32le(head, 0);
    const sizes = await source.peek(16);
    if (sizes.length >= 8 && u32le(sizes, 0) === compressed % 2 ** 32 && u32le(sizes, 4) === produced % 2 ** 32) {
      await source.read(8);
      csize = compressed, usize = produced;
    } else if (sizes.length === 16) {
      await source.read(16);
      // Zip64 sizes: the low words are what the checks below compare
      csize = u32le(sizes, 0) + u32le(sizes, 4) * 2 ** 32;
      usize = u32le(sizes, 8) + u32le(sizes, 12) * 2 ** 32;
    } else {
      throw new CorruptInput("corrupted entry -- missing trailer");
    }
  }
  if (crc !== check) throw new CorruptInput("corrupted entry -- crc32 mismatch");
  if (usize % 2 ** 32 !== produced % 2 ** 32 || (flags & 8 && csize % 2 ** 32 !== compressed % 2 ** 32))
    throw new CorruptInput("corrupted entry -- length mismatch");
  decoded.members.push({ method: "zip", compressed, original: produced, check });
  const next = await source.peek(4);
  if (next.length === 4 && u32le(next, 0) === 0x04034b50) decoded.warnings.push("entries after the first were ignored");
}

async function lzwStream(source, decoder, decoded, sink) {
  const header = await source.read(3);
  if (header.length < 3) throw new CorruptInput("lzw premature end");
  const problem = decoder.startLzw(header[2]);
  if (problem) throw new CorruptInput(problem);
  const start = source.consumed;
  let produced = 0, atEof = false;
  for (;;) {
    const [state, out] = decoder.step(atEof);
    if (out.length) {
      produced += out.length;
      sink(out);
    }
    if (state === STEP_ERROR) throw new CorruptInput(decoder.message());
    if (state === STEP_END) break;
    if (!out.length && decoder.unused() === 0) {
      if (atEof) break;
      const fed = await source.readInto(decoder.input);
      atEof = fed === 0;
      decoder.feed(fed);
    }
  }
  decoded.members.push({ method: "lzw", compressed: source.consumed - start, original: produced, check: null });
}

// The format of an input from its first (up to 4) bytes, or null (sequential.detect)
function detect(head) {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x9d) return "lzw";
  if (head.length >= 4 && u32le(head, 0) === 0x04034b50) return "zip";
  if (head.length >= 4 && u32le(head, 0) === 0xfd2fb528) return "zstd";
  if (head.length >= 2) {
    const value = (head[0] << 8) | head[1];
    if (value % 31 === 0 && (value & 0x8f20) === 0x0800) return "zlib";
  }
  return null;
}

// Decode all of source into sink (called with views into wasm memory, valid until the next
// call); what was found goes into decoded. Throws Unrecognized or CorruptInput.
async function decode(source, runtime, decoded, sink) {
  const head = await source.peek(4);
  if (!head.length) throw new Unrecognized("empty");
  const form = detect(head);
  if (form === null) throw new Unrecognized("unrecognized format");
  if (form === "zstd") throw new Unrecognized("is zstd, which the page does not decode (use the command)");
  decoded.form = form;
  const decoder = new Decoder(runtime);
  try {
    const read = { gzip: gzipMembers, zlib: zlibStream, zip: zipEntry, lzw: lzwStream }[form];
    await read(source, decoder, decoded, sink);
  } finally {
    decoder.close();
  }
}
