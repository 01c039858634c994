"""wasmtime's C API, bound with ctypes: the few functions and structures wpigz uses.

wpigz runs its engine in wasmtime. The ``wasmtime`` wheel ships the runtime as one shared
library (``_libwasmtime.so`` and its kin) plus wasmtime-py, a Python layer over its C API. That
layer builds ctypes prototypes for about a thousand C functions and many Structures when it is
imported: ``python -c "import wasmtime"`` costs 263M instructions (callgrind) where ``python -c
pass`` costs 142M, and that import was most of ``wpigz -c`` on a one-line file (259M). wpigz
needs a small part of the API -- an engine with threads and shared memory, a module compiled or
deserialized, stores, one shared memory, a host function for ``wasi.thread-spawn``, instances,
exports found by name and called with ``wasmtime_func_call_unchecked`` -- so it declares just
those here and loads the wheel's library itself (under 1M instructions), without importing the
``wasmtime`` package. The package is found by the import system's finders (``_find_package``),
which do not run it. The C API may change with each wasmtime major version: wasmtime_version decides whether the
installed one may be loaded at all (48, the LTS, to the newest tested, or a newer one that passed
a self-check in a child process), the declarations below are those of every tested major, and
CHANGES holds what a later major changed, checked against each release's bindings by
tests/test_sandbox_wasmtime_c.py.

Ownership follows the C headers: whatever a ``*_new`` returns is deleted by its Python owner
(``Engine``, ``Module``, ``Store``, ``SharedMemory``, ``HostFunc``'s function type); an error or a
trap returned to us is read into a Python exception and deleted at once (``_failure``); a
``wasm_byte_vec_t`` filled in by wasmtime is copied and deleted; types read from a module
(imports, exports) are borrowed from a vector deleted after reading them. Functions and
instances are plain values inside their Store, which the Python objects keep alive.

Every call releases the GIL (``ctypes.CDLL``), so wasm running on one thread does not stop
Python on the others. A host function runs on the thread that called into wasm, with the GIL
taken again by ctypes. Failures raise ``errors.WasmtimeError`` (or ``errors.Trap``) carrying
wasmtime's own message.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from typing import Any, Callable, Sequence

from . import wasmtime_version
from .errors import Trap, WasmtimeError
from .wasmtime_version import REQUIREMENT, WasmtimeUnusable, installed_version


def _platform_directory() -> tuple[str, str]:
    """(directory, file) of the shared library inside the wasmtime package, as wasmtime-py's
    own ``_ffi.py`` names them: ``<platform>-<machine>/<library>``."""
    platform = "android" if hasattr(sys, "getandroidapilevel") else sys.platform
    names = {"linux": "_libwasmtime.so", "android": "_libwasmtime.so", "darwin": "_libwasmtime.dylib",
             "win32": "_wasmtime.dll"}
    if platform not in names:
        raise WasmtimeUnusable(f"wasmtime does not support the platform {platform}")
    if platform == "win32":
        import platform as _platform        # Windows has no os.uname
        machine = _platform.machine()
    else:
        machine = os.uname().machine
    machine = {"AMD64": "x86_64", "arm64": "aarch64", "ARM64": "aarch64"}.get(machine, machine)
    if machine not in ("x86_64", "aarch64"):
        raise WasmtimeUnusable(f"wasmtime does not support the architecture {machine}")
    return f"{platform}-{machine}", names[platform]


def _find_package(name: str) -> ModuleSpec | None:
    """``importlib.util.find_spec(name)`` for a top-level name, without importing importlib.util:
    that module (with contextlib and collections) is 15M instructions, about 4 ms, of the
    console script's start-up (callgrind; ``python -m`` loads it anyway, for runpy). The same
    finders are asked in the same order, so editable installs and zip imports are found alike."""
    module = sys.modules.get(name)
    if module is not None:
        return module.__spec__
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None:
            spec = find_spec(name, None)
            if spec is not None:
                return spec
    return None


def library_path() -> str:
    """Where the installed wasmtime wheel keeps its shared library, once wasmtime_version has
    agreed to its version; the package is located, not imported."""
    spec = _find_package("wasmtime")
    if spec is None or not spec.submodule_search_locations:
        raise WasmtimeUnusable(f"the wasmtime package is not installed: pip install '{REQUIREMENT}'")
    package = list(spec.submodule_search_locations)[0]
    directory, name = _platform_directory()
    library = os.path.join(package, directory, name)
    global VERSION, MAJOR
    VERSION = installed_version(package)
    wasmtime_version.require(VERSION, library)
    MAJOR = int(VERSION.split(".", 1)[0]) if VERSION else wasmtime_version.NEWEST_TESTED
    return library


VERSION: str | None = None      # the installed wasmtime's version (None: unknown, admitted by a self-check)
MAJOR = wasmtime_version.NEWEST_TESTED      # the major whose declarations apply (see CHANGES)
LIBRARY = library_path()
_lib = ctypes.CDLL(LIBRARY)

_P = ctypes.c_void_p        # every opaque handle: wasm_engine_t*, wasmtime_store_t*, ...
_SIZE = ctypes.c_size_t
_BOOL = ctypes.c_bool
_U8 = ctypes.c_uint8
_U64 = ctypes.c_uint64


# What the C API of a later major changed in the functions below: {major: {name: (result,
# arguments)}}, each entry holding from that major on. Empty: the 51 functions and the
# structures wpigz binds have the same signatures in wasmtime 48, 49, 50 and 51
# (tests/wasmtime_signatures.json, read from each release's wasmtime-py bindings, and
# tests/test_sandbox_wasmtime_c.py compare). A new entry is how the binding follows a change, e.g.
#     CHANGES = {52: {"wasmtime_store_new": (_P, (_P, _P, _P, _P))}}
CHANGES: dict[int, dict[str, tuple[Any, tuple[Any, ...]]]] = {}
DECLARED: dict[str, tuple[Any, tuple[Any, ...]]] = {}       # as written below, for the tests


def declarations(major: int) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """Each bound function's (result, arguments) as wasmtime ``major`` declares them."""
    found = dict(DECLARED)
    for since in sorted(CHANGES):
        if since <= major:
            found.update(CHANGES[since])
    return found


def _fn(name: str, restype: Any, *argtypes: Any) -> Any:
    """The C function name, declared with the signature of wasmtime OLDEST..NEWEST_TESTED unless
    CHANGES says the installed major differs."""
    DECLARED[name] = (restype, argtypes)
    for since in sorted(CHANGES):
        if since <= MAJOR and name in CHANGES[since]:
            restype, argtypes = CHANGES[since][name]
    function = getattr(_lib, name)
    function.restype = restype
    function.argtypes = argtypes
    return function


# ---- structures (layouts as in wasmtime 48 to 51's headers; tests/test_sandbox_wasmtime_c.py compares
# them with wasmtime-py's generated bindings of each)

class _ByteVec(ctypes.Structure):               # wasm_byte_vec_t, also wasm_name_t
    _fields_ = [("size", ctypes.c_size_t), ("data", ctypes.POINTER(ctypes.c_uint8))]
    size: int
    data: Any


class _PointerVec(ctypes.Structure):            # wasm_{import,export,val}type_vec_t
    _fields_ = [("size", ctypes.c_size_t), ("data", ctypes.POINTER(ctypes.c_void_p))]
    size: int
    data: Any


class _Func(ctypes.Structure):                  # wasmtime_func_t: a value inside its store
    _fields_ = [("store_id", ctypes.c_uint64), ("private", ctypes.c_void_p)]


class _Instance(ctypes.Structure):              # wasmtime_instance_t: likewise
    _fields_ = [("store_id", ctypes.c_uint64), ("private", ctypes.c_size_t)]


class _ExternUnion(ctypes.Union):               # wasmtime_extern_union_t
    # func and sharedmemory are the members wpigz reads or writes; the largest members
    # (wasmtime_global_t, _table_t, _memory_t, _tag_t: 24 bytes, 8-aligned) are stood in for by
    # "size", so that the union has their size and alignment
    _fields_ = [("func", _Func), ("sharedmemory", ctypes.c_void_p), ("size", ctypes.c_uint64 * 3)]
    func: _Func
    sharedmemory: int | None


class _Extern(ctypes.Structure):                # wasmtime_extern_t
    _fields_ = [("kind", ctypes.c_uint8), ("of", _ExternUnion)]
    kind: int
    of: _ExternUnion


EXTERN_FUNC = 0             # wasmtime_extern_kind_t
EXTERN_SHAREDMEMORY = 4


class ValRaw(ctypes.Union):                     # wasmtime_val_raw_t
    _fields_ = [("i32", ctypes.c_int32), ("i64", ctypes.c_int64), ("f32", ctypes.c_float),
                ("f64", ctypes.c_double), ("v128", ctypes.c_uint8 * 16), ("funcref", ctypes.c_void_p)]
    i32: int


_VALKINDS = {0: "i32", 1: "i64", 2: "f32", 3: "f64", 4: "v128", 128: "externref", 129: "funcref"}
_I32 = 0

# ---- functions (signatures as in wasmtime 48 to 51, see CHANGES; a "new" result is owned by the caller)

_byte_vec_delete = _fn("wasm_byte_vec_delete", None, _P)
_error_message = _fn("wasmtime_error_message", None, _P, _P)
_error_delete = _fn("wasmtime_error_delete", None, _P)
_trap_new = _fn("wasmtime_trap_new", _P, ctypes.c_char_p, _SIZE)
_trap_message = _fn("wasm_trap_message", None, _P, _P)
_trap_delete = _fn("wasm_trap_delete", None, _P)

_config_new = _fn("wasm_config_new", _P)
_config_wasm_threads_set = _fn("wasmtime_config_wasm_threads_set", None, _P, _BOOL)
_config_shared_memory_set = _fn("wasmtime_config_shared_memory_set", None, _P, _BOOL)
_engine_new_with_config = _fn("wasm_engine_new_with_config", _P, _P)      # takes the config
_engine_delete = _fn("wasm_engine_delete", None, _P)

_module_new = _fn("wasmtime_module_new", _P, _P, _P, _SIZE, _P)
_module_deserialize = _fn("wasmtime_module_deserialize", _P, _P, _P, _SIZE, _P)
_module_serialize = _fn("wasmtime_module_serialize", _P, _P, _P)
_module_delete = _fn("wasmtime_module_delete", None, _P)
_module_imports = _fn("wasmtime_module_imports", None, _P, _P)
_module_exports = _fn("wasmtime_module_exports", None, _P, _P)
_importtype_vec_delete = _fn("wasm_importtype_vec_delete", None, _P)
_exporttype_vec_delete = _fn("wasm_exporttype_vec_delete", None, _P)
_importtype_module = _fn("wasm_importtype_module", ctypes.POINTER(_ByteVec), _P)   # borrowed
_importtype_name = _fn("wasm_importtype_name", ctypes.POINTER(_ByteVec), _P)
_importtype_type = _fn("wasm_importtype_type", _P, _P)
_exporttype_name = _fn("wasm_exporttype_name", ctypes.POINTER(_ByteVec), _P)
_exporttype_type = _fn("wasm_exporttype_type", _P, _P)
_externtype_as_functype = _fn("wasm_externtype_as_functype_const", _P, _P)       # NULL: not a func
_externtype_as_memorytype = _fn("wasm_externtype_as_memorytype_const", _P, _P)
_functype_new = _fn("wasm_functype_new", _P, _P, _P)         # takes both vectors' contents
_functype_params = _fn("wasm_functype_params", ctypes.POINTER(_PointerVec), _P)   # borrowed
_functype_results = _fn("wasm_functype_results", ctypes.POINTER(_PointerVec), _P)
_functype_delete = _fn("wasm_functype_delete", None, _P)
_valtype_new = _fn("wasm_valtype_new", _P, _U8)
_valtype_kind = _fn("wasm_valtype_kind", _U8, _P)
_valtype_vec_new = _fn("wasm_valtype_vec_new", None, _P, _SIZE, _P)   # takes the valtypes
_memorytype_new = _fn("wasmtime_memorytype_new", _P, _U64, _BOOL, _U64, _BOOL, _BOOL, _U8, _P)
_memorytype_minimum = _fn("wasmtime_memorytype_minimum", _U64, _P)
_memorytype_maximum = _fn("wasmtime_memorytype_maximum", _BOOL, _P, _P)
_memorytype_isshared = _fn("wasmtime_memorytype_isshared", _BOOL, _P)
_memorytype_delete = _fn("wasm_memorytype_delete", None, _P)

_store_new = _fn("wasmtime_store_new", _P, _P, _P, _P)
_store_context = _fn("wasmtime_store_context", _P, _P)     # lives as long as the store
_store_delete = _fn("wasmtime_store_delete", None, _P)

_sharedmemory_new = _fn("wasmtime_sharedmemory_new", _P, _P, _P, _P)    # borrows the type
_sharedmemory_delete = _fn("wasmtime_sharedmemory_delete", None, _P)
_sharedmemory_data = _fn("wasmtime_sharedmemory_data", _P, _P)
_sharedmemory_data_size = _fn("wasmtime_sharedmemory_data_size", _SIZE, _P)
_sharedmemory_size = _fn("wasmtime_sharedmemory_size", _U64, _P)

# wasmtime_func_unchecked_callback_t: (env, caller, args_and_results, count) -> wasm_trap_t*,
# the trap (if any) handed over to wasmtime; declared with an integer result (0: none), as
# ctypes needs and as wasmtime-py does
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ValRaw),
                             ctypes.c_size_t)
_func_new_unchecked = _fn("wasmtime_func_new_unchecked", None, _P, _P, _CALLBACK, _P, _P, _P)
_func_type = _fn("wasmtime_func_type", _P, _P, _P)
func_call_unchecked = _fn("wasmtime_func_call_unchecked", _P, _P, _P, _P, _SIZE, _P)
_instance_new = _fn("wasmtime_instance_new", _P, _P, _P, _P, _SIZE, _P, _P)
_instance_export_get = _fn("wasmtime_instance_export_get", _BOOL, _P, _P, ctypes.c_char_p, _SIZE, _P)


# ---- errors

_pending = threading.local()    # .error: what a host function raised, for its caller to re-raise


def _take_bytes(vec: _ByteVec) -> bytes:
    data = ctypes.string_at(vec.data, vec.size) if vec.size else b""
    _byte_vec_delete(ctypes.byref(vec))
    return data


def _failure(error: int | None, trap: int | None = None) -> BaseException | None:
    """The exception for an error or trap that wasmtime returned (both then deleted), or None.

    As wasmtime-py does, an exception that a host function raised (and that became a trap on
    its way through wasm) wins over the trap it became."""
    if not error and not trap:
        return None
    message = _ByteVec()
    if error:
        _error_message(error, ctypes.byref(message))
        _error_delete(error)
    if trap:
        _trap_message(trap, ctypes.byref(message))
        _trap_delete(trap)
    text = _take_bytes(message).rstrip(b"\0").decode("utf-8", "replace")
    raised = getattr(_pending, "error", None)
    if raised is not None:
        _pending.error = None
        return raised
    return Trap(text) if trap and not error else WasmtimeError(text)


def _check(error: int | None, trap: int | None = None) -> None:
    failure = _failure(error, trap)
    if failure is not None:
        raise failure


# ---- types, read out of a module into plain Python values

class MemoryType:
    """A memory's limits in 64 KiB pages (``maximum`` None when unbounded) and whether it is shared."""

    __slots__ = ("minimum", "maximum", "is_shared")

    def __init__(self, minimum: int, maximum: int | None, is_shared: bool) -> None:
        self.minimum, self.maximum, self.is_shared = minimum, maximum, is_shared

    def __repr__(self) -> str:
        return f"MemoryType({self.minimum}, {self.maximum}, shared={self.is_shared})"


class FuncType:
    """A function's parameter and result types, as names ("i32", "i64"...)."""

    __slots__ = ("params", "results")

    def __init__(self, params: Sequence[str], results: Sequence[str]) -> None:
        self.params, self.results = tuple(params), tuple(results)

    def __repr__(self) -> str:
        return f"FuncType({list(self.params)} -> {list(self.results)})"


class ImportType:
    """One import of a module; ``type`` is None for kinds wpigz never imports (globals, tables)."""

    __slots__ = ("module", "name", "type")

    def __init__(self, module: str, name: str, type: MemoryType | FuncType | None) -> None:
        self.module, self.name, self.type = module, name, type


class ExportType:
    """One export of a module; ``type`` as for ImportType."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: MemoryType | FuncType | None) -> None:
        self.name, self.type = name, type


def _name(vec: Any) -> str:
    return ctypes.string_at(vec.contents.data, vec.contents.size).decode("utf-8")


def _valtypes(vec: Any) -> tuple[str, ...]:
    return tuple(_VALKINDS.get(_valtype_kind(vec.contents.data[i]), "?") for i in range(vec.contents.size))


def _functype(functype: int) -> FuncType:
    return FuncType(_valtypes(_functype_params(functype)), _valtypes(_functype_results(functype)))


def _externtype(externtype: int) -> MemoryType | FuncType | None:
    functype = _externtype_as_functype(externtype)
    if functype:
        return _functype(functype)
    memorytype = _externtype_as_memorytype(externtype)
    if memorytype:
        maximum = ctypes.c_uint64()
        bounded = _memorytype_maximum(memorytype, ctypes.byref(maximum))
        return MemoryType(_memorytype_minimum(memorytype), maximum.value if bounded else None,
                          bool(_memorytype_isshared(memorytype)))
    return None


# ---- the objects

class Engine:
    """A wasmtime engine with wasm threads and shared memories enabled (wpigz's one configuration)."""

    def __init__(self) -> None:
        config = _config_new()
        _config_wasm_threads_set(config, True)
        _config_shared_memory_set(config, True)
        self._ptr = _engine_new_with_config(config)
        if not self._ptr:
            raise WasmtimeError("cannot create a wasmtime engine")

    def __del__(self, _delete: Callable[[int], None] = _engine_delete) -> None:
        # the default argument keeps the C function reachable during interpreter shutdown
        if getattr(self, "_ptr", None):
            _delete(self._ptr)
            self._ptr = None


class Module:
    """A compiled module: from wasm bytes, or from ``serialize``'s output by ``deserialize``."""

    _ptr: int | None = None

    def __init__(self, engine: Engine, wasm: bytes | bytearray) -> None:
        wasm = bytes(wasm)      # no copy when it already is bytes
        ptr = ctypes.c_void_p()
        _check(_module_new(engine._ptr, wasm, len(wasm), ctypes.byref(ptr)))
        self._ptr = ptr.value

    @classmethod
    def deserialize(cls, engine: Engine, data: bytes | bytearray) -> Module:
        """A module from ``serialize``'s bytes: machine code that is trusted, not checked."""
        data = bytes(data)
        ptr = ctypes.c_void_p()
        _check(_module_deserialize(engine._ptr, data, len(data), ctypes.byref(ptr)))
        module = cls.__new__(cls)
        module._ptr = ptr.value
        return module

    def serialize(self) -> bytes:
        vec = _ByteVec()
        _check(_module_serialize(self._ptr, ctypes.byref(vec)))
        return _take_bytes(vec)

    @property
    def imports(self) -> list[ImportType]:
        vec = _PointerVec()
        _module_imports(self._ptr, ctypes.byref(vec))
        try:
            return [ImportType(_name(_importtype_module(item)), _name(_importtype_name(item)),
                               _externtype(_importtype_type(item)))
                    for item in (vec.data[i] for i in range(vec.size))]
        finally:
            _importtype_vec_delete(ctypes.byref(vec))

    @property
    def exports(self) -> list[ExportType]:
        vec = _PointerVec()
        _module_exports(self._ptr, ctypes.byref(vec))
        try:
            return [ExportType(_name(_exporttype_name(item)), _externtype(_exporttype_type(item)))
                    for item in (vec.data[i] for i in range(vec.size))]
        finally:
            _exporttype_vec_delete(ctypes.byref(vec))

    def __del__(self, _delete: Callable[[int], None] = _module_delete) -> None:
        if self._ptr:
            _delete(self._ptr)
            self._ptr = None


class Store:
    """A store: the instances and functions of one thread of wasm. Not thread-safe; each wasm
    thread has its own. It keeps alive the host functions its instances import."""

    _ptr: int | None = None

    def __init__(self, engine: Engine) -> None:
        self._ptr = _store_new(engine._ptr, None, None)
        if not self._ptr:
            raise WasmtimeError("cannot create a wasmtime store")
        self.context: int = _store_context(self._ptr)
        self._host_funcs: list[HostFunc] = []

    def __del__(self, _delete: Callable[[int], None] = _store_delete) -> None:
        if self._ptr:
            _delete(self._ptr)
            self._ptr = None


class SharedMemory:
    """A shared linear memory of at least ``minimum`` and at most ``maximum`` 64 KiB pages. It
    never moves, so its address is good for as long as it lives (the instances that import it
    keep it alive inside wasmtime too)."""

    _ptr: int | None = None

    def __init__(self, engine: Engine, minimum: int, maximum: int) -> None:
        memorytype = ctypes.c_void_p()
        _check(_memorytype_new(minimum, True, maximum, False, True, 16, ctypes.byref(memorytype)))
        try:
            ptr = ctypes.c_void_p()
            _check(_sharedmemory_new(engine._ptr, memorytype, ctypes.byref(ptr)))
        finally:
            _memorytype_delete(memorytype)
        self._ptr = ptr.value

    def data_address(self) -> int:
        return _sharedmemory_data(self._ptr) or 0

    def data_len(self) -> int:
        return _sharedmemory_data_size(self._ptr)

    def size(self) -> int:
        """The size in pages."""
        return _sharedmemory_size(self._ptr)

    def __del__(self, _delete: Callable[[int], None] = _sharedmemory_delete) -> None:
        if self._ptr:
            _delete(self._ptr)
            self._ptr = None


class HostFunc:
    """A Python function that wasm can import: i32 parameters, at most one i32 result.

    Made once, it becomes a function in each store it is instantiated into (``Instance``);
    those stores keep it alive. It runs on the thread that called into wasm. If it raises,
    wasm traps and the call that entered wasm re-raises that exception."""

    _type: int | None = None

    def __init__(self, params: int, results: int, function: Callable[..., int | None]) -> None:
        if results > 1:
            raise ValueError("at most one result")
        self._params = params
        self._results = results
        self._function = function
        self._thunk = _CALLBACK(self._trampoline)
        vectors = []
        for count in (params, results):
            kinds = (ctypes.c_void_p * max(count, 1))(*[_valtype_new(_I32) for _ in range(count)])
            vec = _PointerVec()
            _valtype_vec_new(ctypes.byref(vec), count, kinds)
            vectors.append(vec)
        self._type = _functype_new(ctypes.byref(vectors[0]), ctypes.byref(vectors[1]))

    def _trampoline(self, env: int | None, caller: int | None, values: Any, count: int) -> int:
        try:
            result = self._function(*[values[i].i32 for i in range(self._params)])
            if self._results:
                values[0].i32 = result
            return 0
        except BaseException as error:      # noqa: B036 -- re-raised by the caller (_failure)
            _pending.error = error
            text = b"python exception"
            return _trap_new(text, len(text)) or 0

    def __del__(self, _delete: Callable[[int], None] = _functype_delete) -> None:
        if self._type:
            _delete(self._type)
            self._type = None


class Instance:
    """An instance of a module in a store, given its imports in the module's order."""

    def __init__(self, store: Store, module: Module, imports: Sequence[SharedMemory | HostFunc]) -> None:
        externs = (_Extern * max(1, len(imports)))()
        for extern, item in zip(externs, imports):
            if isinstance(item, SharedMemory):
                extern.kind = EXTERN_SHAREDMEMORY
                extern.of.sharedmemory = item._ptr
            else:
                extern.kind = EXTERN_FUNC
                _func_new_unchecked(store.context, item._type, item._thunk, None, None,
                                    ctypes.byref(extern.of.func))
                store._host_funcs.append(item)
        instance = _Instance()
        trap = ctypes.c_void_p()
        _check(_instance_new(store.context, module._ptr, externs, len(imports), ctypes.byref(instance),
                             ctypes.byref(trap)), trap.value)
        self.store = store
        self._instance = instance

    def func(self, name: str) -> Func | None:
        """The exported function called name, or None (looked up by name alone: listing every
        export of an instance costs milliseconds)."""
        item = _Extern()
        raw = name.encode()
        if not _instance_export_get(self.store.context, ctypes.byref(self._instance), raw, len(raw),
                                    ctypes.byref(item)):
            return None
        if item.kind != EXTERN_FUNC:
            raise WasmtimeError(f"export {name} is not a function")
        return Func(self.store, item.of.func)


class Func:
    """A function of a store (here: an instance's export)."""

    def __init__(self, store: Store, func: _Func) -> None:
        self.store = store
        self.raw = _Func(func.store_id, func.private)

    def type(self) -> FuncType:
        functype = _func_type(self.store.context, ctypes.byref(self.raw))
        try:
            return _functype(functype)
        finally:
            _functype_delete(functype)


class Call:
    """One export of one instance, called the short way: ``wasmtime_func_call_unchecked`` with a
    preallocated argument/result buffer. Only for functions whose parameters and results are
    all i32 (checked here), at most one result: every export wpigz calls. Raises
    ``WasmtimeError`` for a missing export or another signature, ``Trap`` when wasm traps."""

    __slots__ = ("_name", "_context", "_func", "_buffer", "_trap", "_params", "_results", "_keep")

    def __init__(self, instance: Instance, name: str) -> None:
        func = instance.func(name)
        if func is None:
            raise WasmtimeError(f"the module has no export {name}")
        kind = func.type()
        if any(t != "i32" for t in (*kind.params, *kind.results)) or len(kind.results) > 1:
            raise WasmtimeError(f"export {name} is not a function of i32 values")
        self._name = name
        self._context = instance.store.context
        self._func = ctypes.byref(func.raw)
        self._buffer = (ValRaw * max(1, len(kind.params), len(kind.results)))()
        self._trap = ctypes.c_void_p()
        self._params = len(kind.params)
        self._results = len(kind.results)
        self._keep = func       # its store, and the wasmtime_func_t that _func points to

    def __call__(self, *args: int) -> int:
        if len(args) != self._params:
            # the buffer is reused: a missing argument would silently be the previous call's
            raise TypeError(f"{self._name} takes {self._params} arguments, {len(args)} given")
        buffer = self._buffer
        for i, value in enumerate(args):
            buffer[i].i32 = value
        # ctypes releases the GIL for the call: workers (and other Python threads) run meanwhile
        error = func_call_unchecked(self._context, self._func, buffer, len(buffer), ctypes.byref(self._trap))
        if error or self._trap:
            trap, self._trap.value = self._trap.value, None
            _check(error, trap)
        return buffer[0].i32 if self._results else 0
