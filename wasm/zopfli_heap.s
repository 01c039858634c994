# zopfli_heap.s -- "the heap of the worker running on this thread", for deflate_zopfli.c.
#
# zopfli's malloc/free (redirected by zopfli_alloc.h) need to find the calling worker's heap
# without an argument. A wasm global belongs to one instance, and wasi-threads gives every
# thread its own instance on the shared memory, so a global is a per-thread variable: each
# worker stores its heap here once (compressor_start) and the allocator reads it back. C has
# no way to declare a wasm global, hence assembly (like __stack_pointer in thread_start.s).

	.globaltype wpigz_heap, i32
	.section .data.wpigz_heap,"",@
wpigz_heap:

	.section .text.wpigz_heap_get,"",@
	.globl wpigz_heap_get
	.type wpigz_heap_get,@function
wpigz_heap_get:
	.functype wpigz_heap_get () -> (i32)
	global.get wpigz_heap
	end_function

	.section .text.wpigz_heap_set,"",@
	.globl wpigz_heap_set
	.type wpigz_heap_set,@function
wpigz_heap_set:
	.functype wpigz_heap_set (i32) -> ()
	local.get 0
	global.set wpigz_heap
	end_function
