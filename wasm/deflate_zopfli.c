/* deflate_zopfli.c -- the zopfli compressor: one job is one block of pigz 2.6's -11.

   The compressor seam of engine.h for the zopfli module (wpigz/zopfli.wasm), which carries
   the zopfli that pigz bundles (zopfli/src/zopfli in pigz's source package) and zlib 1.2.13
   for the check values and the decoders. A job is compressed exactly as pigz's parallel path
   compresses a block at level 11: the 32 KiB before the block (none with -i) sits in front
   of it in the same buffer -- the slot's history area is just that -- and one
   ZopfliDeflatePart(options, btype 2, final, buffer, start, end) call compresses the block
   with that history in view. zopfli starts every call on a byte boundary and says how many
   bits of its last byte it used; pigz then ends a non-final block on a byte boundary itself,
   writing the same markers its zlib path gets from zlib (see align_block). With -R a job
   holds several blocks, one call each, and each sees the job's earlier bytes as history.

   Memory: zopfli allocates a lot, per block, through malloc/realloc/free. Its sources are
   compiled with those names redirected (zopfli_alloc.h) to a small size-class heap over the
   worker's arena, found through a per-thread wasm global (zopfli_heap.s). A block's
   allocations are all released when its job ends, so the heap is simply reset per job: its
   footprint is one block's peak, whatever the input size. build.py sizes the arena
   (WORKER_ARENA_BYTES) from the block size, from peaks measured with wpigz_zopfli_peak on
   full blocks of random data (the worst case seen), text, runs and a 4-letter alphabet:
       -b 32: 5.7 MB (174x)   -b 128: 16.2 MB (124x)   -b 512: 60.7 MB (116x)   -b 2048: 236 MB (113x)
   for random data, 38-90x for the others, the same with -J 0; iterations do not change it. */

#include <stdint.h>
#include <string.h>
#include "engine.h"
#include "zlib.h"
#include "zopfli/deflate.h"     /* zopfli: ZopfliDeflatePart, ZopfliOptions */

/* ---- the per-worker heap: size classes over the arena, reset per job ---- */

#define UNIT 16                 /* allocation granule and header size: 16-byte alignment */

/* A chunk is a 16-byte header -- its class, its capacity in granules, and the next free chunk
   of its class while it is free -- then the caller's bytes (possibly none: malloc(0)). */
struct chunk {
    uint32_t cls;
    uint32_t capacity;
    struct chunk *next_free;
    uint32_t unused;
};
_Static_assert(sizeof(struct chunk) == UNIT, "a chunk header is one granule");
#define NCLASSES 232            /* 1..16 units exactly, then 8 classes per doubling up to 2^32 */

struct zheap {
    unsigned char *base, *next, *end;   /* bump region: [base, end), used up to next */
    const int32_t *stop;                /* the ring's stop flag (ctl->stop) */
    uint32_t peak;                      /* most bytes of the region in use at once, ever */
    struct chunk *free_list[NCLASSES];  /* freed chunks by class, reused before bumping */
};

void *wpigz_heap_get(void);             /* zopfli_heap.s: this thread's heap */
void wpigz_heap_set(void *heap);

/* The class of a chunk of `units` granules (header included) and its capacity in granules. */
static uint32_t class_of(uint32_t units, uint32_t *capacity) {
    if (units <= 16) {
        *capacity = units;
        return units - 1;
    }
    uint32_t e = 31 - (uint32_t)__builtin_clz(units);       /* 2^e <= units, e >= 4 */
    uint32_t step = 1u << (e - 3);
    uint32_t k = (units - (1u << e) + step - 1) >> (e - 3); /* 0..8 */
    *capacity = (1u << e) + k * step;
    return 16 + (e - 4) * 8 + k;
}

/* A heap that cannot give zopfli its memory ends the worker with a trap (the host reports
   it): zopfli does not check for NULL, and address 0 is ordinary memory in wasm. build.py
   sizes arenas so that this does not happen for any block size the host accepts.

   It is also where a block is abandoned when the host stops the ring mid-job (Ctrl-C, an
   error elsewhere): one zopfli block can take minutes (-I 1000), while the host joins the
   workers on stopping. zopfli has no cancel hook, but it allocates at every iteration, so a
   worker that finds the stop flag set here traps, which unwinds it to the host at once; the
   host is discarding the run anyway. */
void *wpigz_zmalloc(size_t size) {
    struct zheap *h = wpigz_heap_get();
    if (__atomic_load_n(h->stop, __ATOMIC_RELAXED))
        __builtin_trap();
    uint64_t units64 = ((uint64_t)size + UNIT - 1) / UNIT + 1;
    if (units64 > (1u << 27))
        __builtin_trap();
    uint32_t capacity, cls = class_of((uint32_t)units64, &capacity);
    struct chunk *chunk = h->free_list[cls];
    if (chunk != NULL) {
        h->free_list[cls] = chunk->next_free;
    } else {
        if ((uint64_t)capacity * UNIT > (uint64_t)(h->end - h->next))
            __builtin_trap();
        chunk = (struct chunk *)h->next;
        h->next += (size_t)capacity * UNIT;
        if ((uint32_t)(h->next - h->base) > h->peak)
            h->peak = (uint32_t)(h->next - h->base);
    }
    chunk->cls = cls;
    chunk->capacity = capacity;
    return chunk + 1;
}

void wpigz_zfree(void *p) {
    if (p == NULL)
        return;
    struct zheap *h = wpigz_heap_get();
    struct chunk *chunk = (struct chunk *)p - 1;
    chunk->next_free = h->free_list[chunk->cls];
    h->free_list[chunk->cls] = chunk;
}

void *wpigz_zcalloc(size_t count, size_t size) {
    uint64_t total = (uint64_t)count * size;
    if (total > UINT32_MAX)
        __builtin_trap();
    void *p = wpigz_zmalloc((size_t)total);
    memset(p, 0, (size_t)total);
    return p;
}

void *wpigz_zrealloc(void *p, size_t size) {
    if (p == NULL)
        return wpigz_zmalloc(size);
    struct chunk *chunk = (struct chunk *)p - 1;
    size_t room = (size_t)(chunk->capacity - 1) * UNIT;
    if (size <= room)
        return p;
    void *q = wpigz_zmalloc(size);
    memcpy(q, p, room);
    wpigz_zfree(p);
    return q;
}

static void heap_reset(struct zheap *h) {
    h->next = h->base;
    memset(h->free_list, 0, sizeof(h->free_list));
}

/* ---- the compressor ---- */

/* a worker's state: its heap (at the start of its arena, where wpigz_zopfli_peak finds it) */
struct zopfli_state {
    struct zheap heap;
};

void *compressor_start(struct ctl *c, struct worker *w) {
    struct zopfli_state *z = worker_alloc(w, sizeof(*z));
    if (z == NULL)
        return NULL;
    memset(z, 0, sizeof(*z));
    /* the rest of the arena is zopfli's heap, 16-byte aligned */
    z->heap.base = w->arena + w->arena_used;
    z->heap.end = w->arena + (w->arena_size & ~(uint32_t)(UNIT - 1));
    z->heap.stop = &c->stop;
    heap_reset(&z->heap);
    w->arena_used = w->arena_size;
    wpigz_heap_set(&z->heap);           /* this thread's heap, for zopfli's allocations */
    return z;
}

/* After a non-final block that ended with `bits` bits used in its last byte (0: all 8),
   reach a byte boundary exactly as pigz 2.6 does after zopfli: odd bits, or -i, get an empty
   stored block (an extra zero byte first when the 3 header bits do not fit in the last byte),
   even ones empty fixed-code blocks patched into the last bytes (each adds 10 bits: the value
   2 at the current bit position), and -i a second stored marker. Returns the new length. */
static size_t align_block(unsigned char *out, size_t len, unsigned bits, int independent) {
    bits &= 7;
    if ((bits & 1) || independent) {
        if (bits == 0 || bits > 5)
            out[len++] = 0;
        out[len++] = 0;
        out[len++] = 0;
        out[len++] = 0xff;
        out[len++] = 0xff;
    } else if (bits) {
        do {
            out[len - 1] += (unsigned char)(2 << bits);
            out[len++] = 0;
            bits += 2;
        } while (bits < 8);
    }
    if (independent) {
        static const unsigned char marker[5] = {0, 0, 0, 0xff, 0xff};
        memcpy(out + len, marker, sizeof(marker));
        len += sizeof(marker);
    }
    return len;
}

#define ALIGN_ROOM 11           /* the most align_block adds */

/* Compress in[start, end) as one block of the job (in[0, start) is history), appending to
   s->out. Returns STATUS_OK or STATUS_NO_ROOM. */
static int zopfli_block(struct ctl *c, struct slot *s, const ZopfliOptions *options,
                        const unsigned char *in, size_t start, size_t end, int final) {
    unsigned char bits = 0, *out = NULL;
    size_t outsize = 0, len = (size_t)s->out_len;
    ZopfliDeflatePart(options, 2, final, in, start, end, &bits, &out, &outsize);
    if (outsize + ALIGN_ROOM > (size_t)c->out_size - len) {
        wpigz_zfree(out);
        return STATUS_NO_ROOM;
    }
    memcpy(s->out + len, out, outsize);
    wpigz_zfree(out);
    len += outsize;
    if (!final)
        len = align_block(s->out, len, bits, c->independent);
    s->out_len = (int32_t)len;
    return STATUS_OK;
}

void compressor_job(struct ctl *c, struct worker *w, void *state, struct slot *s) {
    struct zopfli_state *z = state;
    unsigned char *data = s->in + DICT;
    const unsigned char *in = data - s->hist;   /* the history, then the job's data */
    size_t hist = (size_t)s->hist, len = (size_t)s->len;
    int last = s->flags & JOB_LAST, ret = STATUS_OK;
    ZopfliOptions options;
    (void)w;

    if (s->flags & JOB_TRAP)
        __builtin_trap();
    heap_reset(&z->heap);
    memset(&options, 0, sizeof(options));
    options.numiterations = c->tuning[0];
    options.blocksplitting = c->tuning[1];
    options.blocksplittinglast = c->tuning[2];
    options.blocksplittingmax = c->tuning[3];
    s->out_len = 0;
    if (s->flags & JOB_RSYNC) {
        /* -R: a block ends after every hit of the rolling hash, but never an empty final one */
        uint32_t h = s->rsync_h;
        size_t start = 0;
        for (size_t i = 0; i < len && ret == STATUS_OK; i++) {
            h = rsync_roll(h, data[i]);
            if (h == RSYNC_HIT && !(last && i + 1 == len)) {
                ret = zopfli_block(c, s, &options, in, hist + start, hist + i + 1, 0);
                start = i + 1;
            }
        }
        if (ret == STATUS_OK && (start < len || last))
            ret = zopfli_block(c, s, &options, in, hist + start, hist + len, last);
    } else {
        ret = zopfli_block(c, s, &options, in, hist, hist + len, last);
    }
    s->check = c->check_kind == CHECK_ADLER32 ? adler32(1L, data, (uInt)len)
                                              : crc32(0L, data, (uInt)len);
    s->status = ret;
}

void compressor_end(struct ctl *c, struct worker *w, void *state) {
    (void)c;
    (void)w;
    (void)state;
}

/* The most heap bytes any worker of c has used for one job so far (for sizing the arenas:
   see build.py). Main thread only, once every worker has started (has run compressor_start);
   they may still be compressing. */
EXPORT("wpigz_zopfli_peak")
uint32_t wpigz_zopfli_peak(struct ctl *c) {
    uint32_t peak = 0;
    for (int i = 0; i < c->nthreads; i++) {
        struct zopfli_state *z = (struct zopfli_state *)c->workers[i].arena;
        uint32_t p = __atomic_load_n(&z->heap.peak, __ATOMIC_RELAXED);
        if (p > peak)
            peak = p;
    }
    return peak;
}

/* The library's version, for -V and -L: zopfli has none of its own; this is the copy in
   pigz's source package (build.py's PIGZ_SPEC). */
EXPORT("wpigz_library_version")
const char *wpigz_library_version(void) { return "as bundled with pigz 2.8"; }
