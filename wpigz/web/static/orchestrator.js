// orchestrator.js -- the dedicated Worker that runs a compression or decompression: what
// wpigz/sandbox/wasm_host.py (Runtime, DeflatePool, Decoder) and wpigz/encode/pipeline.py (DeflateStream)
// do in Python, speaking to the same zlib.wasm through the same exports in the same order.
//
// The page's own thread never blocks: it hands this Worker a File or a URL and gets
// progress messages and, at the end, the result as a Blob. This Worker may block: it sleeps
// inside wpigz_wait (memory.atomic.wait32) while the engine's threads -- a pool of
// thread.js Workers made before the run starts -- compress the blocks. Input is read in
// chunks (File.slice or a fetch stream) straight into the ring's slots, so memory is
// bounded by the ring; output goes into Blobs, which the browser may keep on disk.
"use strict";
importScripts("decoding.js");   // the container formats (gzip, zlib, zip, compress), as decode/sequential.py

// as in wasm/engine.c and wpigz/sandbox/wasm_host.py
const JOB_LAST = 1;
const CHECK_CRC32 = 0, CHECK_ADLER32 = 1;
const STATUS_NO_ROOM = -100;
const DICT = 32768;
const LOOKAHEAD = 1;
const WAIT_SLICE_MS = 100;
// the board shared with thread.js
const BOARD_WORDS = 4, STATE = 0, TID = 1, ARG = 2;
const STARTING = 0, IDLE = 1, ASSIGNED = 2, QUIT = 3;
const MAX_THREADS = 256;
const READ_CHUNK = 4 << 20;     // bytes asked of a File per read
// the layouts this Worker can assemble (wpigz/sandbox/engines.py): "stream" is pigz's, blocks that
// simply concatenate into one deflate stream; "members" is one indexed gzip member per block
// (the libdeflate engine, and BGZF), framed as wpigz/encode/framing.py frames them
const LAYOUTS = ["stream", "members"];

class EngineError extends Error {}

// ---- the module's memory import: its limits are read from the binary (the JS API has no
// type reflection), so the memory matches whatever the module was built with
function readLeb(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at.pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
}

function memoryImportLimits(bytes) {
  const at = { pos: 8 };                          // after the magic and version
  const text = (n) => new TextDecoder().decode(bytes.subarray(at.pos, at.pos += n));
  const limits = () => {
    const flags = bytes[at.pos++];
    const initial = readLeb(bytes, at);
    const maximum = flags & 1 ? readLeb(bytes, at) : undefined;
    return { initial, maximum, shared: (flags & 2) !== 0 };
  };
  while (at.pos < bytes.length) {
    const id = bytes[at.pos++], size = readLeb(bytes, at), end = at.pos + size;
    if (id === 2) {                               // the import section
      for (let count = readLeb(bytes, at); count > 0; count--) {
        const module = text(readLeb(bytes, at)), name = text(readLeb(bytes, at));
        const kind = bytes[at.pos++];
        if (kind === 0) readLeb(bytes, at);                       // function: type index
        else if (kind === 1) { at.pos++; limits(); }              // table
        else if (kind === 2) {
          const found = limits();
          if (module === "env" && name === "memory") return found;
        } else if (kind === 3) at.pos += 2;                       // global
        else throw new EngineError(`unknown import kind ${kind}`);
      }
    }
    at.pos = end;
  }
  throw new EngineError("the module imports no env.memory");
}

// ---- Runtime: the shared memory, the main instance, the pool of thread Workers
class Runtime {
  static async create(engine) {
    // the engine table comes from the server (wpigz/sandbox/engines.py), not from a copy here
    const table = await (await fetch("engines.json")).json();
    const usable = Object.keys(table.engines).filter((name) => LAYOUTS.includes(table.engines[name].layout));
    if (!usable.includes(engine)) throw new SettingsError(`engine must be one of ${usable.join(", ")}, not ${engine}`);
    const file = table.engines[engine].module;
    const response = await fetch(file);
    if (!response.ok) throw new EngineError(`cannot load ${file}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const module = await WebAssembly.compile(bytes);
    const { initial, maximum } = memoryImportLimits(bytes);
    const runtime = new Runtime(module, new WebAssembly.Memory({ initial, maximum, shared: true }));
    runtime.info = table.engines[engine];     // the engine's row, as wasm_host.Runtime.info
    return runtime;
  }

  constructor(module, memory) {
    this.module = module;
    this.memory = memory;
    this.board = new Int32Array(new SharedArrayBuffer(4 * BOARD_WORDS * MAX_THREADS));
    this.threads = [];          // {worker, base, ready}
    this.started = [];          // thread entries assigned since the last takeStarted
    this.errors = [];           // worker traps, as wasi_threads.ThreadSpawner.first_error
    this.nextTid = 1;
    this.lastRefusal = null;
    const imports = {};
    const provided = { "env.memory": memory, "wasi.thread-spawn": (arg) => this.threadSpawn(arg) };
    for (const item of WebAssembly.Module.imports(module)) {
      const key = `${item.module}.${item.name}`;
      if (!(key in provided)) throw new EngineError(`unexpected import ${key}`);
      (imports[item.module] = imports[item.module] || {})[item.name] = provided[key];
    }
    this.exports = new WebAssembly.Instance(module, imports).exports;
    this.call("_initialize");
  }

  call(name, ...args) {
    try {
      return this.exports[name](...args);
    } catch (error) {
      throw new EngineError(`${name} trapped: ${error.message || error}`);
    }
  }

  // [address, address + length) of the shared memory, no copy (its buffer is re-read: the
  // memory may have grown)
  view(address, length) {
    return new Uint8Array(this.memory.buffer, address >>> 0, length);
  }

  // Make sure n thread Workers exist and run, before anything blocks: thread-spawn below
  // only hands work to Workers that already said they are ready.
  async ensureThreads(n) {
    if (n > MAX_THREADS) throw new EngineError(`at most ${MAX_THREADS} threads`);
    const waiting = [];
    while (this.threads.length < n) {
      const index = this.threads.length, base = index * BOARD_WORDS;
      const worker = new Worker("thread.js");
      const entry = { worker, base, index };
      waiting.push(new Promise((resolve, reject) => {
        worker.onmessage = (event) => {
          const message = event.data;
          if (message.type === "ready") resolve();
          else if (message.type === "failed") reject(new EngineError(`cannot instantiate a worker: ${message.message}`));
          else if (message.type === "trap") this.errors.push(new EngineError(`worker thread ${message.tid} trapped: ${message.message}`));
        };
        worker.onerror = (event) => reject(new EngineError(`thread worker failed: ${event.message}`));
      }));
      this.threads.push(entry);
      worker.postMessage({ module: this.module, memory: this.memory, board: this.board, index });
    }
    await Promise.all(waiting);
  }

  // wasi thread-spawn: hand start_arg to an idle, running thread Worker; never throws
  threadSpawn(startArg) {
    for (const entry of this.threads) {
      if (Atomics.load(this.board, entry.base + STATE) !== IDLE) continue;
      const tid = this.nextTid++;
      Atomics.store(this.board, entry.base + TID, tid);
      Atomics.store(this.board, entry.base + ARG, startArg);
      Atomics.store(this.board, entry.base + STATE, ASSIGNED);
      Atomics.notify(this.board, entry.base + STATE);
      this.started.push(entry);
      return tid;
    }
    this.lastRefusal = `no idle thread worker (${this.threads.length} made)`;
    return -1;
  }

  // end the idle thread Workers of a runtime that is no longer used (between runs: none is busy)
  retire() {
    for (const entry of this.threads) {
      Atomics.store(this.board, entry.base + STATE, QUIT);
      Atomics.notify(this.board, entry.base + STATE);
      entry.worker.terminate();
    }
    this.threads = [];
  }

  takeStarted() {
    const started = this.started;
    this.started = [];
    return started;
  }

  // join: wait (blocking this Worker) until the thread Worker left wasi_thread_start
  join(entry) {
    while (Atomics.load(this.board, entry.base + STATE) === ASSIGNED)
      Atomics.wait(this.board, entry.base + STATE, ASSIGNED);
  }

  crc32Combine(a, b, lengthB) { return this.call("wpigz_crc32_combine", a, b, lengthB) >>> 0; }
  adler32Combine(a, b, lengthB) { return this.call("wpigz_adler32_combine", a, b, lengthB) >>> 0; }

  zlibVersion() {
    const bytes = this.view(this.call("wpigz_zlib_version"), 64);
    return new TextDecoder().decode(bytes.slice(0, bytes.indexOf(0)));
  }
}

// ---- DeflatePool: one compression run's ring of slots and its workers (wasm_host.DeflatePool)
class DeflatePool {
  constructor(runtime, { threads, blocksize, level, strategy = 0, independent = false, checkKind }) {
    this.runtime = runtime;
    this.threads = threads;
    this.blocksize = blocksize;
    // 2 x threads jobs in flight, plus the block being read and the one held back until we
    // know whether it is the last: the ring is also what bounds memory
    this.nslots = 2 * threads + 2;
    this.ctl = runtime.call("wpigz_new", threads, this.nslots, blocksize,
                            runtime.info.library_levels[level],   // the engine's level mapping
                            strategy, independent ? 1 : 0, checkKind) >>> 0;
    if (this.ctl === 0)
      throw new EngineError(`not enough wasm memory for ${threads} threads with ${blocksize / 1024} KiB blocks`);
    this.workers = [];
    this.inputs = [], this.outputs = [];
    for (let i = 0; i < this.nslots; i++) {
      this.inputs.push(runtime.call("wpigz_slot_in", this.ctl, i) >>> 0);
      this.outputs.push(runtime.call("wpigz_slot_out", this.ctl, i) >>> 0);
    }
    let started;
    try {
      started = runtime.call("wpigz_start", this.ctl);
    } finally {
      this.workers = runtime.takeStarted();
    }
    if (started < 0) {
      const message = `cannot start worker thread ${this.workers.length + 1} of ${threads}: ` +
                      (runtime.lastRefusal || "thread-spawn failed");
      this.close();
      throw new EngineError(message);
    }
  }

  // slot seq's data area: blocksize bytes plus LOOKAHEAD bytes of room
  inputView(seq) {
    return this.runtime.view(this.inputs[seq % this.nslots], this.blocksize + LOOKAHEAD);
  }

  submit(seq, length, last) {
    this.runtime.call("wpigz_submit", this.ctl, seq, length, last ? JOB_LAST : 0, 0);
  }

  // block (this Worker only) until job seq is compressed: {out, check}
  wait(seq) {
    for (;;) {
      const state = this.runtime.call("wpigz_wait", this.ctl, seq, WAIT_SLICE_MS);
      if (state === 1) break;
      if (state < 0) throw this.runtime.errors[0] || new EngineError("every worker thread has exited");
    }
    const status = this.runtime.call("wpigz_status", this.ctl, seq);
    if (status !== 0) {
      const what = status === STATUS_NO_ROOM ? "output larger than its buffer" : `zlib error ${status}`;
      throw new EngineError(`deflate failed on block ${seq}: ${what}`);
    }
    const length = this.runtime.call("wpigz_out_len", this.ctl, seq);
    const check = this.runtime.call("wpigz_check", this.ctl, seq) >>> 0;
    return { out: this.runtime.view(this.outputs[seq % this.nslots], length), check };
  }

  close() {
    if (this.ctl === 0) return;
    this.runtime.call("wpigz_stop", this.ctl);
    for (const entry of this.workers) this.runtime.join(entry);
    this.workers = [];
    this.runtime.call("wpigz_free", this.ctl);
    this.ctl = 0;
  }
}

// ---- DeflateStream: bytes in, one raw deflate body out to sink, in order (pipeline.py)
class DeflateStream {
  constructor(runtime, sink, { level, blocksize, threads, check = "crc32", whole = false }, onBlock, framer = null) {
    this.runtime = runtime;
    this.sink = sink;
    this.framer = framer;       // layouts "members" and "bgzf": wrap each job's output (gzipFraming)
    // every layout but the single stream asks for whole jobs, each independent and last
    // (engines.whole_jobs): the module then ends each one as a complete deflate stream
    this.whole = whole;
    this.blocksize = blocksize;
    this.onBlock = onBlock;
    this.adler = check === "adler32";
    this.check = this.adler ? 1 : 0;
    this.length = 0;            // input bytes written out so far
    this.compressed = 0;        // body bytes written out so far
    this.pool = new DeflatePool(runtime, { threads, blocksize, level, independent: whole,
                                           checkKind: this.adler ? CHECK_ADLER32 : CHECK_CRC32 });
    this.lengths = new Array(this.pool.nslots).fill(0);
    this.nextRead = 0;          // seq of the job being filled
    this.nextWrite = 0;         // seq of the next job to write out
    this.fill = 0;              // bytes in the slot being filled
    this.finished = false;
  }

  // where the next input bytes go (straight into wasm memory); report them with commit
  buffer() {
    this.freeSlot();
    return this.pool.inputView(this.nextRead).subarray(this.fill, this.blocksize + 1);
  }

  commit(n) {
    this.fill += n;
    if (this.fill > this.blocksize) this.cut(false);
  }

  finish() {
    while (!this.finished) this.cut(true);
    while (this.nextWrite < this.nextRead) this.writeOldest();
    return { check: this.check, length: this.length, compressed: this.compressed };
  }

  close() { this.pool.close(); }

  freeSlot() {
    while (this.nextRead - this.nextWrite >= this.pool.nslots) this.writeOldest();
  }

  // publish the job in the slot being filled and move the bytes past it to the next slot
  cut(atEnd) {
    const seq = this.nextRead, n = this.fill, size = this.blocksize;
    const length = Math.min(n, size), last = n <= size;
    this.pool.submit(seq, length, last || this.whole);
    this.lengths[seq % this.pool.nslots] = length;
    this.nextRead += 1;
    this.finished = last;
    this.fill = 0;
    const carry = n - length;
    if (carry) {
      this.freeSlot();
      this.pool.inputView(this.nextRead).set(this.pool.inputView(seq).subarray(length, n));
      this.fill = carry;
    }
  }

  writeOldest() {
    const seq = this.nextWrite;
    const { out, check } = this.pool.wait(seq);
    const jobLength = this.lengths[seq % this.pool.nslots];
    if (this.framer) {
      const [before, after] = this.framer(out.length, check, jobLength);
      this.sink.write(before);
      this.sink.write(out);
      this.sink.write(after);
    } else {
      this.sink.write(out);
    }
    this.check = this.adler ? this.runtime.adler32Combine(this.check, check, jobLength)
                            : this.runtime.crc32Combine(this.check, check, jobLength);
    this.length += jobLength;
    this.compressed += out.length;
    this.nextWrite += 1;
    if (this.onBlock) this.onBlock(jobLength, out.length);
  }
}

// ---- framing (wpigz/encode/framing.py): pigz's gzip header and trailer
function gzipXfl(level) { return level >= 9 ? 2 : level === 1 ? 4 : 0; }

function gzipHeader(level, mtime, name) {
  const nameBytes = name === null ? null : new TextEncoder().encode(name);
  const header = new Uint8Array(10 + (nameBytes ? nameBytes.length + 1 : 0));
  header.set([0x1f, 0x8b, 8, nameBytes ? 0x08 : 0]);
  new DataView(header.buffer).setUint32(4, mtime >>> 0, true);
  header[8] = gzipXfl(level);
  header[9] = 3;                                  // OS: Unix, as pigz
  if (nameBytes) header.set(nameBytes, 10);       // NUL-terminated: the last byte stays 0
  return header;
}

function gzipTrailer(crc, length) {
  const trailer = new Uint8Array(8), view = new DataView(trailer.buffer);
  view.setUint32(0, crc >>> 0, true);
  view.setUint32(4, length % 2 ** 32, true);
  return trailer;
}

// layout "members" (framing.member_header): a header whose extra field is only the IG subfield,
// the whole member's size; the first member carries the name, every member the time
function memberHeader(level, mtime, body, name) {
  const nameBytes = name === null ? null : new TextEncoder().encode(name);
  const header = new Uint8Array(20 + (nameBytes ? nameBytes.length + 1 : 0));
  const view = new DataView(header.buffer);
  header.set([0x1f, 0x8b, 8, 0x04 | (nameBytes ? 0x08 : 0)]);
  view.setUint32(4, mtime >>> 0, true);
  header[8] = gzipXfl(level);
  header[9] = 3;
  header.set([8, 0, 0x49, 0x47, 4, 0], 10);      // XLEN 8; SI1 'I', SI2 'G', LEN 4
  const size = header.length + body + 8;
  if (size >= 2 ** 32) throw new EngineError(`a gzip member of ${size} bytes is too large for its size subfield`);
  view.setUint32(16, size, true);
  if (nameBytes) header.set(nameBytes, 20);
  return header;
}

// BGZF (framing.BgzfFramer): bgzip's header, only the BC subfield (the member's size minus one)
const BGZF_BLOCK = 0xFF00;        // input bytes per member, as bgzip
const BGZF_EOF = new Uint8Array([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43, 2, 0, 0x1b, 0,
                                 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
function bgzfHeader(body) {
  const header = new Uint8Array([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43, 2, 0, 0, 0]);
  const size = header.length + body + 8;
  if (size > 1 << 16) throw new EngineError(`a BGZF member of ${size} bytes is larger than 64 KiB`);
  new DataView(header.buffer).setUint16(16, size - 1, true);
  return header;
}

// what goes around the body for a layout (framing.gzip_framing): header before it, a per-job
// framer (null: one stream, ended by the CRC-32/ISIZE trailer), and what follows the last member
function gzipFraming(layout, level, mtime, name) {
  if (layout === "bgzf")
    return { header: new Uint8Array(0), job: (body, crc, length) => [bgzfHeader(body), gzipTrailer(crc, length)],
             end: BGZF_EOF };
  if (layout === "members") {
    let members = 0;
    return { header: new Uint8Array(0), end: new Uint8Array(0),
             job: (body, crc, length) => [memberHeader(level, mtime, body, members++ === 0 ? name : null),
                                          gzipTrailer(crc, length)] };
  }
  return { header: gzipHeader(level, mtime, name), job: null, end: null };
}

// ---- output: copies out of wasm memory into Blobs (which the browser may keep on disk)
class BlobSink {
  constructor() { this.parts = []; this.pending = []; this.pendingBytes = 0; this.bytes = 0; }
  write(view) {
    this.pending.push(view.slice());              // a copy: the slot is reused
    this.pendingBytes += view.length;
    this.bytes += view.length;
    if (this.pendingBytes >= 16 << 20) this.flush();
  }
  flush() {
    if (this.pending.length) this.parts.push(new Blob(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }
  blob(type) { this.flush(); return new Blob(this.parts, { type }); }
}

// ---- input, in chunks: a File (or any Blob) by slices, one read ahead; a URL by its stream
class BlobChunks {
  constructor(blob) { this.blob = blob; this.pos = 0; this.ahead = null; this.size = blob.size; }
  start() {
    const end = Math.min(this.size, this.pos + READ_CHUNK);
    this.ahead = this.pos < end ? this.blob.slice(this.pos, end).arrayBuffer() : null;
    this.pos = end;
  }
  async next() {
    if (this.ahead === null && this.pos === 0 && this.size > 0) this.start();
    if (this.ahead === null) return null;
    const chunk = new Uint8Array(await this.ahead);
    this.start();                                 // the browser reads on while we compress
    return chunk;
  }
}

class StreamChunks {
  constructor(response) {
    this.reader = response.body.getReader();
    const length = Number(response.headers.get("Content-Length"));
    this.size = Number.isFinite(length) && response.headers.has("Content-Length") ? length : null;
  }
  async next() {
    for (;;) {
      const { value, done } = await this.reader.read();
      if (done) return null;
      if (value.length) return value;
    }
  }
}

async function openInput(job) {
  if (job.file) return new BlobChunks(job.file);
  const response = await fetch(job.url);
  if (!response.ok) throw new InputError(`${job.url}: HTTP ${response.status} ${response.statusText}`);
  return new StreamChunks(response);
}

class InputError extends Error {}

// ---- the two operations
let runtime = null;
let runtimeEngine = null;

async function theRuntime(engine, threads) {
  if (runtime === null || runtimeEngine !== engine) {
    if (runtime !== null) runtime.retire();
    runtime = await Runtime.create(engine);
    runtimeEngine = engine;
  }
  await runtime.ensureThreads(threads);
  return runtime;
}

function progressReporter(total) {
  let last = 0;
  return (read, written, force) => {
    const now = performance.now();
    if (!force && now - last < 100) return;
    last = now;
    postMessage({ type: "progress", read, written, total });
  };
}

// the limits wpigz's options enforce (pipeline.DeflateOptions); blocksize null: the engine's default
function checkSettings(job) {
  if (!(Number.isInteger(job.level) && job.level >= 0 && job.level <= 9))
    throw new SettingsError(`level must be 0..9, not ${job.level}`);
  if (job.blocksize != null &&
      !(Number.isInteger(job.blocksize) && job.blocksize >= 32 * 1024 && job.blocksize <= 512 * 1024 * 1024))
    throw new SettingsError(`block size must be 32 KiB .. 512 MiB, not ${job.blocksize / 1024} KiB`);
  if (job.bgzf && job.blocksize != null)
    throw new SettingsError("BGZF has its own block size (64 KiB members): no block size with it");
  if (!(Number.isInteger(job.threads) && job.threads >= 1 && job.threads <= MAX_THREADS))
    throw new SettingsError(`threads must be 1..${MAX_THREADS}, not ${job.threads}`);
}

class SettingsError extends Error {}

async function compress(job) {
  checkSettings(job);
  const setup = performance.now();
  const rt = await theRuntime(job.engine, job.threads);
  // the engine's own default block size (wpigz/sandbox/engines.py) when none is given, as the command's
  const blocksize = job.blocksize != null ? job.blocksize : job.bgzf ? BGZF_BLOCK : rt.info.blocksize;
  job = { ...job, blocksize };
  if (job.bgzf && !rt.info.layouts.includes("bgzf"))     // as options.py refuses it
    throw new SettingsError(`BGZF needs the libdeflate engine, not ${job.engine}`);
  const input = await openInput(job);
  const started = performance.now();
  const sink = new BlobSink();
  const report = progressReporter(input.size);
  let read = 0;
  const layout = job.bgzf ? "bgzf" : rt.info.layout;
  const framing = gzipFraming(layout, job.level, job.mtime, job.name);
  sink.write(framing.header);
  const stream = new DeflateStream(rt, sink, { level: job.level, blocksize: job.blocksize, threads: job.threads,
                                               whole: layout !== "stream" },
                                   () => report(read, sink.bytes, false), framing.job);
  let body;
  try {
    let chunk = null, at = 0;
    for (;;) {
      if (chunk === null || at === chunk.length) {
        chunk = await input.next();
        at = 0;
        if (chunk === null) break;
      }
      const room = stream.buffer();
      const n = Math.min(room.length, chunk.length - at);
      room.set(chunk.subarray(at, at + n));
      at += n;
      read += n;
      stream.commit(n);
    }
    body = stream.finish();
  } finally {
    stream.close();
  }
  sink.write(framing.job ? framing.end : gzipTrailer(body.check, body.length));
  report(read, sink.bytes, true);
  return { blob: sink.blob("application/gzip"), read, written: sink.bytes, ms: performance.now() - started,
           setupMs: started - setup, warnings: [] };
}

async function decompress(job) {
  const setup = performance.now();
  const rt = await theRuntime(job.engine, 0);
  const input = await openInput(job);
  const started = performance.now();
  const sink = new BlobSink();
  const report = progressReporter(input.size);
  const source = new Source(input);
  const decoded = new Decoded();
  await decode(source, rt, decoded, (piece) => {
    sink.write(piece);
    report(source.consumed, sink.bytes, false);
  });
  report(source.consumed, sink.bytes, true);
  return { blob: sink.blob("application/octet-stream"), read: source.consumed, written: sink.bytes,
           ms: performance.now() - started, setupMs: started - setup, warnings: decoded.warnings,
           form: decoded.form };
}

// the page sends one job at a time
self.onmessage = async (event) => {
  const job = event.data;
  try {
    const result = job.op === "decompress" ? await decompress(job) : await compress(job);
    postMessage({ type: "done", ...result, zlib: runtime.zlibVersion() });
  } catch (error) {
    // the command's wording: "wpigz: skipping: NAME: reason" for damaged input (cli.py)
    let message;
    if (error instanceof CorruptInput) message = `wpigz: skipping: ${job.label}: ${error.message}`;
    else if (error instanceof Unrecognized) message = `wpigz: skipping: ${job.label} ${error.message}`;
    else if (error instanceof InputError || error instanceof SettingsError) message = `wpigz: ${error.message}`;
    else message = `wpigz: ${job.label}: ${error.message || error}`;
    postMessage({ type: "error", message });
  }
};
