# thread_start.s -- the entry point of every thread the module spawns (wasi-threads).
#
# The host calls wasi_thread_start(tid, start_arg) on a fresh instance that shares the main
# instance's memory. That instance's __stack_pointer still points at the main thread's stack,
# so before any C code runs this sets it to the top of the worker's own stack, which
# wpigz_new() allocated and stored as the first word of the struct start_arg points to.
# Written in assembly because C code would use the stack pointer before it could set it.

	.globaltype __stack_pointer, i32
	.functype worker_main (i32, i32) -> ()

	.globl wasi_thread_start
	.export_name wasi_thread_start, wasi_thread_start
	.type wasi_thread_start,@function
wasi_thread_start:
	.functype wasi_thread_start (i32, i32) -> ()
	local.get 1
	i32.load 0
	global.set __stack_pointer
	local.get 0
	local.get 1
	call worker_main
	end_function
