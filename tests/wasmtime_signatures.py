"""The C API signatures wpigz binds, as each wasmtime release declares them; writes and reads
tests/wasmtime_signatures.json.

wasmtime-py's ``_bindings.py`` is generated from the C headers of the same release, so its
ctypes declarations are the release's signatures. ``describe`` reduces a ctypes declaration to
what the ABI sees (a pointer, an integer of some width and sign, a structure of some size...),
so that wpigz's declarations (``c_void_p`` for every handle) and wasmtime-py's (a typed pointer)
compare equal exactly when a call made with one is right for the other.

Regenerate after a new wasmtime release (each wheel downloaded, not installed)::

    pip download --no-deps wasmtime==52.0.0 -d /tmp/w52 && (cd /tmp/w52 && unzip -q *.whl)
    python tests/wasmtime_signatures.py /tmp/w48 /tmp/w49 /tmp/w50 /tmp/w51 /tmp/w52

Each directory holds an unpacked wheel (its ``wasmtime/`` package and dist-info); each is read
in a child interpreter of its own, since ``_bindings.py`` loads its release's library.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from typing import Any

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wasmtime_signatures.json")

# wasmtime-py's name of each structure wpigz lays out itself, with the fields wpigz reads or writes
STRUCTURES = {
    "wasm_byte_vec_t": ("size", "data"),
    "wasm_importtype_vec_t": ("size", "data"),
    "wasm_exporttype_vec_t": ("size", "data"),
    "wasm_valtype_vec_t": ("size", "data"),
    "wasmtime_func_t": ("store_id",),
    "wasmtime_instance_t": ("store_id",),
    "wasmtime_extern_union_t": ("func", "sharedmemory"),
    "wasmtime_extern_t": ("kind", "of"),
    "wasmtime_val_raw_t": ("i32", "funcref"),
}
CONSTANTS = ("WASMTIME_EXTERN_FUNC", "WASMTIME_EXTERN_SHAREDMEMORY", "WASM_I32")
CALLBACK = "wasmtime_func_unchecked_callback_t"


def describe(kind: Any) -> str:
    """What the C ABI sees of a ctypes type."""
    if kind is None:
        return "void"
    if isinstance(kind, type) and issubclass(kind, (ctypes._Pointer, ctypes._CFuncPtr)):     # type: ignore[attr-defined]
        return "pointer"
    if kind in (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p):
        return "pointer"
    if isinstance(kind, type) and issubclass(kind, (ctypes.Structure, ctypes.Union)):
        return f"struct {ctypes.sizeof(kind)}/{ctypes.alignment(kind)}"
    if isinstance(kind, type) and issubclass(kind, ctypes.Array):
        return f"array {ctypes.sizeof(kind)}/{ctypes.alignment(kind)}"
    code = getattr(kind, "_type_", None)
    if code == "?":
        return "bool"
    if code in ("f", "d"):
        return f"float{8 * ctypes.sizeof(kind)}"
    if isinstance(code, str) and code in "bBhHiIlLqQ":
        return f"{'u' if code.isupper() else 'i'}{8 * ctypes.sizeof(kind)}"
    raise ValueError(f"cannot describe {kind!r}")


def signature(restype: Any, argtypes: Any) -> str:
    """A function's signature as the ABI sees it, e.g. "pointer (pointer, u64)"."""
    return f"{describe(restype)} ({', '.join(describe(a) for a in argtypes or ())})"


def layout(structure: Any, fields: tuple[str, ...]) -> list[Any]:
    return [ctypes.sizeof(structure), ctypes.alignment(structure),
            {name: getattr(structure, name).offset for name in fields}]


def read_bindings(names: list[str]) -> dict[str, Any]:
    """The signatures of ``names`` and the layouts and constants above, from the wasmtime-py
    importable here (importing it loads its library)."""
    from wasmtime import _bindings, _ffi
    functions = {}
    for name in names:
        function = getattr(_bindings, "_" + name)
        functions[name] = signature(function.restype, function.argtypes)
    callback = getattr(_bindings, CALLBACK)
    return {"functions": functions,
            "callback": signature(callback._restype_, callback._argtypes_),
            "structures": {name: layout(getattr(_bindings, name), fields) for name, fields in STRUCTURES.items()},
            "constants": {name: getattr(_ffi, name).value for name in CONSTANTS}}


def _version(directory: str) -> str:
    (info,) = [entry for entry in os.listdir(directory) if entry.startswith("wasmtime-") and entry.endswith(".dist-info")]
    return info[len("wasmtime-"):-len(".dist-info")]


def main(directories: list[str]) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, here)
    from wpigz.sandbox import wasmtime_c
    names = sorted(wasmtime_c.DECLARED)
    found = {}
    for directory in directories:
        code = ("import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]); "
                "import wasmtime_signatures as w; print(json.dumps(w.read_bindings(sys.argv[3:])))")
        out = subprocess.run([sys.executable, "-c", code, os.path.abspath(directory), os.path.dirname(FIXTURE), *names],
                             capture_output=True, check=True, env={**os.environ, "PYTHONPATH": ""}).stdout
        found[_version(directory)] = json.loads(out)
    with open(FIXTURE, "w", encoding="utf-8") as f:
        json.dump(found, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
