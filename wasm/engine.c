/* engine.c -- wpigz's compression engine: pigz's parallel deflate, inside WebAssembly.

   Each engine is one WebAssembly module: this file (the ring and the threads, shared by every
   engine), one compressor (deflate_zlib.c for zlib and zlib-ng; see engine.h for the seam),
   the decoders (inflater.c) and the compression library itself. The Python host
   instantiates it once for its main thread and once more for every worker thread, all
   instances sharing one linear memory (wasi-threads). The module starts its own workers by
   calling the wasi `thread-spawn` import; each new thread enters at wasi_thread_start (in
   thread_start.s), which gives it its own stack and calls worker_main() below.

   Overview: the host's main thread owns a ring of `nslots` job slots in shared memory. For
   each block of input it reads the data straight into a slot, then calls wpigz_submit(),
   which copies the 32 KiB of input just before the block into the slot's dictionary area
   and publishes the slot. Workers claim jobs in sequence order (seq), hand each one to the
   compressor (compressor_job: for zlib, exactly what pigz 2.6's parallel path does with a
   block), which also computes the block's check value, and mark the slot done. The main thread waits for the oldest
   unwritten seq with wpigz_wait(), writes the slot's output, combines the check values in
   order, and reuses the slot. Because the ring is fixed, at most nslots blocks are in flight
   and memory stays bounded whatever the input size: backpressure is the ring itself.

   With -R (rsyncable) a job is cut where pigz cuts it (the host finds the job's end with
   wpigz_rsync_scan) and holds several blocks, each ended after a hit of pigz's rolling hash;
   the compressor finds those hits again itself as it compresses.

   Synchronisation: two futex words in the control block. `submitted` counts publications
   (and stop requests); workers sleep on it with memory.atomic.wait32 when the slot they
   claimed is not ready yet. `completed` counts finished jobs (and failures); the main thread
   sleeps on it with a bounded timeout so the host can run signal handlers. Nobody spins.

   Memory ownership: everything is allocated by the main thread in wpigz_new() before any
   worker runs, because wasi-libc's malloc is not thread-safe. Each worker gets a stack and
   an arena from which its compressor takes its state (worker_alloc). A slot belongs to
   the main thread until wpigz_submit() publishes it, to one worker until it is marked done,
   then to the main thread again. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

__attribute__((import_module("wasi"), import_name("thread-spawn")))
int32_t wasi_thread_spawn(void *start_arg);

/* ---- per-worker arena: the compressor's memory for one worker, no locking needed ---- */

void *worker_alloc(struct worker *w, size_t size) {
    uint64_t want = ((uint64_t)size + 15) & ~(uint64_t)15;
    if (want > w->arena_size - w->arena_used)
        return NULL;
    void *p = w->arena + w->arena_used;
    w->arena_used += (uint32_t)want;
    return p;
}

/* ---- the worker: one per thread, compressing jobs in claim order ---- */

static void wake_all(int32_t *futex) {
    __builtin_wasm_memory_atomic_notify(futex, UINT32_MAX);
}

static void worker_exit(struct ctl *c) {
    __atomic_fetch_sub(&c->running, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&c->completed, 1, __ATOMIC_SEQ_CST);
    wake_all(&c->completed);
}

/* Called from wasi_thread_start on the new thread's own stack. Claims jobs in seq order,
   sleeping on `submitted` until the claimed one is published, until stop is set. */
void worker_main(int32_t tid, struct worker *w) {
    struct ctl *c = w->ctl;
    void *state;
    (void)tid;

    state = compressor_start(c, w);
    if (state == NULL) {
        __atomic_store_n(&c->failed, 1, __ATOMIC_SEQ_CST);
        worker_exit(c);
        return;
    }
    for (;;) {
        uint32_t seq = (uint32_t)__atomic_fetch_add(&c->next_take, 1, __ATOMIC_SEQ_CST);
        struct slot *s = &c->slots[seq % (uint32_t)c->nslots];
        for (;;) {
            /* read the futex word first, so a publication after the checks wakes us */
            int32_t gen = __atomic_load_n(&c->submitted, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&s->ready, __ATOMIC_SEQ_CST) == (int32_t)(seq + 1))
                break;
            if (__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST))
                goto done;
            __builtin_wasm_memory_atomic_wait32(&c->submitted, gen, -1);
        }
        compressor_job(c, w, state, s);
        __atomic_store_n(&s->done, (int32_t)(seq + 1), __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&c->completed, 1, __ATOMIC_SEQ_CST);
        wake_all(&c->completed);
    }
done:
    compressor_end(c, w, state);
    worker_exit(c);
}

/* ---- slot buffers: whole wasm pages, not malloc ----

   zig's malloc for wasm rounds every large request up to a power of two, so the two buffers
   of a slot for 512 MiB blocks would take 2 GiB and the smallest ring (2 slots) would not fit
   in wasm32's 4 GiB. Slot buffers are therefore whole pages taken with memory.grow. A freed
   buffer goes on a free list kept inside the freed pages themselves (wasm memory never
   shrinks) and is reused by the next ring, best fit. Main thread only, like wpigz_new. */

#define PAGE 65536u

struct region {
    struct region *next;
    uint32_t size;                      /* bytes, a multiple of PAGE */
};

static struct region *spare_regions;

static unsigned char *region_alloc(size_t n) {
    uint32_t size;
    if (n > 0xFFFFFFFFu - PAGE)
        return NULL;
    size = (uint32_t)((n + PAGE - 1) & ~(size_t)(PAGE - 1));
    struct region **best = NULL;
    for (struct region **r = &spare_regions; *r != NULL; r = &(*r)->next)
        if ((*r)->size >= size && (best == NULL || (*r)->size < (*best)->size))
            best = r;
    if (best != NULL) {
        struct region *found = *best;
        *best = found->next;
        return (unsigned char *)found;
    }
    intptr_t old = __builtin_wasm_memory_grow(0, size / PAGE);
    return old < 0 ? NULL : (unsigned char *)((uintptr_t)old * PAGE);
}

static void region_free(unsigned char *p, size_t n) {
    if (p == NULL)
        return;
    struct region *r = (struct region *)p;
    r->size = (uint32_t)((n + PAGE - 1) & ~(size_t)(PAGE - 1));
    r->next = spare_regions;
    spare_regions = r;
}

/* ---- exports for the host's main thread ---- */

void wpigz_free(struct ctl *c);

/* Allocate the control block, the ring of nslots slots for blocks of block_size bytes, and
   nthreads worker stacks and arenas. Main thread only, before wpigz_start. Returns NULL when
   memory is short (the host reports it). */
EXPORT("wpigz_new")
struct ctl *wpigz_new(int32_t nthreads, int32_t nslots, int32_t block_size, int32_t level,
                      int32_t strategy, int32_t independent, int32_t check_kind) {
    struct ctl *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->nthreads = nthreads;
    c->nslots = nslots;
    c->block_size = block_size;
    /* pigz's OUTPOOL(size): the room one job's output gets */
    c->out_size = block_size + (block_size >> 4) + DICT;
    c->level = level;
    c->strategy = strategy;
    c->independent = independent;
    c->check_kind = check_kind;
    c->slots = calloc((size_t)nslots, sizeof(struct slot));
    c->workers = calloc((size_t)nthreads, sizeof(struct worker));
    if (c->slots == NULL || c->workers == NULL)
        goto fail;
    for (int i = 0; i < nslots; i++) {
        c->slots[i].in = region_alloc((size_t)DICT + (size_t)block_size + LOOKAHEAD);
        c->slots[i].out = region_alloc((size_t)c->out_size);
        if (c->slots[i].in == NULL || c->slots[i].out == NULL)
            goto fail;
    }
    uint64_t arena_size = WORKER_ARENA_BYTES((uint64_t)block_size);
    if (arena_size > UINT32_MAX)
        goto fail;
    for (int i = 0; i < nthreads; i++) {
        unsigned char *stack = malloc(WORKER_STACK);
        c->workers[i].arena = malloc((size_t)arena_size);
        c->workers[i].arena_size = (uint32_t)arena_size;
        if (stack == NULL || c->workers[i].arena == NULL) {
            free(stack);
            goto fail;
        }
        c->workers[i].stack_top = (uint32_t)(uintptr_t)(stack + WORKER_STACK);
        c->workers[i].ctl = c;
    }
    return c;
fail:
    wpigz_free(c);
    return NULL;
}

/* Release everything wpigz_new allocated. Main thread only, once no worker is running. */
EXPORT("wpigz_free")
void wpigz_free(struct ctl *c) {
    if (c == NULL)
        return;
    if (c->slots != NULL)
        for (int i = 0; i < c->nslots; i++) {
            region_free(c->slots[i].in, (size_t)DICT + (size_t)c->block_size + LOOKAHEAD);
            region_free(c->slots[i].out, (size_t)c->out_size);
        }
    if (c->workers != NULL)
        for (int i = 0; i < c->nthreads; i++) {
            if (c->workers[i].stack_top)
                free((unsigned char *)(uintptr_t)c->workers[i].stack_top - WORKER_STACK);
            free(c->workers[i].arena);
        }
    free(c->slots);
    free(c->workers);
    free(c);
}

/* Set engine-specific setting i (0..3) of c to value, before wpigz_start; engines without
   settings ignore them (zopfli: iterations, block splitting, splitting last, maximum splits).
   Main thread only. */
EXPORT("wpigz_tune")
void wpigz_tune(struct ctl *c, int32_t i, int32_t value) {
    if (i >= 0 && i < 4)
        c->tuning[i] = value;
}

/* Spawn the workers through wasi thread-spawn. Returns the number started, or the negative
   value thread-spawn returned for the first one that failed (the ones already started keep
   running until wpigz_stop). Main thread only. */
EXPORT("wpigz_start")
int32_t wpigz_start(struct ctl *c) {
    for (int i = 0; i < c->nthreads; i++) {
        __atomic_fetch_add(&c->running, 1, __ATOMIC_SEQ_CST);
        int32_t tid = wasi_thread_spawn(&c->workers[i]);
        if (tid <= 0) {
            __atomic_fetch_sub(&c->running, 1, __ATOMIC_SEQ_CST);
            return tid < 0 ? tid : -1;
        }
        c->workers[i].tid = tid;
    }
    return c->nthreads;
}

/* Where the host reads a block for slot i (block_size + LOOKAHEAD bytes of room), and where the worker
   leaves its output (wpigz_out_len bytes once done). */
EXPORT("wpigz_slot_in")
unsigned char *wpigz_slot_in(struct ctl *c, int32_t i) { return c->slots[i].in + DICT; }

EXPORT("wpigz_slot_out")
unsigned char *wpigz_slot_out(struct ctl *c, int32_t i) { return c->slots[i].out; }

/* Publish job seq, whose len input bytes the host has put in its slot. Before that, give it
   as history the last DICT bytes of input that precede it; the previous slot's history area
   and data are contiguous, so they hold exactly that. The previous job's slot is intact:
   the host fills it again (as job seq - 1 + nslots) only after publishing this one. rsync_h
   is the -R hash before the job's first byte (ignored without JOB_RSYNC). A job flagged
   JOB_FIRST starts a new stream (the next file of a command sharing one ring) and gets no
   history. Main thread only. */
EXPORT("wpigz_submit")
void wpigz_submit(struct ctl *c, uint32_t seq, int32_t len, int32_t flags, uint32_t rsync_h) {
    struct slot *s = &c->slots[seq % (uint32_t)c->nslots];
    s->len = len;
    s->flags = flags;
    s->rsync_h = rsync_h;
    s->hist = 0;
    if (seq > 0 && !c->independent && !(flags & JOB_FIRST)) {
        struct slot *prev = &c->slots[(seq - 1) % (uint32_t)c->nslots];
        int32_t avail = prev->hist + prev->len;
        s->hist = avail < DICT ? avail : DICT;
        memcpy(s->in + DICT - s->hist, prev->in + DICT + prev->len - s->hist, (size_t)s->hist);
    }
    s->out_len = 0;
    s->status = STATUS_OK;
    __atomic_store_n(&s->ready, (int32_t)(seq + 1), __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&c->submitted, 1, __ATOMIC_SEQ_CST);
    wake_all(&c->submitted);
}

/* Wait up to timeout_ms for job seq to be done. Returns 1 when it is, 0 on timeout (the host
   then runs its signal handlers and calls again), -1 if a worker failed or every worker has
   exited. Main thread only. */
EXPORT("wpigz_wait")
int32_t wpigz_wait(struct ctl *c, uint32_t seq, int32_t timeout_ms) {
    struct slot *s = &c->slots[seq % (uint32_t)c->nslots];
    int64_t timeout_ns = (int64_t)timeout_ms * 1000000;
    for (;;) {
        int32_t gen = __atomic_load_n(&c->completed, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) == (int32_t)(seq + 1))
            return 1;
        if (__atomic_load_n(&c->failed, __ATOMIC_SEQ_CST) ||
            __atomic_load_n(&c->running, __ATOMIC_SEQ_CST) <= 0)
            return -1;
        /* 2 means timed out; 0 (woken) and 1 (value changed) mean look again */
        if (__builtin_wasm_memory_atomic_wait32(&c->completed, gen, timeout_ns) == 2)
            return 0;
    }
}

/* -R, for the host deciding where a job ends: roll the hash h over len bytes at p. Returns
   the offset just past the last hit, or -1 if there is none; leaves the final hash in
   c->scan_h (read with wpigz_scan_h). Main thread only. */
EXPORT("wpigz_rsync_scan")
int32_t wpigz_rsync_scan(struct ctl *c, const unsigned char *p, int32_t len, uint32_t h) {
    int32_t last_hit = -1;
    for (int32_t i = 0; i < len; i++) {
        h = rsync_roll(h, p[i]);
        if (h == RSYNC_HIT)
            last_hit = i + 1;
    }
    c->scan_h = h;
    return last_hit;
}

EXPORT("wpigz_scan_h")
uint32_t wpigz_scan_h(struct ctl *c) { return c->scan_h; }

/* The address of slot i's record (struct slot). Once wpigz_wait has returned 1 for a job in
   slot i, the host reads the job's out_len, check and status straight from it: the wait's
   atomic load of `done` orders them after the worker's writes. Three calls fewer per job
   than the getters below (the same values, one call each) count for a tree of small files.
   The host reads them as four 32-bit words from SLOT_RESULT_OFFSET: out_len, check, rsync_h
   (unused) and status. Main thread only. */
#define SLOT_RESULT_OFFSET 20
_Static_assert(offsetof(struct slot, out_len) == SLOT_RESULT_OFFSET, "the host reads out_len here");
_Static_assert(offsetof(struct slot, check) == SLOT_RESULT_OFFSET + 4, "and check here");
_Static_assert(offsetof(struct slot, status) == SLOT_RESULT_OFFSET + 12, "and status here");

EXPORT("wpigz_slot")
struct slot *wpigz_slot(struct ctl *c, int32_t i) { return &c->slots[i]; }

EXPORT("wpigz_out_len")
int32_t wpigz_out_len(struct ctl *c, uint32_t seq) { return c->slots[seq % (uint32_t)c->nslots].out_len; }

EXPORT("wpigz_check")
uint32_t wpigz_check(struct ctl *c, uint32_t seq) { return c->slots[seq % (uint32_t)c->nslots].check; }

EXPORT("wpigz_status")
int32_t wpigz_status(struct ctl *c, uint32_t seq) { return c->slots[seq % (uint32_t)c->nslots].status; }

EXPORT("wpigz_running")
int32_t wpigz_running(struct ctl *c) { return __atomic_load_n(&c->running, __ATOMIC_SEQ_CST); }

/* Ask every worker to exit once its current job is done. Main thread only; idempotent. */
EXPORT("wpigz_stop")
void wpigz_stop(struct ctl *c) {
    __atomic_store_n(&c->stop, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&c->submitted, 1, __ATOMIC_SEQ_CST);
    wake_all(&c->submitted);
}

/* Called by the host, on a worker's own instance, after that worker trapped: the worker
   never reached worker_exit, so do its bookkeeping and wake the main thread. */
EXPORT("wpigz_worker_trapped")
void wpigz_worker_trapped(struct worker *w) {
    __atomic_store_n(&w->ctl->failed, 1, __ATOMIC_SEQ_CST);
    worker_exit(w->ctl);
}
