/* zopfli_alloc.h -- force-included (-include) into every zopfli source file by build.py.

   zopfli calls malloc, realloc and free freely, from whichever thread compresses. wasi-libc's
   malloc is not safe on wpigz's worker threads, so these names are redirected to the
   per-worker heap in deflate_zopfli.c (the heap of the worker running on this thread). Its
   diagnostics (verbose mode only, which pigz never sets, and out-of-memory reports) go
   nowhere, and its exit on a failed allocation traps: the module imports no WASI file or
   process functions. The system headers come first, so their declarations keep the real
   names. */

#ifndef WPIGZ_ZOPFLI_ALLOC_H
#define WPIGZ_ZOPFLI_ALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *wpigz_zmalloc(size_t size);
void *wpigz_zcalloc(size_t count, size_t size);
void *wpigz_zrealloc(void *p, size_t size);
void wpigz_zfree(void *p);

#define malloc(size) wpigz_zmalloc(size)
#define calloc(count, size) wpigz_zcalloc(count, size)
#define realloc(p, size) wpigz_zrealloc(p, size)
#define free(p) wpigz_zfree(p)
#define fprintf(...) ((void)0)
#define exit(code) __builtin_trap()

#endif
