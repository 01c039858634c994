"""wpigz's own binding of wasmtime's C API (wpigz/sandbox/wasmtime_c.py).

The command must not import the wasmtime package (that import cost more than the rest of a
short command's start-up); what it binds instead must agree with the package it replaces. These
tests import the real ``wasmtime`` package on purpose, to compare against wasmtime-py: the
library located, the structure layouts, the serialized modules, the types and the messages.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
from pathlib import Path

import pytest
import wasmtime
from wasmtime import _bindings as upstream

import wasmtime_signatures as signatures
from conftest import run_in_one_interpreter, text_bytes, tool
from wpigz.sandbox import wasmtime_c, wasmtime_version
from wpigz.sandbox.errors import Trap, WasmtimeError
from wpigz.sandbox.wasm_host import ENGINES, compiled_module

@pytest.mark.timeout(120)
@pytest.mark.parametrize("args", [["-c", "small.txt"], ["-dc", "small.txt.gz"], ["-t", "small.txt.gz"],
                                  ["-l", "small.txt.gz"], ["-11", "-c", "small.txt"],
                                  ["--engine", "libdeflate", "-c", "small.txt"]])
def test_the_command_does_not_import_the_wasmtime_package(tmp_path: Path, args: list[str]):
    (tmp_path / "small.txt").write_bytes(text_bytes(3000))
    packed = subprocess.run([tool("pigz"), "-c", "small.txt"], cwd=tmp_path, capture_output=True, check=True)
    (tmp_path / "small.txt.gz").write_bytes(packed.stdout)
    proc, status, modules = run_in_one_interpreter(args, tmp_path)
    assert (status, proc.stderr) == (0, b"")
    assert [name for name in modules if name.split(".")[0] == "wasmtime"] == []
    assert proc.stdout != b"" or args[0] == "-t"


def test_the_library_is_the_one_wasmtime_py_loads():
    assert os.path.samefile(wasmtime_c.LIBRARY, upstream.dll._name)


# ---- the C API of every supported wasmtime (tests/wasmtime_signatures.json, from each release's
# wasmtime-py bindings, see tests/wasmtime_signatures.py)

RECORDED = json.loads(Path(signatures.FIXTURE).read_text())
OURS = {"wasm_byte_vec_t": wasmtime_c._ByteVec, "wasm_importtype_vec_t": wasmtime_c._PointerVec,
        "wasm_exporttype_vec_t": wasmtime_c._PointerVec, "wasm_valtype_vec_t": wasmtime_c._PointerVec,
        "wasmtime_func_t": wasmtime_c._Func, "wasmtime_instance_t": wasmtime_c._Instance,
        "wasmtime_extern_union_t": wasmtime_c._ExternUnion, "wasmtime_extern_t": wasmtime_c._Extern,
        "wasmtime_val_raw_t": wasmtime_c.ValRaw}


def _major(version: str) -> int:
    return int(version.split(".")[0])


def test_every_supported_major_is_recorded():
    assert sorted({_major(v) for v in RECORDED}) == list(range(wasmtime_version.OLDEST,
                                                               wasmtime_version.NEWEST_TESTED + 1))


@pytest.mark.parametrize("version", sorted(RECORDED))
def test_the_declarations_are_each_release_s_signatures(version: str):
    # what wasmtime_c declares for that major (CHANGES applied), as the ABI sees it
    release = RECORDED[version]
    ours = {name: signatures.signature(restype, argtypes)
            for name, (restype, argtypes) in wasmtime_c.declarations(_major(version)).items()}
    assert ours == release["functions"]
    assert signatures.signature(wasmtime_c._CALLBACK._restype_, wasmtime_c._CALLBACK._argtypes_) == release["callback"]
    assert {name: signatures.layout(OURS[name], signatures.STRUCTURES[name]) for name in OURS} == release["structures"]
    assert {"WASMTIME_EXTERN_FUNC": wasmtime_c.EXTERN_FUNC, "WASMTIME_EXTERN_SHAREDMEMORY": wasmtime_c.EXTERN_SHAREDMEMORY,
            "WASM_I32": wasmtime_c._I32} == release["constants"]


def test_the_record_is_what_the_installed_wasmtime_says():
    # the fixture is checked against the real bindings of whichever wasmtime runs the tests
    # (CI: the newest, and 48 in a second venv); a newer major than recorded fails here until
    # the fixture is regenerated and NEWEST_TESTED moved
    installed = wasmtime_c.VERSION
    assert installed is not None
    same_major = [v for v in RECORDED if _major(v) == _major(installed)]
    assert same_major, (f"wasmtime {installed} is not in tests/wasmtime_signatures.json: "
                        "regenerate it (tests/wasmtime_signatures.py) and check wasmtime_c.CHANGES")
    live = signatures.read_bindings(sorted(wasmtime_c.DECLARED))
    for version in same_major:
        assert live == RECORDED[version], version


def test_the_changes_table_moves_a_signature_from_its_major_on():
    # the mechanism a later major's change would use, tried on a copy of the table
    saved = dict(wasmtime_c.CHANGES)
    try:
        wasmtime_c.CHANGES[99] = {"wasmtime_store_new": (ctypes.c_void_p, (ctypes.c_void_p,) * 4)}
        assert wasmtime_c.declarations(98)["wasmtime_store_new"][1] == wasmtime_c.DECLARED["wasmtime_store_new"][1]
        assert len(wasmtime_c.declarations(99)["wasmtime_store_new"][1]) == 4
    finally:
        wasmtime_c.CHANGES.clear()
        wasmtime_c.CHANGES.update(saved)


def test_pyproject_asks_for_the_lts_or_newer_with_no_upper_bound():
    # no upper bound: installing wpigz never downgrades a newer wasmtime the user has; a newer
    # major than tested is admitted by the self-check instead
    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    (line,) = [line.strip() for line in text.splitlines() if line.strip().startswith('"wasmtime')]
    assert line == f'"{wasmtime_version.REQUIREMENT}",' == '"wasmtime>=48",'


def _upstream_engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    return wasmtime.Engine(config)


@pytest.mark.parametrize("name", sorted(ENGINES.values()))
def test_serialized_modules_are_wasmtime_py_s_both_ways(name: str):
    # the compiled-module cache stores what Module.serialize gives; wasmtime-py reads it, and
    # what wasmtime-py writes loads here (same engine configuration)
    engine, module = compiled_module(name)
    ours = module.serialize()
    theirs_engine = _upstream_engine()
    theirs = wasmtime.Module.deserialize(theirs_engine, ours)
    assert [(i.module, i.name) for i in theirs.imports] == [(i.module, i.name) for i in module.imports]
    back = wasmtime_c.Module.deserialize(engine, theirs.serialize())
    assert [e.name for e in back.exports] == [e.name for e in module.exports]


@pytest.mark.parametrize("name", sorted(ENGINES.values()))
def test_import_and_export_types_match_wasmtime_py(name: str):
    _, module = compiled_module(name)
    with open(os.path.join(os.path.dirname(os.path.dirname(wasmtime_c.__file__)), name), "rb") as f:
        theirs = wasmtime.Module(_upstream_engine(), f.read())

    def describe(kind):
        if isinstance(kind, (wasmtime.MemoryType, wasmtime_c.MemoryType)):
            if isinstance(kind, wasmtime.MemoryType):
                return ("memory", kind.limits.min, kind.limits.max, kind.is_shared)
            return ("memory", kind.minimum, kind.maximum, kind.is_shared)
        if isinstance(kind, (wasmtime.FuncType, wasmtime_c.FuncType)):
            return ("func", [str(t) for t in kind.params], [str(t) for t in kind.results])
        return None

    assert [(i.module, i.name, describe(i.type)) for i in module.imports] == \
        [(i.module, i.name, describe(i.type)) for i in theirs.imports]
    ours = [(e.name, describe(e.type)) for e in module.exports]
    assert ours == [(e.name, describe(e.type)) for e in theirs.exports]
    assert any(kind == ("func", ["i32", "i32"], []) for _, kind in ours)


def test_errors_carry_wasmtime_s_message():
    engine, _ = compiled_module()
    bad = b"\0asm\x02\0\0\0"        # a wasm header of an unknown version
    with pytest.raises(WasmtimeError) as ours:
        wasmtime_c.Module(engine, bad)
    with pytest.raises(wasmtime.WasmtimeError) as theirs:
        wasmtime.Module(_upstream_engine(), bad)
    assert ours.value.message == str(theirs.value) and "version" in ours.value.message
    with pytest.raises(WasmtimeError):
        wasmtime_c.Module.deserialize(engine, b"not a serialized module")


def _instance_with_spawn(function) -> wasmtime_c.Instance:
    engine, module = compiled_module()
    memory_type = module.imports[0].type
    memory = wasmtime_c.SharedMemory(engine, memory_type.minimum, memory_type.maximum)
    store = wasmtime_c.Store(engine)
    instance = wasmtime_c.Instance(store, module, [memory, wasmtime_c.HostFunc(1, 1, function)])
    wasmtime_c.Call(instance, "_initialize")()
    return instance


def _start_one_worker(instance: wasmtime_c.Instance) -> int:
    # wpigz_new(threads, slots, blocksize, level, strategy, independent, check) then wpigz_start,
    # which calls thread-spawn once
    ctl = wasmtime_c.Call(instance, "wpigz_new")(1, 4, 65536, 6, 0, 0, 0)
    assert ctl != 0
    return wasmtime_c.Call(instance, "wpigz_start")(ctl)


def test_a_host_function_gets_its_argument_and_returns_its_result():
    calls = []

    def refuse(start_arg: int) -> int:
        calls.append(start_arg)
        return -1                   # what thread-spawn returns when it cannot start a thread

    assert _start_one_worker(_instance_with_spawn(refuse)) < 0
    assert len(calls) == 1 and calls[0] > 0


def test_an_exception_in_a_host_function_reaches_the_caller():
    class Boom(Exception):
        pass

    def spawn(start_arg: int) -> int:
        raise Boom("from thread-spawn")

    with pytest.raises(Boom, match="from thread-spawn"):
        _start_one_worker(_instance_with_spawn(spawn))
    assert getattr(wasmtime_c._pending, "error", None) is None      # handed over, not kept


def test_calls_check_the_export_and_its_signature():
    instance = _instance_with_spawn(lambda a: -1)
    with pytest.raises(WasmtimeError, match="the module has no export no_such_export"):
        wasmtime_c.Call(instance, "no_such_export")
    with pytest.raises(WasmtimeError, match="export memory is not a function"):
        wasmtime_c.Call(instance, "memory")


def test_a_trap_is_a_trap_with_wasmtime_s_message():
    # the status of a control block at 4 GiB - 16: a read far past the memory's current end
    instance = _instance_with_spawn(lambda a: -1)
    with pytest.raises(Trap) as trapped:
        wasmtime_c.Call(instance, "wpigz_status")(-16, 0)
    assert "out of bounds" in trapped.value.message


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_call_with_the_wrong_number_of_arguments_raises(count):
    # wpigz_status(ctl, what) takes 2: fewer must not reuse the previous call's values, more
    # must not be ignored
    instance = _instance_with_spawn(lambda a: -1)
    status = wasmtime_c.Call(instance, "wpigz_status")
    ctl = wasmtime_c.Call(instance, "wpigz_new")(1, 4, 65536, 6, 0, 0, 0)
    status(ctl, 0)
    with pytest.raises(TypeError, match=f"wpigz_status takes 2 arguments, {count} given"):
        status(*[ctl, 0, 0][:count])


def test_ci_runs_the_engine_tests_on_the_oldest_supported_wasmtime_too():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert f"'wasmtime=={wasmtime_version.OLDEST}.0.0'" in ci and "pip install -q --upgrade wasmtime" in ci
