// thread.js -- one wasi thread of the engine: the browser's side of `wasi.thread-spawn`.
//
// The orchestrator (orchestrator.js) makes a pool of these Workers before it starts a run,
// because thread-spawn is synchronous and a Worker created just then might not start while
// its creator blocks in wpigz_wait. Each one instantiates the same compiled module on the
// same shared memory, says it is ready, and then sleeps on its own word of the "board" (a
// small SharedArrayBuffer) until thread-spawn assigns it a start_arg. It then calls
// wasi_thread_start(tid, start_arg) -- the engine's worker loop, which returns when the
// pool is stopped -- marks itself idle again (the orchestrator "joins" it by waiting for
// that) and sleeps until the next assignment. No message is needed once it is ready.
"use strict";

// the board: BOARD_WORDS Int32 words per thread worker (same constants in orchestrator.js)
const BOARD_WORDS = 4, STATE = 0, TID = 1, ARG = 2;
const STARTING = 0, IDLE = 1, ASSIGNED = 2, QUIT = 3;

function instantiate(module, memory) {
  const provided = {
    "env.memory": memory,
    // a wasi thread never spawns threads itself; refuse, as wasi-threads lets a host do
    "wasi.thread-spawn": () => -1,
  };
  const imports = {};
  for (const item of WebAssembly.Module.imports(module)) {
    const key = `${item.module}.${item.name}`;
    if (!(key in provided)) throw new Error(`unexpected import ${key}`);
    (imports[item.module] = imports[item.module] || {})[item.name] = provided[key];
  }
  return new WebAssembly.Instance(module, imports);
}

self.onmessage = (event) => {
  const { module, memory, board, index } = event.data;
  const base = index * BOARD_WORDS;
  let instance;
  try {
    instance = instantiate(module, memory);
  } catch (error) {
    Atomics.store(board, base + STATE, QUIT);
    Atomics.notify(board, base + STATE);
    postMessage({ type: "failed", index, message: String(error && error.message || error) });
    return;
  }
  Atomics.store(board, base + STATE, IDLE);
  Atomics.notify(board, base + STATE);
  postMessage({ type: "ready", index });
  for (;;) {
    Atomics.wait(board, base + STATE, IDLE);        // a Worker may block; this one only waits
    const state = Atomics.load(board, base + STATE);
    if (state === QUIT) return;
    if (state !== ASSIGNED) continue;
    const tid = Atomics.load(board, base + TID), startArg = Atomics.load(board, base + ARG);
    try {
      instance.exports.wasi_thread_start(tid, startArg);
    } catch (error) {
      // The worker never reached its own exit bookkeeping: do it through this instance,
      // which also wakes the orchestrator waiting in wpigz_wait (as wasi_threads.py does).
      postMessage({ type: "trap", tid, message: String(error && error.message || error) });
      try { instance.exports.wpigz_worker_trapped(startArg); } catch (ignored) { /* recorded */ }
      instance = instantiate(module, memory);   // do not reuse an instance left mid-call
    }
    Atomics.store(board, base + STATE, IDLE);
    Atomics.notify(board, base + STATE);
  }
};
