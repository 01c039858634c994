/* simd_zlib_ng.h -- wpigz's WebAssembly SIMD128 versions of zlib-ng's hot functions.

   zlib-ng picks its CPU-specific functions at build time when runtime CPU detection is
   disabled: generic_functions.h names the generic C ones as native_*, and an architecture's
   header replaces some of them. wasm/build.py includes this header from zlib-ng's
   arch_functions.h (as an architecture of its own) when WPIGZ_SIMD128 is defined; the
   functions are in simd_zlib_ng.c. WebAssembly has no runtime CPU detection to do: a module
   either validates with SIMD128 or not at all, so every host runs the same code and writes
   the same bytes. */

#ifndef WPIGZ_SIMD_ZLIB_NG_H
#define WPIGZ_SIMD_ZLIB_NG_H

#ifdef WPIGZ_SIMD_COMPARE256
uint32_t compare256_simd128(const uint8_t *src0, const uint8_t *src1);
uint32_t longest_match_simd128(deflate_state *const s, Pos cur_match);
uint32_t longest_match_slow_simd128(deflate_state *const s, Pos cur_match);
#  undef native_compare256
#  define native_compare256 compare256_simd128
#  undef native_longest_match
#  define native_longest_match longest_match_simd128
#  undef native_longest_match_slow
#  define native_longest_match_slow longest_match_slow_simd128
#endif

#ifdef WPIGZ_SIMD_CHUNKSET
uint8_t *chunkmemset_safe_simd128(uint8_t *out, uint8_t *from, unsigned len, unsigned left);
void inflate_fast_simd128(PREFIX3(stream) *strm, uint32_t start);
#  undef native_chunkmemset_safe
#  define native_chunkmemset_safe chunkmemset_safe_simd128
#  undef native_inflate_fast
#  define native_inflate_fast inflate_fast_simd128
#endif

#ifdef WPIGZ_SIMD_ADLER32
uint32_t adler32_simd128(uint32_t adler, const uint8_t *buf, size_t len);
uint32_t adler32_fold_copy_simd128(uint32_t adler, uint8_t *dst, const uint8_t *src, size_t len);
#  undef native_adler32
#  define native_adler32 adler32_simd128
#  undef native_adler32_fold_copy
#  define native_adler32_fold_copy adler32_fold_copy_simd128
#endif

#endif
