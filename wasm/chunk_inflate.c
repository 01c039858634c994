/* chunk_inflate.c -- decoding one chunk of a deflate stream without the window before it.

   This is the sandboxed half of wpigz's parallel decompression of ordinary gzip files
   (wpigz/decode/chunks.py is the host half; the method is the one of pugz and rapidgzip). The host
   cuts a deflate stream into chunks of compressed bytes. For each chunk, on its own thread and
   its own wasm instance:

   1. the *block finder* (wpigz_chunk_find) locates a position at or after the chunk's nominal
      start where a deflate block plausibly begins: the byte after an empty stored block
      (00 00 ff ff, which pigz and zlib's sync flush write between pigz's blocks), or a bit
      where a valid non-final dynamic-Huffman block header starts (what gzip writes), checked
      by decoding a little from there;
   2. the *chunk decoder* (wpigz_chunk_decode) decodes from that bit without knowing the 32 KiB
      of output before it. It writes 16-bit symbols: a byte is 0..255, and a byte copied from
      the unknown window is a *marker*, 256 + its index in that window. As soon as the
      last 32 KiB of output hold no marker (no later copy can reach one), it goes on as a
      plain inflate writing bytes. It stops at the
      first block boundary of the same kind the finder finds that lies at or past the chunk's
      end (so that the next chunk's finder, searching from there, lands on the same bit), or
      at the end of the final block;
   3. if the previous chunk passes while this one still decodes, the host hands its window
      over (wpigz_chunk_handoff, from the previous chunk's thread): at the next block boundary
      the decode turns what it wrote into bytes and goes on in bytes (take_handoff), if that
      chunk stopped at the bit where this decode began;
   4. otherwise, once the previous chunk's last 32 KiB of output is known, *marker replacement*
      (wpigz_chunk_resolve) turns the symbols into bytes in one pass, a byte and a marker
      alike looked up in one table (the 256 bytes, then that window): first in this chunk's
      last 32 KiB, which the next chunk waits for (the only serial step), then in the rest.

   The host accepts a chunk only if the chunk before it stopped exactly at the bit where this
   one began; otherwise the chunk is decoded again from that bit. A chunk's check value
   is computed here (wpigz_chunk_check), their combination and every check is the host's. Anything this decoder refuses -- invalid data, a chunk that does not end inside its
   bytes, more output than the buffer holds -- is not an error here: the host hands the range,
   from the last verified bit and with the known window, to the sequential decoder (zlib-ng's
   inflate, wasm/inflater.c), whose messages are the ones users see. So this decoder must never
   accept what zlib rejects (its code-set checks are zlib's), and may reject more.

   Each chunk decoder is owned by one host thread (the instance it was made in is that
   thread's); it mallocs its buffers once, at wpigz_chunk_new. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zlib.h"

#define EXPORT(name) __attribute__((export_name(name)))

#define WSIZE 32768u
#define MARK 256u               /* symbols >= MARK are markers: MARK + index in the window */
#define MARKS4 0xff00ff00ff00ff00ull    /* the high bytes of 4 symbols: a marker among them? */
#define FBITS 10                /* bits resolved by one lookup; longer codes go the slow way */
#define MAXBITS 15
#define LITS 4                  /* literals per refill in the fast loop */
#define SLACK 8                 /* symbols past sym_cap that a copy may overwrite (bytes: 2 x) */

/* wpigz_chunk_decode results */
#define CHUNK_STOPPED 1         /* stopped at a boundary the finder would find, at or past end */
#define CHUNK_END 2             /* the final block ended */
#define CHUNK_BAD (-1)          /* invalid deflate data (or a code set zlib would refuse) */
#define CHUNK_SHORT (-2)        /* the input ran out before a stop */
#define CHUNK_FULL (-3)         /* more output than allowed */

#define NO_HANDOFF UINT32_MAX   /* handoff_bit: no window handed over */

/* A decoded code, as the tables hold it: what it means, so that one lookup gives a literal, or
   a length's or a distance's base and its count of extra bits.
   bits 0-4: the code's length; 8-12: that plus the extra bits; 16-31: the literal, base or symbol. */
#define E_LIT 0x8000u           /* a literal (litlen tables) */
#define E_EOB 0x4000u           /* the end of the block (litlen tables) */
#define E_BAD 0x2000u           /* no valid symbol: 286, 287, distances 30, 31, or no code */
#define E_LEN(e) ((e) & 31)
#define E_ALL(e) (((e) >> 8) & 31)      /* a length or distance: code and extra bits */
#define E_VALUE(e) ((e) >> 16)

#define TAB_CODES 0             /* the code-length code: E_VALUE is the symbol */
#define TAB_LIT 1               /* literal/length codes */
#define TAB_DIST 2              /* distance codes */

struct huff {
    uint32_t fast[1u << FBITS]; /* by the next FBITS bits: the entry; 0 = slow path */
    uint16_t count[MAXBITS + 1];
    uint16_t sorted[288];       /* symbols by code, for the slow path */
    uint32_t table;             /* TAB_* */
    int32_t first, index;       /* the slow path's state after FBITS bits (see decode_slow) */
};

struct chunk {
    uint8_t *in;
    uint32_t in_cap;
    uint16_t *sym;              /* output symbols */
    uint8_t *bytes;             /* the output as bytes (narrow, then resolve) */
    uint32_t sym_cap;
    uint32_t out_len;
    uint32_t wide_end;          /* the output is symbols before this, bytes from here on */
    uint32_t pending;           /* symbols before this still to be resolved (wide_end, or 0
                                   once a hand-over resolved them during the decode) */
    uint32_t start_bit;         /* where the running decode began (NO_HANDOFF in a probe) */
    /* The hand-over, written by the host from another thread while a decode runs: the
       previous chunk's window (at the end of table), then its length, then the bit where the
       previous chunk stopped (relative to this chunk's input; NO_HANDOFF: none yet). The
       decode loads handoff_bit atomically at block boundaries; equal to its start_bit, the
       window is this chunk's, and the decode resolves what it wrote so far and goes on in
       bytes (take_handoff). */
    uint32_t handoff_bit;
    uint32_t handoff_len;
    uint32_t lowest;            /* the lowest window index a marker holds (WSIZE: none) */
    uint32_t stop_bit;
    uint8_t kraft3[512];        /* three code-length-code lengths (9 bits): their Kraft terms,
                                   128 >> len each (0 for 0), summed (the block finder's) */
    struct huff lit, dist, fixed_lit, fixed_dist, codes;
    /* resolve's table, symbol -> byte: the 256 bytes, then the window (the previous output's
       last WSIZE bytes, host-written) */
    uint8_t table[MARK + WSIZE];
};

struct bits {
    const uint8_t *in;
    uint32_t len;               /* input bytes */
    uint32_t pos;               /* next byte to load into buf */
    uint64_t buf;
    uint32_t cnt;               /* bits in buf */
};

static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                      3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                       257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                       8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                       7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t code_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* ---- bits: LSB first; bytes past the end read as zeros, and bit_pos then says so ---- */

/* Top the buffer up to 56 bits or more with one word load: 8 input bytes must be left. */
static inline void refill_word(struct bits *b) {
    uint64_t word;
    memcpy(&word, b->in + b->pos, 8);
    b->buf |= word << b->cnt;
    b->pos += (63 - b->cnt) >> 3;
    b->cnt |= 56;
}

static inline void refill(struct bits *b) {
    if (b->pos + 8 <= b->len) {
        refill_word(b);
        return;
    }
    while (b->cnt <= 56) {
        b->buf |= (uint64_t)(b->pos < b->len ? b->in[b->pos] : 0) << b->cnt;
        b->pos++;
        b->cnt += 8;
    }
}

static inline uint32_t peek(struct bits *b, uint32_t n) { return (uint32_t)(b->buf & ((1ull << n) - 1)); }

static inline void drop(struct bits *b, uint32_t n) {
    b->buf >>= n;
    b->cnt -= n;
}

/* at most 32 bits */
static inline uint32_t take(struct bits *b, uint32_t n) {
    uint32_t v;
    if (b->cnt < n)
        refill(b);
    v = peek(b, n);
    drop(b, n);
    return v;
}

static inline uint64_t bit_pos(const struct bits *b) { return (uint64_t)b->pos * 8 - b->cnt; }

static void bits_at(struct bits *b, const uint8_t *in, uint32_t len, uint64_t bit) {
    b->in = in;
    b->len = len;
    b->pos = (uint32_t)(bit >> 3);
    b->buf = 0;
    b->cnt = 0;
    refill(b);
    drop(b, (uint32_t)(bit & 7));
}

/* ---- Huffman codes ---- */

/* The entry of symbol sym, of a code len bits long, in a table of kind `table`. */
static uint32_t entry_of(uint32_t table, uint32_t sym, uint32_t len) {
    if (table == TAB_LIT) {
        if (sym < 256)
            return sym << 16 | E_LIT | len;
        if (sym == 256)
            return E_EOB | len;
        if (sym < 286)
            return (uint32_t)len_base[sym - 257] << 16 | (len + len_extra[sym - 257]) << 8 | len;
        return E_BAD | len;
    }
    if (table == TAB_DIST) {
        if (sym < 30)
            return (uint32_t)dist_base[sym] << 16 | (len + dist_extra[sym]) << 8 | len;
        return E_BAD | len;
    }
    return sym << 16 | len;
}

/* Build h from n code lengths; 0, or -1 for a set zlib's inflate_table refuses: an
   over-subscribed set, or an incomplete one unless it is a single code of length 1 (for the
   code-length code, an empty set too: zlib decodes it to zero lengths, then refuses the
   missing end-of-block code). */
static int build(struct huff *h, const uint8_t *lens, uint32_t n, uint32_t table) {
    uint16_t offs[MAXBITS + 2];
    int32_t left = 1;
    uint32_t max = 0, len, i;
    memset(h->count, 0, sizeof(h->count));
    for (i = 0; i < n; i++)
        h->count[lens[i]]++;
    h->count[0] = 0;
    for (len = 1; len <= MAXBITS; len++) {
        left <<= 1;
        left -= h->count[len];
        if (left < 0)
            return -1;
        if (h->count[len])
            max = len;
    }
    if (max == 0 && table == TAB_CODES)
        return -1;
    if (left > 0 && max > 1 && table != TAB_CODES)
        return -1;
    if (left > 0 && table == TAB_CODES)
        return -1;
    h->table = table;
    h->first = h->index = 0;
    for (len = 1; len <= FBITS; len++) {
        h->index += h->count[len];
        h->first = (h->first + h->count[len]) << 1;
    }
    offs[1] = 0;
    for (len = 1; len <= MAXBITS; len++)
        offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
    for (i = 0; i < n; i++)
        if (lens[i])
            h->sorted[offs[lens[i]]++] = (uint16_t)i;
    /* The table grows a bit at a time, as libdeflate builds it: the first 2^len entries are
       the table for len bits, whose codes go in LSB first, so the table for len + 1 bits is
       two copies of it plus the codes of length len + 1 (in places no shorter code holds).
       Places no code of FBITS bits or fewer reaches stay 0 (the slow path). */
    uint32_t code = 0, k = 0;
    h->fast[0] = h->fast[1] = 0;
    for (len = 1; len <= FBITS; len++) {
        if (len > 1)
            memcpy(h->fast + (1u << (len - 1)), h->fast, (1u << (len - 1)) * sizeof(h->fast[0]));
        for (uint32_t j = 0; j < h->count[len]; j++, k++, code++)
            h->fast[__builtin_bitreverse32(code) >> (32 - len)] = entry_of(table, h->sorted[k], len);
        code <<= 1;
    }
    return 0;
}

/* The slow path of decode: canonical decoding, a bit at a time, of the codes longer than
   FBITS (or none: then E_BAD with length 0). It is reached only when the first FBITS bits
   start no shorter code (those are in the fast table), so it starts after them, from the
   state the bit-at-a-time loop would have there (h->first, h->index, set by build). */
static uint32_t decode_slow(const struct huff *h, uint32_t v) {
    int32_t code = (int32_t)(__builtin_bitreverse32(v) >> (32 - FBITS)) << 1, first = h->first, index = h->index;
    for (uint32_t len = FBITS + 1; len <= MAXBITS; len++) {
        code |= (int32_t)((v >> (len - 1)) & 1);
        int32_t count = h->count[len];
        if (code - count < first)
            return entry_of(h->table, h->sorted[index + (code - first)], len);
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return E_BAD;
}

/* The entry of the next code, its bits dropped (not its extra bits). buf holds >= MAXBITS
   bits. */
static inline uint32_t decode(const struct huff *h, struct bits *b) {
    uint32_t entry = h->fast[peek(b, FBITS)];
    if (__builtin_expect(entry == 0, 0))
        entry = decode_slow(h, peek(b, MAXBITS));
    drop(b, E_LEN(entry));
    return entry;
}

static void build_fixed(struct chunk *c) {
    uint8_t lens[288];
    uint32_t i;
    for (i = 0; i < 144; i++)
        lens[i] = 8;
    for (; i < 256; i++)
        lens[i] = 9;
    for (; i < 280; i++)
        lens[i] = 7;
    for (; i < 288; i++)
        lens[i] = 8;
    build(&c->fixed_lit, lens, 288, TAB_LIT);
    for (i = 0; i < 32; i++)            /* 30 and 31 are codes, refused when used, as zlib does */
        lens[i] = 5;
    build(&c->fixed_dist, lens, 32, TAB_DIST);
}

/* A dynamic block's header, after BFINAL and BTYPE: the codes into c->lit and c->dist. */
static int dynamic_header(struct chunk *c, struct bits *b) {
    uint8_t lens[320];
    uint32_t nlen, ndist, ncode, i;
    refill(b);
    nlen = take(b, 5) + 257;
    ndist = take(b, 5) + 1;
    ncode = take(b, 4) + 4;
    if (nlen > 286 || ndist > 30)
        return -1;
    memset(lens, 0, 19);
    refill(b);
    for (i = 0; i < ncode; i++)
        lens[code_order[i]] = (uint8_t)take(b, 3);
    if (build(&c->codes, lens, 19, TAB_CODES))
        return -1;
    for (i = 0; i < nlen + ndist;) {
        uint32_t entry, s, rep, value;
        refill(b);
        entry = decode(&c->codes, b);
        if (entry & E_BAD)
            return -1;
        s = E_VALUE(entry);
        if (s < 16) {
            lens[i++] = (uint8_t)s;
            continue;
        }
        if (s == 16) {
            if (i == 0)
                return -1;
            value = lens[i - 1];
            rep = 3 + take(b, 2);
        } else if (s == 17) {
            value = 0;
            rep = 3 + take(b, 3);
        } else {
            value = 0;
            rep = 11 + take(b, 7);
        }
        if (i + rep > nlen + ndist)
            return -1;
        while (rep--)
            lens[i++] = (uint8_t)value;
    }
    if (lens[256] == 0)
        return -1;
    if (build(&c->lit, lens, nlen, TAB_LIT) || build(&c->dist, lens + nlen, ndist, TAB_DIST))
        return -1;
    return 0;
}

/* The state of one decode, kept across blocks and across the switch from symbols to bytes. */
struct run {
    uint32_t n;                 /* output so far */
    uint32_t max_out;
    uint32_t wide;              /* still writing 16-bit symbols */
    uint32_t marker_end;        /* no output from here on holds a marker */
    uint32_t lowest;            /* the lowest window index of a marker written */
};

#define CODES_DONE 0            /* end of block */
#define CODES_SWITCH 1          /* wide output may stop: the last 32 KiB hold no marker */

/* n bytes from distance bytes back (at least 8), in steps of 16 bytes, or of 8 when the
   distance is shorter than 16: each step reads only bytes already final, and writes up to a
   step's length minus one past n (the buffers' SLACK). Symbols are copied as their bytes. */
static inline __attribute__((always_inline))
void copy_steps(uint8_t *to, const uint8_t *from, uint32_t n, uint32_t distance) {
    if (distance >= 16)
        for (uint32_t i = 0; i < n; i += 16)
            memcpy(to + i, from + i, 16);
    else
        for (uint32_t i = 0; i < n; i += 8)
            memcpy(to + i, from + i, 8);
}

/* One match's copy: len symbols (or bytes) from distance back, written at n; the room (and
   SLACK for the last step's overrun) is the caller's to check. The new n, or UINT32_MAX for a
   distance before the chunk in bytes (the window had markers there). In symbols, a copy that
   starts in the unknown window writes markers, and one that may bring markers along moves
   marker_end (the output from there on may hold one). */
static inline __attribute__((always_inline))
uint32_t copy_match(uint16_t *out16, uint8_t *out8, uint32_t n, uint32_t len, uint32_t distance,
                    uint32_t *marker_end, uint32_t *lowest, const int wide) {
    /* the copies below go in steps of 16 or 8 bytes: each read is of output already final
       (the distance is at least the step), and the buffers have room for the last step's
       overrun (SLACK) */
    if (wide) {
        if (distance > n) {
            /* the start of the copy lies in the unknown window: markers (a distance past the
               stream's real start is found when they are resolved) */
            uint32_t end = n + len;
            if (WSIZE + n - distance < *lowest)
                *lowest = WSIZE + n - distance;
            while (n < end && distance > n) {
                out16[n] = (uint16_t)(MARK + WSIZE + n - distance);
                n++;
            }
            while (n < end) {
                out16[n] = out16[n - distance];
                n++;
            }
            *marker_end = n;
            return n;
        }
        const uint16_t *from = out16 + n - distance;
        uint16_t *to = out16 + n;
        if (n - distance >= *marker_end) {      /* no marker can come along */
            if (distance >= 4)                  /* 8 bytes or more back */
                copy_steps((uint8_t *)to, (const uint8_t *)from, 2 * len, 2 * distance);
            else
                for (uint32_t i = 0; i < len; i++)
                    to[i] = from[i];
        } else {
            uint64_t seen = 0;                  /* the copied symbols, or'ed: markers? */
            if (distance >= 8) {
                for (uint32_t i = 0; i < len; i += 8) {
                    uint64_t eight[2];
                    memcpy(eight, from + i, 16);
                    seen |= eight[0] | eight[1];
                    memcpy(to + i, eight, 16);
                }
            } else if (distance >= 4) {
                for (uint32_t i = 0; i < len; i += 4) {
                    uint64_t four;
                    memcpy(&four, from + i, 8);
                    seen |= four;
                    memcpy(to + i, &four, 8);
                }
            } else
                for (uint32_t i = 0; i < len; i++)
                    seen |= to[i] = from[i];
            /* a copy that brought a marker along (the overrun's symbols may say so wrongly:
               that only delays the switch) */
            if (seen & MARKS4)
                *marker_end = n + len;
        }
        return n + len;
    }
    if (distance > n)                           /* before the chunk: the window had markers */
        return UINT32_MAX;
    const uint8_t *from = out8 + n - distance;
    uint8_t *to = out8 + n;
    if (distance >= 8)
        copy_steps(to, from, len, distance);
    else if (distance == 1)
        memset(to, from[0], len);
    else
        for (uint32_t i = 0; i < len; i++)
            to[i] = from[i];
    return n + len;
}

/* A length's or a distance's value: its base plus its extra bits, which follow its code; the
   code and the extra bits are dropped together (E_ALL bits). */
static inline uint32_t take_value(struct bits *b, uint32_t e) {
    uint32_t all = E_ALL(e), v = E_VALUE(e) + (((uint32_t)b->buf & ((1u << all) - 1)) >> E_LEN(e));
    drop(b, all);
    return v;
}

/* One block's codes, after its header, written as symbols (wide) or as bytes. The wide
   version returns CODES_SWITCH as soon as no copy can reach a marker any more (a copy
   reaches back 32 KiB at most); the caller then goes on with the byte version, which is a
   plain inflate loop. always_inline: the two versions are compiled apart.

   Two loops, as libdeflate has them: the fast one runs while the input holds 16 more bytes
   and the output room for a whole match (258), so that it tests neither: the bit buffer is
   topped up with one word load after each step (56 bits or more: a length and a distance
   with their extra bits take 48), and the next code's entry is looked up before a match's
   copy, so that the load overlaps it. The careful one decodes the rest of the block, checking
   everything. */
static inline __attribute__((always_inline))
int32_t codes(struct chunk *c, struct bits *b, const struct huff *lit, const struct huff *dist,
              struct run *r, const int wide) {
    uint16_t *out16 = c->sym;
    uint8_t *out8 = c->bytes;
    uint32_t n = r->n, max_out = r->max_out, marker_end = r->marker_end, lowest = r->lowest;
    struct bits in = *b;        /* a local copy: the output's byte stores cannot alias it, so
                                   it stays in registers */
    int32_t result = CODES_DONE;
    uint32_t e, len, d, distance;
    if (in.pos + 16 <= in.len) {
        refill_word(&in);
        e = lit->fast[peek(&in, FBITS)];
        /* here e is the next code's entry (0: a long code), and the buffer holds 56 bits or
           more */
        while (in.pos + 16 <= in.len && max_out - n >= 258 && !(wide && n >= marker_end + WSIZE)) {
            if (e & E_LIT) {
                /* a literal, and up to LITS - 1 more from the same bits (each at most FBITS,
                   and the next lookup's FBITS after them: 4 x 10 + 10 of the 56) */
                for (uint32_t k = 0; k < LITS && (e & E_LIT); k++) {
                    drop(&in, E_LEN(e));
                    if (wide)
                        out16[n++] = (uint16_t)E_VALUE(e);
                    else
                        out8[n++] = (uint8_t)E_VALUE(e);
                    e = lit->fast[peek(&in, FBITS)];
                }
                refill_word(&in);       /* e stays valid: the refill adds bits above */
                continue;
            }
            if (e == 0)
                e = decode_slow(lit, peek(&in, MAXBITS));
            if (e & (E_LIT | E_EOB | E_BAD)) {
                drop(&in, E_LEN(e));
                if (e & E_EOB)
                    goto done;
                if (e & E_BAD) {
                    result = CHUNK_BAD;
                    goto done;
                }
                if (wide)               /* a literal with a long code */
                    out16[n++] = (uint16_t)E_VALUE(e);
                else
                    out8[n++] = (uint8_t)E_VALUE(e);
                refill_word(&in);
                e = lit->fast[peek(&in, FBITS)];
                continue;
            }
            len = take_value(&in, e);
            d = dist->fast[peek(&in, FBITS)];
            if (d == 0)
                d = decode_slow(dist, peek(&in, MAXBITS));
            if (d & E_BAD) {
                drop(&in, E_LEN(d));
                result = CHUNK_BAD;
                goto done;
            }
            distance = take_value(&in, d);
            refill_word(&in);
            e = lit->fast[peek(&in, FBITS)];
            n = copy_match(out16, out8, n, len, distance, &marker_end, &lowest, wide);
            if (n == UINT32_MAX) {
                result = CHUNK_BAD;
                goto done;
            }
        }
    }
    for (;;) {
        if (wide && n >= marker_end + WSIZE) {       /* no overflow: both below 2^24 */
            result = CODES_SWITCH;
            break;
        }
        /* 48 bits hold a whole length and distance with their extra bits */
        if (in.pos + 8 <= in.len)
            refill_word(&in);
        else if (in.cnt < 48) {
            if (in.pos > in.len + 8) {      /* decoding the zeros past the end */
                result = CHUNK_SHORT;
                break;
            }
            refill(&in);
        }
        e = lit->fast[peek(&in, FBITS)];
        if (e == 0)
            e = decode_slow(lit, peek(&in, MAXBITS));
        if (e & (E_LIT | E_EOB | E_BAD)) {
            drop(&in, E_LEN(e));
            if (e & E_EOB)
                break;
            if (e & E_BAD) {
                result = CHUNK_BAD;
                break;
            }
            if (n >= max_out) {
                result = CHUNK_FULL;
                break;
            }
            if (wide)
                out16[n++] = (uint16_t)E_VALUE(e);
            else
                out8[n++] = (uint8_t)E_VALUE(e);
            continue;
        }
        len = take_value(&in, e);
        d = decode(dist, &in);
        if (d & E_BAD) {
            result = CHUNK_BAD;
            break;
        }
        distance = E_VALUE(d) + peek(&in, E_ALL(d) - E_LEN(d));
        drop(&in, E_ALL(d) - E_LEN(d));
        if (n + len > max_out) {
            result = CHUNK_FULL;
            break;
        }
        n = copy_match(out16, out8, n, len, distance, &marker_end, &lowest, wide);
        if (n == UINT32_MAX) {
            result = CHUNK_BAD;
            break;
        }
    }
done:
    *b = in;
    r->n = n;
    r->marker_end = marker_end;
    r->lowest = lowest;
    return result;
}

/* Go on in bytes: the last 32 KiB of symbols (no markers among them) become bytes first. */
static void to_bytes(struct chunk *c, struct run *r) {
    uint32_t from = r->n > WSIZE ? r->n - WSIZE : 0;
    for (uint32_t i = from; i < r->n; i++)
        c->bytes[i] = (uint8_t)c->sym[i];
    r->wide = 0;
    c->wide_end = r->n;
    c->pending = r->n;
}

/* The previous chunk's window was handed over, and the previous chunk stopped where this decode
   began: the symbols so far become bytes (resolve's table lookup), and the decode goes on in
   bytes. Only once 32 KiB are out, so that no later copy reaches before this chunk's own
   output (the byte loop copies from its own output only). Nothing is done if a marker points
   before the window handed over (a stream's second chunk, after less than 32 KiB): then the
   host's resolve refuses the chunk as before, and the sequential decoder reports it. */
static void take_handoff(struct chunk *c, struct run *r) {
    uint32_t window_len = c->handoff_len;
    if (r->lowest < WSIZE - (window_len < WSIZE ? window_len : WSIZE))
        return;
    const uint16_t *s = c->sym;
    const uint8_t *table = c->table;
    uint8_t *o = c->bytes;
    for (uint32_t i = 0; i < r->n; i++)
        o[i] = table[s[i]];
    r->wide = 0;
    r->lowest = WSIZE;
    c->wide_end = r->n;
    c->pending = 0;
}

/* Decode blocks from the bit where b stands, from output position 0, at most max_out in all.
   Stops (CHUNK_STOPPED) after a non-final empty stored block whose length field starts at or
   past end_bit, with c->stop_bit at the byte after it, or before a non-final dynamic block
   that starts at or past end_bit; or at the end of the final block (CHUNK_END, stop_bit just
   after it). The output is symbols up to c->wide_end, then bytes; c->lowest is the lowest
   window index a marker holds. */
static int32_t inflate_blocks(struct chunk *c, struct bits *b, uint64_t end_bit, uint32_t max_out) {
    struct run r = {0, max_out, 1, 0, WSIZE};
    int32_t result;
    c->wide_end = UINT32_MAX;
    c->pending = UINT32_MAX;
    for (;;) {
        uint32_t final, type;
        const struct huff *lit, *dist;
        /* acquire: the window and its length, written before handoff_bit, are seen */
        if (r.wide && r.n >= WSIZE &&
            __atomic_load_n(&c->handoff_bit, __ATOMIC_ACQUIRE) == c->start_bit)
            take_handoff(c, &r);
        if (bit_pos(b) + 3 > (uint64_t)b->len * 8) {
            result = CHUNK_SHORT;
            break;
        }
        refill(b);
        if ((b->buf & 7) == 4 && bit_pos(b) >= end_bit) {
            /* a non-final dynamic block at or past the end: the finder's other kind of start */
            c->stop_bit = (uint32_t)bit_pos(b);
            result = CHUNK_STOPPED;
            break;
        }
        final = take(b, 1);
        type = take(b, 2);
        if (type == 0) {
            uint32_t at, len, nlen;
            drop(b, b->cnt & 7);        /* to the byte boundary */
            at = (uint32_t)(bit_pos(b) >> 3);
            if ((uint64_t)at + 4 > b->len) {
                result = CHUNK_SHORT;
                break;
            }
            len = take(b, 16);
            nlen = take(b, 16);
            if (len != (~nlen & 0xffff)) {
                result = CHUNK_BAD;
                break;
            }
            if (len == 0 && !final && (uint64_t)at * 8 >= end_bit) {
                c->stop_bit = (at + 4) * 8;
                result = CHUNK_STOPPED;
                break;
            }
            if ((uint64_t)at + 4 + len > b->len) {
                result = CHUNK_SHORT;
                break;
            }
            if (r.n + len > max_out) {
                result = CHUNK_FULL;
                break;
            }
            if (r.wide)
                for (uint32_t i = 0; i < len; i++)
                    c->sym[r.n + i] = b->in[at + 4 + i];
            else
                memcpy(c->bytes + r.n, b->in + at + 4, len);
            r.n += len;
            bits_at(b, b->in, b->len, (uint64_t)(at + 4 + len) * 8);
            if (r.wide && r.n >= r.marker_end + WSIZE)
                to_bytes(c, &r);
        } else {
            if (type == 1) {
                lit = &c->fixed_lit;
                dist = &c->fixed_dist;
            } else if (type == 2) {
                if (dynamic_header(c, b)) {
                    result = CHUNK_BAD;
                    break;
                }
                lit = &c->lit;
                dist = &c->dist;
            } else {
                result = CHUNK_BAD;
                break;
            }
            if (r.wide) {
                result = codes(c, b, lit, dist, &r, 1);
                if (result == CODES_SWITCH) {
                    to_bytes(c, &r);
                    result = codes(c, b, lit, dist, &r, 0);
                }
            } else
                result = codes(c, b, lit, dist, &r, 0);
            if (result != CODES_DONE)
                break;
        }
        if (bit_pos(b) > (uint64_t)b->len * 8) {
            result = CHUNK_SHORT;
            break;
        }
        if (final) {
            c->stop_bit = (uint32_t)bit_pos(b);
            result = CHUNK_END;
            break;
        }
    }
    c->out_len = r.n;
    c->lowest = r.lowest;
    if (c->wide_end > r.n)
        c->wide_end = r.n;
    if (c->pending > r.n)
        c->pending = r.n;
    return result;
}

/* ---- exports: each called by the one host thread that owns the chunk decoder ---- */

/* A chunk decoder taking in_cap bytes of input and giving at most sym_cap symbols; NULL if
   memory is short. */
EXPORT("wpigz_chunk_new")
struct chunk *wpigz_chunk_new(uint32_t in_cap, uint32_t sym_cap) {
    struct chunk *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->in = malloc(in_cap + 8);
    c->sym = malloc(((size_t)sym_cap + SLACK) * 2);
    c->bytes = malloc((size_t)sym_cap + SLACK * 2);
    if (c->in == NULL || c->sym == NULL || c->bytes == NULL) {
        free(c->in);
        free(c->sym);
        free(c->bytes);
        free(c);
        return NULL;
    }
    c->in_cap = in_cap;
    c->sym_cap = sym_cap;
    c->handoff_bit = NO_HANDOFF;
    for (uint32_t i = 0; i < MARK; i++)
        c->table[i] = (uint8_t)i;
    for (uint32_t v = 0; v < 512; v++)
        for (uint32_t k = 0; k < 9; k += 3)
            c->kraft3[v] += (v >> k) & 7 ? 128u >> ((v >> k) & 7) : 0;
    build_fixed(c);
    return c;
}

EXPORT("wpigz_chunk_free")
void wpigz_chunk_free(struct chunk *c) {
    if (c == NULL)
        return;
    free(c->in);
    free(c->sym);
    free(c->bytes);
    free(c);
}

/* Where the host writes the chunk's input bytes, and the window for resolve. */
EXPORT("wpigz_chunk_in")
uint8_t *wpigz_chunk_in(struct chunk *c) { return c->in; }

EXPORT("wpigz_chunk_window")
uint8_t *wpigz_chunk_window(struct chunk *c) { return c->table + MARK; }

/* After resolve: the output bytes. */
EXPORT("wpigz_chunk_out")
uint8_t *wpigz_chunk_out(struct chunk *c) { return c->bytes; }

/* The host's rotation of output buffers: the main thread writes a chunk's output straight
   from its buffer, so the next decodes go into others until it is done (chunks.py,
   use_buffer). wpigz_chunk_buffer: one more buffer of the size of the first, NULL if memory
   is short; wpigz_chunk_use: the buffer the next decodes write their bytes to (the first, or
   one of those); wpigz_chunk_buffer_free: a buffer of wpigz_chunk_buffer, not in use. */
EXPORT("wpigz_chunk_buffer")
uint8_t *wpigz_chunk_buffer(struct chunk *c) { return malloc((size_t)c->sym_cap + SLACK * 2); }

EXPORT("wpigz_chunk_use")
void wpigz_chunk_use(struct chunk *c, uint8_t *bytes) { c->bytes = bytes; }

EXPORT("wpigz_chunk_buffer_free")
void wpigz_chunk_buffer_free(uint8_t *bytes) { free(bytes); }

EXPORT("wpigz_chunk_out_len")
uint32_t wpigz_chunk_out_len(struct chunk *c) { return c->out_len; }

/* Where the host writes a hand-over: handoff_bit, then handoff_len (two uint32). */
EXPORT("wpigz_chunk_handoff")
uint32_t *wpigz_chunk_handoff(struct chunk *c) { return &c->handoff_bit; }

/* After resolve: the check value of the output bytes, CRC-32 (adler 0) or Adler-32 (adler 1).
   Computed here rather than by the host: zlib-ng's CRC-32 in wasm measured 0.022 CPU-s per
   100 MiB against 0.033 for the host's zlib 1.2.13 (python's zlib.crc32). */
EXPORT("wpigz_chunk_check")
uint32_t wpigz_chunk_check(struct chunk *c, uint32_t adler) {
    return adler ? (uint32_t)adler32_z(1, c->bytes, c->out_len) : (uint32_t)crc32_z(0, c->bytes, c->out_len);
}

EXPORT("wpigz_chunk_wide_end")
uint32_t wpigz_chunk_wide_end(struct chunk *c) { return c->wide_end; }

EXPORT("wpigz_chunk_stop")
uint32_t wpigz_chunk_stop(struct chunk *c) { return c->stop_bit; }

/* Decode the in_len input bytes from bit start_bit until a stop at or past end_bit or the end
   of the stream (see inflate_blocks): CHUNK_STOPPED or CHUNK_END, with the symbols and
   stop_bit set; else CHUNK_BAD, CHUNK_SHORT or CHUNK_FULL (the host falls back). */
EXPORT("wpigz_chunk_decode")
int32_t wpigz_chunk_decode(struct chunk *c, uint32_t in_len, uint32_t start_bit, uint32_t end_bit) {
    struct bits b;
    if (in_len > c->in_cap || start_bit > in_len * 8)
        return CHUNK_BAD;
    bits_at(&b, c->in, in_len, start_bit);
    c->out_len = 0;
    c->start_bit = start_bit;
    return inflate_blocks(c, &b, end_bit, c->sym_cap);
}

#define PROBE_SYMBOLS 4096      /* symbols a candidate must decode to be taken */

/* 57 bits of the input from bit `at` on (zeros past the end), in one load. */
static inline uint64_t bits57(const uint8_t *in, uint32_t in_len, uint64_t at) {
    uint32_t byte = (uint32_t)(at >> 3);
    uint64_t word = 0;
    if (byte + 8 <= in_len)
        memcpy(&word, in + byte, 8);
    else if (byte < in_len)
        memcpy(&word, in + byte, in_len - byte);
    return (word >> (at & 7)) & ((1ull << 57) - 1);
}

/* n <= 32 bits of the input from bit `at` on (zeros past the end). */
static inline uint32_t bits_from(const uint8_t *in, uint32_t in_len, uint64_t at, uint32_t n) {
    return (uint32_t)bits57(in, in_len, at) & (uint32_t)((1ull << n) - 1);
}

/* Whether a non-final dynamic block's header may start at bit `at`, whose first 17 bits are
   head: BFINAL 0, BTYPE 2, HLIT <= 29, HDIST <= 29, and a complete code-length code (the
   Kraft sum of its lengths, which zlib requires complete; c->kraft3 sums three lengths per
   lookup). Cheap: nothing is built. */
static inline int dynamic_start(const struct chunk *c, uint32_t in_len, uint64_t at, uint32_t head) {
    uint32_t sum = 0;
    if ((head & 7) != 4 || ((head >> 3) & 31) > 29 || ((head >> 8) & 31) > 29)
        return 0;
    uint32_t ncode = ((head >> 13) & 15) + 4;
    /* the ncode lengths of 3 bits, the rest zeros (57 bits: 19 lengths) */
    uint64_t lens = bits57(c->in, in_len, at + 17) & ((1ull << (3 * ncode)) - 1);
    for (uint32_t i = 0; i < 7; i++, lens >>= 9)
        sum += c->kraft3[lens & 511];
    return sum == 128;
}

/* Whether a block may start at bit `at`: the block after an empty stored block (its length
   field at or past from_bit), or a non-final dynamic block whose header is valid; either
   way, PROBE_SYMBOLS symbols (or the data up to the next stop or the end) decode from it. */
static int plausible(struct chunk *c, uint32_t in_len, uint64_t at, uint32_t from_bit, uint32_t probe) {
    struct bits b;
    uint32_t byte = (uint32_t)(at >> 3);
    int flush = (at & 7) == 0 && byte >= 4 && (uint64_t)(byte - 4) * 8 >= from_bit &&
                memcmp(c->in + byte - 4, "\0\0\377\377", 4) == 0;
    if (!flush) {
        if (!dynamic_start(c, in_len, at, bits_from(c->in, in_len, at, 17)))
            return 0;
        bits_at(&b, c->in, in_len, at + 3);
        if (dynamic_header(c, &b))
            return 0;
    }
    bits_at(&b, c->in, in_len, at);
    c->out_len = 0;
    c->start_bit = NO_HANDOFF - 1;      /* a probe takes no hand-over */
    return inflate_blocks(c, &b, at + 1, probe) != CHUNK_BAD;
}

/* The block finder: the first bit at or past from_bit, in the in_len input bytes, where a
   block plausibly starts (see plausible); -1 if there is none. Bits are screened a byte at a
   time: a dynamic header starts with the bits 0, 0, 1, and a flush's block on a byte whose 4
   bytes before are 00 00 ff ff. The probe uses the symbol buffer, which the next decode
   overwrites. */
EXPORT("wpigz_chunk_find")
int32_t wpigz_chunk_find(struct chunk *c, uint32_t in_len, uint32_t from_bit) {
    uint32_t probe = c->sym_cap < PROBE_SYMBOLS ? c->sym_cap : PROBE_SYMBOLS;
    if (in_len > c->in_cap || in_len < 4)
        return -1;
    uint64_t limit = (uint64_t)(in_len - 3) * 8;
    for (uint64_t at = from_bit & ~7ull; at < limit; at += 8) {
        uint64_t w = bits57(c->in, in_len, at);
        /* bit i set: bits i, i+1, i+2 are 0, 0, 1 */
        uint32_t starts = (uint32_t)(~w & ~(w >> 1) & (w >> 2)) & 0xff;
        uint32_t byte = (uint32_t)(at >> 3);
        uint32_t flush = byte >= 4 && memcmp(c->in + byte - 4, "\0\0\377\377", 4) == 0;
        for (starts |= flush; starts; starts &= starts - 1) {
            uint32_t i = (uint32_t)__builtin_ctz(starts), head = (uint32_t)(w >> i);
            uint64_t bit = at + i;
            if (bit < from_bit || bit >= limit)
                continue;
            /* most candidates fail here: HLIT or HDIST too large, or an incomplete
               code-length code */
            if (!(i == 0 && flush) && !dynamic_start(c, in_len, bit, head))
                continue;
            if (plausible(c, in_len, bit, from_bit, probe))
                return (int32_t)bit;
        }
    }
    return -1;
}

/* Marker replacement: the symbols in [from, to) become bytes, now that the window is known --
   the window's last window_len bytes (the host wrote them at the end of the table, see
   wpigz_chunk_window) are the output before this chunk. One table lookup per symbol, a byte
   or a marker alike, and no branch. The host converts the last 32 KiB first -- the next
   chunk's window, the only serial step -- and the rest after handing that on. 0, or -1 if a
   marker points before the known window (a distance too far back: the host falls back and
   the sequential decoder reports it). */
EXPORT("wpigz_chunk_resolve")
int32_t wpigz_chunk_resolve(struct chunk *c, uint32_t window_len, uint32_t from, uint32_t to) {
    const uint16_t *s = c->sym;
    const uint8_t *table = c->table;
    uint8_t *o = c->bytes;
    if (c->lowest < WSIZE - (window_len < WSIZE ? window_len : WSIZE))
        return -1;
    if (to > c->pending)
        to = c->pending;
    for (uint32_t i = from; i < to; i++)
        o[i] = table[s[i]];
    return 0;
}
