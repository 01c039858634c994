/* engine.h -- the seam between the ring (engine.c) and a compressor (deflate_*.c).

   engine.c owns everything every engine shares: the ring of job slots in shared memory, the
   worker threads and their stacks and arenas, the futexes, the host's exports. What turns one
   job's input into its output is a compressor, chosen at build time (wasm/build.py links
   exactly one deflate_*.c into each module). A compressor implements the three functions at
   the bottom of this file; it may keep per-worker state, which it allocates from the worker's
   arena (worker_alloc), because wasi-libc's malloc is not safe to call from worker threads. */

#ifndef WPIGZ_ENGINE_H
#define WPIGZ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(name)))

#define DICT 32768                      /* deflate's window: the history a block is primed with */
#define WORKER_STACK (256 * 1024)       /* per-worker C stack */
#ifndef WORKER_ARENA                    /* per-worker heap for the compressor's state: zlib's */
#define WORKER_ARENA (320 * 1024)       /* deflate needs about 262 KiB; other engines set their own */
#endif                                  /* size in build.py */
#ifndef WORKER_ARENA_BYTES              /* the arena for blocks of block_size bytes: a */
#define WORKER_ARENA_BYTES(block_size) ((uint64_t)WORKER_ARENA)   /* compressor whose memory */
#endif                                  /* grows with the block (zopfli) defines it in build.py */

/* job flags, set by the host at submission */
#define JOB_LAST 1                      /* final block of the stream: finish it */
#define JOB_TRAP 2                      /* test hook: the worker traps on this job */
#define JOB_RSYNC 4                     /* -R: also end a block after every rolling-hash hit */
#define JOB_DECODE 8                    /* decode, not compress: a gzip member's deflate body
                                           (only the libdeflate module; deflate_libdeflate.c) */
#define JOB_FIRST 16                    /* first block of a stream: no history, even when an
                                           earlier stream's job went before it in the ring */

#define LOOKAHEAD 1                     /* room past a block: the host reads one byte ahead to
                                           learn whether the input goes on */

/* -R (rsyncable), as pigz 2.6: a 12-bit rolling hash of the input; a byte after which it
   equals RSYNC_HIT ends a block. */
#define RSYNC_MASK 0xfff
#define RSYNC_HIT 0x7ff

/* check kinds */
#define CHECK_CRC32 0                   /* gzip and zip */
#define CHECK_ADLER32 1                 /* zlib (-z) */

/* job status, written by the worker */
#define STATUS_OK 0
#define STATUS_NO_ROOM (-100)           /* output did not fit the slot: a bug, never seen */
#define STATUS_DECODE_BAD (-101)        /* JOB_DECODE: not valid deflate data, or too much output */
#define STATUS_DECODE_LENGTH (-102)     /* JOB_DECODE: the body did not end where the input ends,
                                           or gave other than the expected number of bytes */

struct slot {
    int32_t ready;          /* seq + 1 once published by the main thread */
    int32_t done;           /* seq + 1 once compressed by a worker */
    int32_t len;            /* input bytes in this job */
    int32_t flags;          /* JOB_* */
    int32_t hist;           /* valid history bytes just before the data (<= DICT) */
    int32_t out_len;        /* compressed bytes produced */
    uint32_t check;         /* CRC-32 or Adler-32 of this job's input alone */
    uint32_t rsync_h;       /* -R: the rolling hash before the job's first byte;
                               JOB_DECODE: the number of bytes the body must decode to */
    int32_t status;         /* STATUS_OK, a library's error code, or STATUS_NO_ROOM */
    unsigned char *in;      /* DICT bytes of history area, then room for block_size bytes */
    unsigned char *out;     /* out_size bytes */
};

struct ctl;

struct worker {
    uint32_t stack_top;     /* must stay first: thread_start.s loads it from start_arg */
    struct ctl *ctl;
    unsigned char *arena;
    uint32_t arena_used;
    uint32_t arena_size;    /* WORKER_ARENA_BYTES(block_size) */
    int32_t tid;            /* from thread-spawn; <= 0 if never started */
};

struct ctl {
    int32_t submitted;      /* futex: bumped by every publication and by stop */
    int32_t completed;      /* futex: bumped by every finished job, by failures and exits */
    int32_t next_take;      /* next seq a worker claims */
    int32_t stop;           /* set once: workers exit when they see it */
    int32_t failed;         /* set by a worker (or the host on its behalf) that cannot go on */
    int32_t running;        /* workers that have started and not yet exited */
    int32_t nslots;
    int32_t nthreads;
    int32_t block_size;
    int32_t out_size;
    int32_t level;
    int32_t strategy;
    int32_t independent;
    int32_t check_kind;
    int32_t tuning[4];      /* engine-specific settings (zopfli: -I, !-O, -F, -J), set by wpigz_tune */
    uint32_t scan_h;        /* wpigz_rsync_scan's hash after the bytes it scanned */
    struct slot *slots;
    struct worker *workers;
};

/* -R: pigz's rolling hash, one byte further */
static inline uint32_t rsync_roll(uint32_t h, unsigned char byte) {
    return ((h << 1) ^ byte) & RSYNC_MASK;
}

/* ---- the worker's arena (engine.c): a bump allocator, one per worker, no locking ---- */

/* size bytes (rounded up to 16) from w's arena, or NULL when it is full. */
void *worker_alloc(struct worker *w, size_t size);

/* ---- the compressor seam: one implementation per module ---- */

/* On worker w's own thread, before its first job: set up what the compressor keeps between
   jobs. Returns that state (anything but NULL), or NULL if it cannot (the worker then
   reports a failure and exits). */
void *compressor_start(struct ctl *c, struct worker *w);

/* On worker w's thread, which owns slot s meanwhile: compress s->len bytes at s->in + DICT
   (with s->hist bytes of history just before them, unless c->independent) as c->level and
   the JOB_* flags say, into s->out (c->out_size bytes of room); set s->out_len, s->check
   (the job's CRC-32 or Adler-32, by c->check_kind) and s->status (STATUS_OK or an error).
   Traps on JOB_TRAP (the test hook). */
void compressor_job(struct ctl *c, struct worker *w, void *state, struct slot *s);

/* On worker w's thread, as it exits. */
void compressor_end(struct ctl *c, struct worker *w, void *state);

/* Besides these, a compressor's file exports wpigz_library_version, its library's version
   string for -V and -L. The check-value arithmetic the host needs to combine per-job values
   (wpigz_crc32_combine, wpigz_adler32_combine) and wpigz_zlib_version are zlib's, shared by
   every module, in inflater.c. */

#endif
