"""The engine's error types, in a module of their own so that the wasm host, the wasi-threads
spawner (which the host imports) and the C binding under both can raise them without
importing each other."""

from __future__ import annotations


class EngineError(Exception):
    """The WebAssembly engine failed: a worker trapped, a worker could not be spawned, the
    module ran out of memory, or zlib reported an error."""


class WasmtimeError(Exception):
    """wasmtime reported an error (wasmtime_error_t): its message is ``message``. Raised by
    wpigz.sandbox.wasmtime_c; the wasm host turns it into an EngineError naming what failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Trap(WasmtimeError):
    """WebAssembly trapped (wasm_trap_t): unreachable code, out-of-bounds memory..."""


def trap_message(error: Exception) -> str:
    """The first line of a wasmtime trap or error, for messages."""
    text = getattr(error, "message", None) or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
