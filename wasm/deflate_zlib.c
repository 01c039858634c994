/* deflate_zlib.c -- the zlib compressor: one job is one block of pigz 2.6's parallel path.

   The compressor seam of engine.h, for the zlib (1.2.13) and zlib-ng (zlib-compatible mode)
   modules. Each worker keeps one raw deflate stream, whose state zlib takes from the worker's
   arena through zalloc/zfree. A job is compressed exactly as pigz 2.6's parallel path
   compresses a block: deflateReset, deflateParams(level), the 32 KiB before the block as the
   dictionary (not with -i), one deflate(Z_BLOCK) call with pigz's OUTPOOL-sized output room
   and pigz's byte-alignment rule, or Z_FINISH for the last block. The module's other
   zlib-specific exports (check-value arithmetic, the version) are here too. */

#include <stdint.h>
#include <string.h>
#include "engine.h"
#include "zlib.h"
#ifdef WPIGZ_ZLIB_NG
#include "deflate.h"                       /* zlib-ng's internal state: see fresh_stream */
#endif

static voidpf arena_alloc(voidpf opaque, uInt items, uInt size) {
    uint64_t want = (uint64_t)items * size;
    return want > UINT32_MAX ? Z_NULL : worker_alloc(opaque, (size_t)want);
}

static void arena_free(voidpf opaque, voidpf address) {
    (void)opaque;           /* the arena lives as long as the worker; deflateEnd is its last use */
    (void)address;
}

/* End a non-final block on a byte boundary exactly as pigz 2.6 does with zlib >= 1.2.6:
   odd pending bits (or -i) get an empty stored block, even ones get empty fixed blocks
   (deflatePrime(10, 2) adds 10 bits each) until the bit count is a multiple of 8, and -i
   adds a full flush on top. */
static int align_block(z_stream *strm, int independent) {
    int bits, ret;
    ret = deflatePending(strm, Z_NULL, &bits);
    if (ret != Z_OK)
        return ret;
    if ((bits & 1) || independent)
        ret = deflate(strm, Z_SYNC_FLUSH);
    else if (bits & 7) {
        do {
            ret = deflatePrime(strm, 10, 2);
            if (ret == Z_OK)
                ret = deflatePending(strm, Z_NULL, &bits);
        } while (ret == Z_OK && (bits & 7));
        if (ret == Z_OK)
            ret = deflate(strm, Z_BLOCK);
    }
    if (ret == Z_OK && independent)
        ret = deflate(strm, Z_FULL_FLUSH);
    return ret;
}

/* Feed len bytes at next as one block ending on a byte boundary (Z_BLOCK, then pigz's
   alignment), or, for the final block, finish the stream. */
static int deflate_block(struct ctl *c, z_stream *strm, unsigned char *next, uint32_t len, int last) {
    int ret;
    strm->next_in = next;
    strm->avail_in = len;
    if (last) {
        ret = deflate(strm, Z_FINISH);
        return ret == Z_STREAM_END ? Z_OK : (ret == Z_OK ? STATUS_NO_ROOM : ret);
    }
    ret = deflate(strm, Z_BLOCK);
    return ret == Z_OK ? align_block(strm, c->independent) : ret;
}

/* -R: one job holds several blocks, each ended after a hash hit, in one continuing stream.
   A hit on the very last byte of the input ends no block: the final block is never empty. */
static int deflate_rsync_job(struct ctl *c, z_stream *strm, struct slot *s, unsigned char *data) {
    uint32_t h = s->rsync_h, start = 0, len = (uint32_t)s->len;
    int last = s->flags & JOB_LAST, ret = Z_OK;
    for (uint32_t i = 0; i < len && ret == Z_OK; i++) {
        h = rsync_roll(h, data[i]);
        if (h == RSYNC_HIT && !(last && i + 1 == len)) {
            ret = deflate_block(c, strm, data + start, i + 1 - start, 0);
            start = i + 1;
        }
    }
    if (ret == Z_OK && (start < len || last))
        ret = deflate_block(c, strm, data + start, len - start, last);
    return ret;
}

/* The stream lives at the start of the arena; zlib's allocations follow it. */
struct zlib_state {
    z_stream strm;
};

void *compressor_start(struct ctl *c, struct worker *w) {
    struct zlib_state *z = worker_alloc(w, sizeof(*z));
    if (z == NULL)
        return NULL;
    memset(z, 0, sizeof(*z));
    z->strm.zalloc = arena_alloc;
    z->strm.zfree = arena_free;
    z->strm.opaque = w;
    /* pigz initialises at level 6 and sets the real level per job with deflateParams */
    return deflateInit2(&z->strm, 6, Z_DEFLATED, -15, 8, c->strategy) == Z_OK ? z : NULL;
}

/* A job's output must depend on the job alone, not on which worker compressed it or what that
   worker compressed before. deflateReset clears everything a stream carries between uses
   except window memory: zlib-ng's match and hash code reads up to STD_MAX_MATCH bytes past the
   valid data, which a fresh stream has zeroed as its window first filled (fill_window's
   high-water mark); after a reset that tail still holds an earlier job's bytes, so matches
   would be chosen differently. In the zlib-ng build we lower the high-water mark again, so
   fill_window zeroes the tail exactly as in a fresh stream. (prev[] needs nothing: a hash chain
   starts at head[], which the reset clears, and reaches only positions this job inserted.) */
static int fresh_stream(struct zlib_state *z) {
    int ret = deflateReset(&z->strm);
#ifdef WPIGZ_ZLIB_NG
    if (ret == Z_OK)
        ((deflate_state *)z->strm.state)->high_water = 0;
#endif
    return ret;
}

void compressor_job(struct ctl *c, struct worker *w, void *state, struct slot *s) {
    struct zlib_state *z = state;
    z_stream *strm = &z->strm;
    unsigned char *data = s->in + DICT;
    int ret;

    if (s->flags & JOB_TRAP)
        __builtin_trap();
    ret = fresh_stream(z);
    if (ret == Z_OK)
        ret = deflateParams(strm, c->level, c->strategy);
    if (ret == Z_OK && s->hist > 0 && !c->independent)
        ret = deflateSetDictionary(strm, data - s->hist, (uInt)s->hist);
    strm->next_out = s->out;
    strm->avail_out = (uInt)c->out_size;   /* pigz's OUTPOOL size: level 0 output depends on it */
    if (ret == Z_OK)
        ret = s->flags & JOB_RSYNC ? deflate_rsync_job(c, strm, s, data)
                                   : deflate_block(c, strm, data, (uint32_t)s->len, s->flags & JOB_LAST);
    if (ret == Z_OK && (strm->avail_out == 0 || strm->avail_in != 0))
        ret = STATUS_NO_ROOM;
    s->out_len = (int32_t)(c->out_size - strm->avail_out);
    s->check = c->check_kind == CHECK_ADLER32 ? adler32(1L, data, (uInt)s->len)
                                              : crc32(0L, data, (uInt)s->len);
    s->status = ret;
}

void compressor_end(struct ctl *c, struct worker *w, void *state) {
    (void)c;
    (void)w;
    deflateEnd(&((struct zlib_state *)state)->strm);
}

/* The version of the library itself, for -V and -L: zlib-ng's zlibVersion() is the zlib
   version it is compatible with ("1.3.1.zlib-ng"), not its own. */
EXPORT("wpigz_library_version")
const char *wpigz_library_version(void) {
#ifdef ZLIBNG_VERSION
    return ZLIBNG_VERSION;
#else
    return ZLIB_VERSION;
#endif
}
