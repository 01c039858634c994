"""The sandbox: the only code that touches the WebAssembly runtime. ``wasmtime_c`` binds the
few wasmtime C functions wpigz calls (without importing the wasmtime package), ``wasi_threads``
answers the module's ``thread-spawn`` with a new instance on the same shared memory,
``wasm_host`` loads, caches and drives a module (the ring of deflate jobs, the decoder), ``engines``
is the table of engines and the ``.wasm`` files they live in (those files sit one folder up, in
``wpigz/``, beside their licences, where ``wasm/build.py`` writes them), and ``errors`` holds the
engine's exception types. It may import only ``wpigz._record`` and the standard library: every
other layer builds on it, and nothing above wasmtime's C API lives here."""
