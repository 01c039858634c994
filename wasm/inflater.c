/* inflater.c -- wpigz's decompressors, inside the WebAssembly sandbox.

   Untrusted compressed data is decoded only here: zlib 1.2.13's inflate for deflate data (gzip
   members, zlib streams, zip entries), and a Unix compress (.Z, LZW) decoder and a pack (.z,
   Huffman) decoder written for wpigz.
   The host parses the small container headers and trailers in Python and streams the body
   through one of these decoders, a buffer at a time: it reads input into `in`, calls a step
   function, and writes out whatever appeared in `out`. Both buffers are fixed, so memory stays
   flat whatever the output size (a decompression bomb streams through). A malformed input can
   at worst make a step return an error -- or, if this code had a bug, trap, which the host
   reports as a clean error too.

   Everything here runs on the host's main thread (no workers), so it may use malloc. The
   check value of the output (CRC-32 or Adler-32) is kept as the output is produced. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "zlib.h"

#define EXPORT(name) __attribute__((export_name(name)))

#define CHECK_CRC32 0
#define CHECK_ADLER32 1
#define CHECK_NONE 2

/* step results, shared by both decoders */
#define STEP_MORE 0             /* output produced or input consumed; call again (feed if in empty) */
#define STEP_END 1              /* end of the compressed data; avail_in bytes were not used */
#define STEP_ERROR (-1)         /* corrupt data: wpigz_inflater_msg says why */

#define LZW_MAX_BITS 16
#define LZW_TABLE (1 << LZW_MAX_BITS)

struct lzw {
    uint16_t prefix[LZW_TABLE];
    uint8_t suffix[LZW_TABLE];
    uint8_t stack[LZW_TABLE];   /* a string is decoded backwards into this */
    uint32_t stacked;           /* bytes of the current string not yet output */
    uint32_t max_bits, block_mode, bits, mask, next_code, end_code;
    int32_t prev;               /* previous code, -1 at the start and after a clear */
    uint32_t final;             /* first byte of the previous string */
    uint32_t buf, have;         /* bit buffer and its bit count */
    uint64_t group_bits;        /* bits read since the current code width began */
};

#define PACK_MAX_BITS 25        /* gzip's MAX_BITLEN */

/* pack's header after the magic, then its MSB-first Huffman codes (see the pack section) */
struct pack {
    uint32_t state;             /* PACK_* below */
    uint32_t orig_len;          /* the original size, mod 2^32, MSB first */
    uint32_t header_got;        /* bytes of the current header field read */
    uint32_t max_len;           /* longest code, 1..25 */
    uint32_t len;               /* the bit length whose leaf count or literals are being read */
    uint32_t max_leaves;        /* gzip's bound on the leaves still possible at this length */
    uint32_t stored;            /* leaf counts read so far (before the EOB adjustment) */
    uint32_t leaves[PACK_MAX_BITS + 1];
    uint32_t parents[PACK_MAX_BITS + 1];
    uint32_t base[PACK_MAX_BITS + 1];   /* index in literal[] of the first leaf of each length */
    uint32_t nliterals;         /* literals read so far */
    uint8_t literal[256];
    uint32_t code, code_len;    /* the code being read, MSB first, and its bits so far */
    uint32_t byte, have;        /* the current input byte and its bits not yet used */
    uint32_t produced;          /* output bytes, mod 2^32 */
};

struct inflater {
    z_stream strm;
    unsigned char *in;
    unsigned char *out;
    uint32_t in_size, out_size;
    uint32_t out_len;           /* output produced by the last step */
    uint32_t check;
    int32_t check_kind;
    int32_t mode;               /* 0 deflate, 1 lzw, 2 pack */
    const char *msg;
    struct lzw *lzw;
    struct pack *pack;
};

static void update_check(struct inflater *f, const unsigned char *p, uint32_t n) {
    if (f->check_kind == CHECK_CRC32)
        f->check = (uint32_t)crc32(f->check, p, n);
    else if (f->check_kind == CHECK_ADLER32)
        f->check = (uint32_t)adler32(f->check, p, n);
}

/* A decoder with an in_size input buffer and an out_size output buffer; NULL if memory is
   short. */
EXPORT("wpigz_inflater_new")
struct inflater *wpigz_inflater_new(uint32_t in_size, uint32_t out_size) {
    struct inflater *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->in = malloc(in_size);
    f->out = malloc(out_size);
    f->lzw = malloc(sizeof(struct lzw));
    f->pack = malloc(sizeof(struct pack));
    if (f->in == NULL || f->out == NULL || f->lzw == NULL || f->pack == NULL ||
        inflateInit2(&f->strm, -15) != Z_OK) {
        free(f->in);
        free(f->out);
        free(f->lzw);
        free(f->pack);
        free(f);
        return NULL;
    }
    f->in_size = in_size;
    f->out_size = out_size;
    return f;
}

EXPORT("wpigz_inflater_free")
void wpigz_inflater_free(struct inflater *f) {
    if (f == NULL)
        return;
    inflateEnd(&f->strm);
    free(f->in);
    free(f->out);
    free(f->lzw);
    free(f->pack);
    free(f);
}

EXPORT("wpigz_inflater_in")
unsigned char *wpigz_inflater_in(struct inflater *f) { return f->in; }

EXPORT("wpigz_inflater_out")
unsigned char *wpigz_inflater_out(struct inflater *f) { return f->out; }

EXPORT("wpigz_inflater_out_len")
uint32_t wpigz_inflater_out_len(struct inflater *f) { return f->out_len; }

EXPORT("wpigz_inflater_avail_in")
uint32_t wpigz_inflater_avail_in(struct inflater *f) { return f->strm.avail_in; }

EXPORT("wpigz_inflater_check")
uint32_t wpigz_inflater_check(struct inflater *f) { return f->check; }

EXPORT("wpigz_inflater_msg")
const char *wpigz_inflater_msg(struct inflater *f) { return f->msg != NULL ? f->msg : ""; }

/* The host put n new bytes at the start of `in`; the previous ones were all used. */
EXPORT("wpigz_inflater_feed")
void wpigz_inflater_feed(struct inflater *f, uint32_t n) {
    f->strm.next_in = f->in;
    f->strm.avail_in = n;
}

/* ---- deflate ---- */

/* Start a new raw deflate stream whose output is checked with check_kind. */
EXPORT("wpigz_inflate_reset")
int32_t wpigz_inflate_reset(struct inflater *f, int32_t check_kind) {
    f->mode = 0;
    f->check_kind = check_kind;
    f->check = check_kind == CHECK_ADLER32 ? 1 : 0;
    f->msg = NULL;
    f->strm.avail_in = 0;
    return inflateReset(&f->strm) == Z_OK ? 0 : STEP_ERROR;
}

/* Resume a raw deflate stream in the middle (after wpigz_inflate_reset): the host put the
   last dict_len bytes of output before that point at the start of `in`, and gives the bits
   of the partly used byte there (nbits of value, low first). Used when a parallel chunk
   (chunk_inflate.c) hands its range back to this sequential decoder. */
EXPORT("wpigz_inflate_resume")
int32_t wpigz_inflate_resume(struct inflater *f, uint32_t dict_len, int32_t nbits, int32_t value) {
    if (dict_len && inflateSetDictionary(&f->strm, f->in, dict_len) != Z_OK)
        return STEP_ERROR;
    if (nbits && inflatePrime(&f->strm, nbits, value) != Z_OK)
        return STEP_ERROR;
    return 0;
}

static int32_t inflate_step(struct inflater *f) {
    int ret;
    f->strm.next_out = f->out;
    f->strm.avail_out = f->out_size;
    ret = inflate(&f->strm, Z_NO_FLUSH);
    f->out_len = f->out_size - f->strm.avail_out;
    update_check(f, f->out, f->out_len);
    if (ret == Z_STREAM_END)
        return STEP_END;
    if (ret == Z_OK || ret == Z_BUF_ERROR)     /* Z_BUF_ERROR: nothing to do until fed */
        return STEP_MORE;
    f->msg = f->strm.msg != NULL ? f->strm.msg : (ret == Z_MEM_ERROR ? "out of memory" : "inflate error");
    return STEP_ERROR;
}

/* ---- Unix compress (LZW), as ncompress and pigz read it ----

   Codes are LSB-first, 9 bits wide at first, growing to max_bits. compress writes codes in
   groups of 8: whenever the width grows or a clear code (256, block mode only) arrives, the
   rest of the current group of 8 codes is padding and is skipped. */

EXPORT("wpigz_lzw_reset")
int32_t wpigz_lzw_reset(struct inflater *f, uint32_t flags_byte) {
    struct lzw *z = f->lzw;
    f->mode = 1;
    f->check_kind = CHECK_NONE;
    f->msg = NULL;
    f->strm.avail_in = 0;
    if (flags_byte & 0x60) {
        f->msg = "unknown lzw flags set";
        return STEP_ERROR;
    }
    z->max_bits = flags_byte & 0x1f;
    z->block_mode = (flags_byte & 0x80) != 0;
    if (z->max_bits < 9 || z->max_bits > LZW_MAX_BITS) {
        f->msg = "lzw bits out of range";
        return STEP_ERROR;
    }
    z->bits = 9;
    z->mask = (1u << 9) - 1;
    z->next_code = z->block_mode ? 257 : 256;
    z->end_code = 1u << z->max_bits;
    z->prev = -1;
    z->final = 0;
    z->buf = 0;
    z->have = 0;
    z->group_bits = 0;
    z->stacked = 0;
    for (uint32_t i = 0; i < 256; i++) {
        z->prefix[i] = 0;
        z->suffix[i] = (uint8_t)i;
    }
    return 0;
}

/* Skip the padding to the end of the current group of 8 codes of the current width; returns
   0 when done, 1 when more input is needed first. */
static int lzw_skip_group(struct inflater *f) {
    struct lzw *z = f->lzw;
    uint64_t group = (uint64_t)z->bits * 8;
    uint64_t rem = (group - z->group_bits % group) % group;
    while (rem > 0) {
        if (z->have > 0) {
            uint32_t take = rem < z->have ? (uint32_t)rem : z->have;
            z->buf >>= take;
            z->have -= take;
            z->group_bits += take;
            rem -= take;
        } else if (f->strm.avail_in > 0) {
            uint32_t bytes = (uint32_t)(rem / 8);
            if (bytes > f->strm.avail_in)
                bytes = f->strm.avail_in;
            if (bytes > 0) {
                f->strm.next_in += bytes;
                f->strm.avail_in -= bytes;
                z->group_bits += (uint64_t)bytes * 8;
                rem -= (uint64_t)bytes * 8;
            } else {
                z->buf = *f->strm.next_in++;
                f->strm.avail_in--;
                z->have = 8;
            }
        } else
            return 1;
    }
    z->group_bits = 0;
    return 0;
}

static int32_t lzw_step(struct inflater *f, int at_eof) {
    struct lzw *z = f->lzw;
    uint32_t out = 0;
    for (;;) {
        while (z->stacked > 0 && out < f->out_size)
            f->out[out++] = z->stack[--z->stacked];
        if (out == f->out_size)
            break;
        /* the next code: a width change skips the rest of the group first */
        if (z->next_code > z->mask && z->bits < z->max_bits) {
            if (lzw_skip_group(f))
                break;
            z->bits++;
            z->mask = (1u << z->bits) - 1;
        }
        while (z->have < z->bits && f->strm.avail_in > 0) {
            z->buf |= (uint32_t)*f->strm.next_in++ << z->have;
            f->strm.avail_in--;
            z->have += 8;
        }
        if (z->have < z->bits) {
            if (at_eof) {
                f->out_len = out;
                return STEP_END;            /* leftover bits at the end are padding */
            }
            break;
        }
        uint32_t code = z->buf & z->mask;
        z->buf >>= z->bits;
        z->have -= z->bits;
        z->group_bits += z->bits;
        if (code == 256 && z->block_mode) {
            if (lzw_skip_group(f)) {
                /* resume the skip next time: undo nothing, remember we are mid-clear */
                z->prev = -2;
                break;
            }
            z->bits = 9;
            z->mask = (1u << 9) - 1;
            /* compress adds a dead entry 256 after the first code; we add none for it */
            z->next_code = 257;
            z->prev = -1;
            continue;
        }
        if (z->prev == -1) {                /* first code of the stream or after a clear */
            if (code > 255) {
                f->msg = "invalid lzw code";
                return STEP_ERROR;
            }
            z->final = code;
            z->prev = (int32_t)code;
            z->stack[z->stacked++] = (uint8_t)code;
            continue;
        }
        uint32_t entry = code;
        if (code >= z->next_code) {
            if (code > z->next_code) {
                f->msg = "invalid lzw code";
                return STEP_ERROR;
            }
            z->stack[z->stacked++] = (uint8_t)z->final;     /* the KwKwK case */
            entry = (uint32_t)z->prev;
        }
        while (entry >= 256) {
            z->stack[z->stacked++] = z->suffix[entry];
            entry = z->prefix[entry];
        }
        z->final = entry;
        z->stack[z->stacked++] = (uint8_t)entry;
        if (z->next_code < z->end_code) {
            z->prefix[z->next_code] = (uint16_t)z->prev;
            z->suffix[z->next_code] = (uint8_t)z->final;
            z->next_code++;
        }
        z->prev = (int32_t)code;
    }
    f->out_len = out;
    return STEP_MORE;
}

/* ---- pack (.z), the Huffman packer of old Unix, as gzip's unpack.c reads it ----

   After the magic 1f 1e: the original size (4 bytes, MSB first), the longest code length
   max_len (1..25), for each length 1..max_len its number of leaves (one byte each; the count
   for max_len is stored minus 2), then the leaves' byte values in order of length. The codes
   follow, MSB first; at each length the leaves take the largest codes, in order, and the
   parents the smallest ones; the largest code of length max_len (the last leaf) ends the
   data, and the rest of its byte is padding. The checks and messages are gzip's. */

enum { PACK_SIZE, PACK_MAXLEN, PACK_COUNTS, PACK_LITERALS, PACK_CODES, PACK_DONE };

EXPORT("wpigz_pack_reset")
int32_t wpigz_pack_reset(struct inflater *f) {
    struct pack *p = f->pack;
    f->mode = 2;
    f->check_kind = CHECK_NONE;
    f->msg = NULL;
    f->strm.avail_in = 0;
    memset(p, 0, sizeof(*p));
    p->state = PACK_SIZE;
    p->max_leaves = 1;
    return 0;
}

/* After the leaves are known: the parents at each length and where each length's leaves
   start in literal[] (gzip's build_tree); 0, or -1 when the tree is incomplete. */
static int pack_build(struct pack *p) {
    uint32_t nodes = 0, base = 0;
    for (uint32_t len = 1; len <= p->max_len; len++) {
        p->base[len] = base;
        base += p->leaves[len];
    }
    for (uint32_t len = p->max_len; len >= 1; len--) {
        nodes >>= 1;
        p->parents[len] = nodes;
        nodes += p->leaves[len];
    }
    return (nodes >> 1) == 1 ? 0 : -1;
}

/* Header bytes, one at a time; returns STEP_MORE while more are wanted, STEP_ERROR, or
   STEP_END when the header is complete. */
static int32_t pack_header_byte(struct inflater *f, uint32_t b) {
    struct pack *p = f->pack;
    switch (p->state) {
    case PACK_SIZE:
        p->orig_len = (p->orig_len << 8) | b;
        if (++p->header_got == 4)
            p->state = PACK_MAXLEN;
        return STEP_MORE;
    case PACK_MAXLEN:
        if (b == 0 || b > PACK_MAX_BITS) {
            f->msg = "invalid compressed data -- Huffman code bit length out of range";
            return STEP_ERROR;
        }
        p->max_len = b;
        p->len = 1;
        p->state = PACK_COUNTS;
        return STEP_MORE;
    case PACK_COUNTS:
        if (p->max_leaves - (p->len == p->max_len) < b) {
            f->msg = "too many leaves in Huffman tree";
            return STEP_ERROR;
        }
        p->leaves[p->len] = b;
        p->max_leaves = (p->max_leaves - b + 1) * 2 - 1;
        p->stored += b;
        if (p->len++ < p->max_len)
            return STEP_MORE;
        if (p->stored >= 256) {
            f->msg = "too many leaves in Huffman tree";
            return STEP_ERROR;
        }
        p->leaves[p->max_len]++;            /* the stored count is one short of the literals */
        p->state = PACK_LITERALS;
        return STEP_MORE;
    case PACK_LITERALS:
        p->literal[p->nliterals++] = (uint8_t)b;
        if (p->nliterals < p->stored + 1)
            return STEP_MORE;
        p->leaves[p->max_len]++;            /* and the end code is one more leaf */
        if (pack_build(p) < 0) {
            f->msg = "too few leaves in Huffman tree";
            return STEP_ERROR;
        }
        p->state = PACK_CODES;
        return STEP_END;
    }
    return STEP_ERROR;
}

static int32_t pack_step(struct inflater *f) {
    struct pack *p = f->pack;
    uint32_t out = 0;
    while (p->state < PACK_CODES) {
        if (f->strm.avail_in == 0) {
            f->out_len = 0;
            return STEP_MORE;
        }
        f->strm.avail_in--;
        int32_t r = pack_header_byte(f, *f->strm.next_in++);
        if (r == STEP_ERROR)
            return STEP_ERROR;
    }
    while (p->state == PACK_CODES && out < f->out_size) {
        if (p->have == 0) {
            if (f->strm.avail_in == 0)
                break;
            p->byte = *f->strm.next_in++;
            f->strm.avail_in--;
            p->have = 8;
        }
        p->have--;
        p->code = (p->code << 1) | ((p->byte >> p->have) & 1);
        p->code_len++;
        if (p->code < p->parents[p->code_len])
            continue;                       /* an inner node: read on */
        uint32_t leaf = p->code - p->parents[p->code_len];
        if (leaf >= p->leaves[p->code_len]) {
            f->msg = "invalid compressed data -- invalid code";    /* unreachable: the tree is complete */
            return STEP_ERROR;
        }
        if (p->code_len == p->max_len && leaf == p->leaves[p->max_len] - 1) {
            p->state = PACK_DONE;           /* the end code; the rest of its byte is padding */
            break;
        }
        f->out[out++] = p->literal[p->base[p->code_len] + leaf];
        p->produced++;
        p->code = 0;
        p->code_len = 0;
    }
    f->out_len = out;
    if (p->state != PACK_DONE)
        return STEP_MORE;
    if (p->produced != p->orig_len) {
        f->msg = "invalid compressed data--length error";
        return STEP_ERROR;
    }
    return STEP_END;
}

/* One step of the current decoder: fills `out` as far as the input allows. at_eof tells the
   LZW decoder that no more input will come (LZW has no end marker). */
EXPORT("wpigz_inflater_step")
int32_t wpigz_inflater_step(struct inflater *f, int32_t at_eof) {
    if (f->mode == 1) {
        struct lzw *z = f->lzw;
        if (z->prev == -2) {                /* finish a clear code's padding skip */
            if (lzw_skip_group(f)) {
                f->out_len = 0;
                return at_eof ? STEP_END : STEP_MORE;
            }
            z->bits = 9;
            z->mask = (1u << 9) - 1;
            z->next_code = 257;
            z->prev = -1;
        }
        return lzw_step(f, at_eof);
    }
    if (f->mode == 2)
        return pack_step(f);
    return inflate_step(f);
}

/* ---- shared by every module (each links zlib for these decoders) ---- */

/* Check-value arithmetic for the host, which combines the per-job values in order. */
EXPORT("wpigz_crc32_combine")
uint32_t wpigz_crc32_combine(uint32_t a, uint32_t b, uint32_t len_b) { return (uint32_t)crc32_combine(a, b, len_b); }

EXPORT("wpigz_adler32_combine")
uint32_t wpigz_adler32_combine(uint32_t a, uint32_t b, uint32_t len_b) { return (uint32_t)adler32_combine(a, b, len_b); }

/* The zlib version the check values and decoders come from. */
EXPORT("wpigz_zlib_version")
const char *wpigz_zlib_version(void) { return zlibVersion(); }
