/* deflate_libdeflate.c -- the libdeflate compressor: a job is one block of pigz's single
   stream, or one whole gzip member's body.

   The compressor seam of engine.h for the libdeflate (1.14) module. As released, libdeflate
   compresses a whole buffer into a complete raw deflate stream (a final block at its end) and
   has no preset dictionary. wasm/build.py adds both at build time (libdeflate_block.c,
   wpigz_deflate_block), so a job is compressed as pigz compresses a block: primed with the
   s->hist bytes of input before it (not with -i), and ended, unless it is the last, with an
   empty stored block instead of a final block, on a byte boundary. The jobs' outputs then
   concatenate into ONE deflate stream, which the host frames as one gzip, zlib or zip entry.
   A job that is last and has no history (the whole input, -i's last block, and every job of
   the members layout, where the host marks each job last and independent) goes through
   libdeflate_deflate_compress itself: libdeflate's own bytes, one complete stream, which the
   host frames as one gzip member (a header with the member's size in an `IG` subfield; see
   wpigz/decode/members.py). A job's output depends on its input and history alone, so the output is
   the same for any thread count.

   The same workers also decode (JOB_DECODE): a job then holds one gzip member's deflate body,
   whose ISIZE the host passes in rsync_h, and the worker inflates it with libdeflate into the
   slot's output, checking that the body is consumed exactly and that exactly ISIZE bytes
   come out; the host compares the CRC-32 it reports with the member's trailer. This is how
   wpigz -d decodes indexed members in parallel.

   Memory: libdeflate allocates its (de)compressor with a global malloc hook that takes no
   context, and wasi-libc's malloc is not safe on worker threads. So each worker allocates
   its state while holding alloc_lock, with the hook pointing at that worker's arena
   (worker_alloc); the lock is held only for that one allocation at start-up. */

#include <stdint.h>
#include <string.h>
#include "engine.h"
#include "libdeflate.h"
#include "zlib.h"

/* libdeflate_block.c, compiled inside libdeflate's deflate_compress.c */
size_t wpigz_deflate_block(struct libdeflate_compressor *c, const unsigned char *in, size_t dict_nbytes,
                           size_t in_nbytes, unsigned char *out, size_t out_nbytes_avail, _Bool final);

/* ---- libdeflate's allocations, from the allocating worker's arena ---- */

static int32_t alloc_lock;              /* futex: 1 while a worker allocates */
static struct worker *alloc_worker;     /* whose arena the hook allocates from meanwhile */

static void *arena_malloc(size_t size) { return worker_alloc(alloc_worker, size); }

static void arena_free(void *p) {
    (void)p;                            /* the arena lives as long as the worker */
}

static void lock_allocator(struct worker *w) {
    while (__atomic_exchange_n(&alloc_lock, 1, __ATOMIC_SEQ_CST) != 0)
        __builtin_wasm_memory_atomic_wait32(&alloc_lock, 1, -1);
    alloc_worker = w;
    libdeflate_set_memory_allocator(arena_malloc, arena_free);
}

static void unlock_allocator(void) {
    alloc_worker = NULL;
    __atomic_store_n(&alloc_lock, 0, __ATOMIC_SEQ_CST);
    __builtin_wasm_memory_atomic_notify(&alloc_lock, 1);
}

/* pigz's level numbers to libdeflate's: 0-9 are the same; -11 (zopfli in pigz) is libdeflate's
   strongest level, 12. A pool made for decoding passes a negative level. */
static int libdeflate_level(int level) { return level == 11 ? 12 : level; }

struct ld_state {
    struct libdeflate_compressor *compressor;       /* NULL in a decoding pool */
    struct libdeflate_decompressor *decompressor;
};

void *compressor_start(struct ctl *c, struct worker *w) {
    struct ld_state *st = worker_alloc(w, sizeof(*st));
    if (st == NULL)
        return NULL;
    memset(st, 0, sizeof(*st));
    lock_allocator(w);
    if (c->level >= 0)
        st->compressor = libdeflate_alloc_compressor(libdeflate_level(c->level));
    else
        st->decompressor = libdeflate_alloc_decompressor();
    unlock_allocator();
    return st->compressor != NULL || st->decompressor != NULL ? st : NULL;
}

/* A job's CRC-32. zlib's (1.2.13, linked into this module for the inflater), not libdeflate's:
   without a carry-less multiply (wasm has none) libdeflate 1.14 falls back to slice-by-8 tables,
   zlib to its braided code, which ran at 2.76 GB/s against 1.85 GB/s in wasmtime (1 MiB buffer,
   same build flags). At level 1 the CRC was 9% of the worker's time. */
static uint32_t job_crc32(const unsigned char *p, size_t n) { return (uint32_t)crc32_z(0, p, n); }

/* Decode one member body: s->len bytes at s->in + DICT, exactly s->rsync_h bytes expected. */
static void decode_job(struct ctl *c, struct ld_state *st, struct slot *s) {
    size_t used = 0, produced = 0;
    uint32_t expected = s->rsync_h;
    enum libdeflate_result r = LIBDEFLATE_BAD_DATA;
    if (st->decompressor != NULL && expected <= (uint32_t)c->out_size)
        r = libdeflate_deflate_decompress_ex(st->decompressor, s->in + DICT, (size_t)s->len,
                                             s->out, expected, &used, &produced);
    s->out_len = (int32_t)produced;
    s->check = job_crc32(s->out, produced);
    if (r != LIBDEFLATE_SUCCESS)
        s->status = STATUS_DECODE_BAD;
    else if (used != (size_t)s->len || produced != expected)
        s->status = STATUS_DECODE_LENGTH;
    else
        s->status = STATUS_OK;
}

void compressor_job(struct ctl *c, struct worker *w, void *state, struct slot *s) {
    struct ld_state *st = state;
    unsigned char *data = s->in + DICT;
    size_t n;
    (void)w;

    if (s->flags & JOB_TRAP)
        __builtin_trap();
    if (s->flags & JOB_DECODE) {
        decode_job(c, st, s);
        return;
    }
    /* -R does not apply (the host refuses it for this engine) */
    size_t hist = c->independent ? 0 : (size_t)s->hist;
    int last = (s->flags & JOB_LAST) != 0;
    if (st->compressor == NULL)
        n = 0;
    else if (hist == 0 && last)
        n = libdeflate_deflate_compress(st->compressor, data, (size_t)s->len, s->out, (size_t)c->out_size);
    else
        n = wpigz_deflate_block(st->compressor, data, hist, (size_t)s->len, s->out, (size_t)c->out_size, last);
    s->out_len = (int32_t)n;
    s->check = c->check_kind == CHECK_ADLER32 ? (uint32_t)libdeflate_adler32(1, data, (size_t)s->len)
                                              : job_crc32(data, (size_t)s->len);
    s->status = n == 0 ? STATUS_NO_ROOM : STATUS_OK;
}

void compressor_end(struct ctl *c, struct worker *w, void *state) {
    (void)c;
    (void)w;
    (void)state;            /* everything came from the arena, which the host frees */
}

/* The version of the library itself, for -V and -L. */
EXPORT("wpigz_library_version")
const char *wpigz_library_version(void) { return LIBDEFLATE_VERSION_STRING; }
