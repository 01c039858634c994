"""The engine's error type, in a module of its own so that the wasm host and the wasi-threads
spawner (which the host imports) can both raise it without importing each other."""

from __future__ import annotations


class EngineError(Exception):
    """The WebAssembly engine failed: a worker trapped, a worker could not be spawned, the
    module ran out of memory, or zlib reported an error."""


def trap_message(error: Exception) -> str:
    """The first line of a wasmtime trap or error, for messages."""
    text = getattr(error, "message", None) or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
