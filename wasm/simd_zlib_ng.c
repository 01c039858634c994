/* simd_zlib_ng.c -- WebAssembly SIMD128 versions of zlib-ng's hot functions (see simd_zlib_ng.h).

   Built inside zlib-ng's source tree, after its own x86 SSE2 and ARM NEON versions, reusing
   its templates: match_tpl.h makes longest_match from a compare256, chunkset_tpl.h and
   inffast_tpl.h make inflate's chunk copy and fast loop from 16-byte loads and stores. All of
   it is integer SIMD, whose results WebAssembly defines exactly: the output is the same on
   every host. */

#include "zbuild.h"
#include "zmemory.h"
#include "deflate.h"
#include "adler32_p.h"
#include <wasm_simd128.h>

#ifdef WPIGZ_SIMD_COMPARE256
/* Length of the common prefix of two 256-byte strings: 16 bytes per compare. */
static inline uint32_t compare256_simd128_static(const uint8_t *src0, const uint8_t *src1) {
    uint32_t len = 0;
    do {
        v128_t eq = wasm_i8x16_eq(wasm_v128_load(src0 + len), wasm_v128_load(src1 + len));
        uint32_t mask = (uint32_t)wasm_i8x16_bitmask(eq);
        if (mask != 0xffff)
            return len + (uint32_t)__builtin_ctz(~mask);
        len += 16;
        eq = wasm_i8x16_eq(wasm_v128_load(src0 + len), wasm_v128_load(src1 + len));
        mask = (uint32_t)wasm_i8x16_bitmask(eq);
        if (mask != 0xffff)
            return len + (uint32_t)__builtin_ctz(~mask);
        len += 16;
    } while (len < 256);
    return 256;
}

Z_INTERNAL uint32_t compare256_simd128(const uint8_t *src0, const uint8_t *src1) {
    return compare256_simd128_static(src0, src1);
}

#define LONGEST_MATCH       longest_match_simd128
#define COMPARE256          compare256_simd128_static
#include "match_tpl.h"

#define LONGEST_MATCH_SLOW
#define LONGEST_MATCH       longest_match_slow_simd128
#define COMPARE256          compare256_simd128_static
#include "match_tpl.h"
#endif

#ifdef WPIGZ_SIMD_CHUNKSET
typedef v128_t chunk_t;

#define HAVE_CHUNKMEMSET_2
#define HAVE_CHUNKMEMSET_4
#define HAVE_CHUNKMEMSET_8

static inline void chunkmemset_2(uint8_t *from, chunk_t *chunk) {
    *chunk = wasm_i16x8_splat((int16_t)zng_memread_2(from));
}

static inline void chunkmemset_4(uint8_t *from, chunk_t *chunk) {
    *chunk = wasm_i32x4_splat((int32_t)zng_memread_4(from));
}

static inline void chunkmemset_8(uint8_t *from, chunk_t *chunk) {
    *chunk = wasm_i64x2_splat((int64_t)zng_memread_8(from));
}

static inline void loadchunk(uint8_t const *s, chunk_t *chunk) {
    *chunk = wasm_v128_load(s);
}

static inline void storechunk(uint8_t *out, chunk_t *chunk) {
    wasm_v128_store(out, *chunk);
}

#define CHUNKSIZE        chunksize_simd128
#define CHUNKCOPY        chunkcopy_simd128
#define CHUNKUNROLL      chunkunroll_simd128
#define CHUNKMEMSET      chunkmemset_simd128
#define CHUNKMEMSET_SAFE chunkmemset_safe_simd128
#include "chunkset_tpl.h"

#define INFLATE_FAST     inflate_fast_simd128
#include "inffast_tpl.h"
#endif

#ifdef WPIGZ_SIMD_ADLER32
/* Adler-32, 16 bytes per step: s1 gains the bytes' sum, s2 gains 16 times the s1 before the
   step (summed in `prior`) plus the bytes weighted 16..1 (i32x4.dot_i16x8_s). Per NMAX chunk
   the true s2 increment is below 2^32, so the u32 lanes may wrap on the way: their sum mod 2^32
   is still exact. */
Z_INTERNAL uint32_t adler32_simd128(uint32_t adler, const uint8_t *buf, size_t len) {
    uint32_t s1 = adler & 0xffff, s2 = adler >> 16;
    const v128_t weights_lo = wasm_i16x8_make(16, 15, 14, 13, 12, 11, 10, 9);
    const v128_t weights_hi = wasm_i16x8_make(8, 7, 6, 5, 4, 3, 2, 1);

    while (len >= 16) {
        size_t n = (len < NMAX ? len : NMAX) & ~(size_t)15;
        v128_t sum = wasm_i32x4_splat(0), weighted = sum, prior = sum;
        len -= n;
        s2 += s1 * (uint32_t)n;
        for (size_t i = 0; i < n; i += 16, buf += 16) {
            v128_t d = wasm_v128_load(buf);
            prior = wasm_i32x4_add(prior, sum);
            sum = wasm_i32x4_add(sum, wasm_u32x4_extadd_pairwise_u16x8(wasm_u16x8_extadd_pairwise_u8x16(d)));
            weighted = wasm_i32x4_add(weighted, wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(d), weights_lo));
            weighted = wasm_i32x4_add(weighted, wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(d), weights_hi));
        }
        v128_t s2v = wasm_i32x4_add(wasm_i32x4_shl(prior, 4), weighted);
        s1 += wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) +
              wasm_i32x4_extract_lane(sum, 2) + wasm_i32x4_extract_lane(sum, 3);
        s2 += (uint32_t)(wasm_i32x4_extract_lane(s2v, 0) + wasm_i32x4_extract_lane(s2v, 1) +
                         wasm_i32x4_extract_lane(s2v, 2) + wasm_i32x4_extract_lane(s2v, 3));
        s1 %= BASE;
        s2 %= BASE;
    }
    while (len--) {
        s1 += *buf++;
        s2 += s1;
    }
    return (s1 % BASE) | ((s2 % BASE) << 16);
}

Z_INTERNAL uint32_t adler32_fold_copy_simd128(uint32_t adler, uint8_t *dst, const uint8_t *src, size_t len) {
    adler = adler32_simd128(adler, src, len);
    memcpy(dst, src, len);
    return adler;
}
#endif
