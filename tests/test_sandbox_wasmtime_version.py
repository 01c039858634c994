"""Which wasmtime wpigz runs on (wpigz/sandbox/wasmtime_version.py): too old is refused, newer than
tested is used only after a self-check in a child process, and every refusal is one line.

The other releases are stood in for by a package directory put first on PYTHONPATH: a
``wasmtime/`` package whose library is the installed wasmtime's (a symbolic link, or a file
that is no library at all) and a ``wasmtime-<version>.dist-info`` directory naming the version
-- what pip leaves on disk, which is all wpigz reads before loading the library.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wpigz.sandbox import wasmtime_c, wasmtime_version

ROOT = Path(__file__).resolve().parent.parent
WPIGZ = [sys.executable, "-m", "wpigz"]


def fake_wasmtime(base: Path, version: str | None, library: bytes | None = None) -> Path:
    """A site directory holding a wasmtime package of this version (None: no dist-info) whose
    library is the real one, or a file holding ``library``."""
    site = base / f"site-{version}"
    directory, name = wasmtime_c._platform_directory()
    (site / "wasmtime" / directory).mkdir(parents=True)
    (site / "wasmtime" / "__init__.py").write_text("")
    if version is not None:
        (site / f"wasmtime-{version}.dist-info").mkdir()
    target = site / "wasmtime" / directory / name
    if library is None:
        target.symlink_to(wasmtime_c.LIBRARY)
    else:
        target.write_bytes(library)
    return site


def run(site: Path, cache: Path, *args: str, data: bytes = b"") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "WPIGZ_CACHE_DIR": str(cache)}
    env.pop(wasmtime_version.SELF_CHECK_ENV, None)
    return subprocess.run([*WPIGZ, *args], input=data, capture_output=True, env=env, timeout=600)


COMMANDS = [("-h",), ("-V",), ("-L",), ("-c",), ("-d",), ("-l", "nothing.gz")]


@pytest.mark.timeout(300)
def test_a_release_older_than_the_lts_is_refused_in_one_line_by_every_command(tmp_path):
    site = fake_wasmtime(tmp_path, "47.0.1")
    expected = ("wpigz: wasmtime 47.0.1 is installed, too old for wpigz, which works with wasmtime 48 or newer "
                "(wasmtime 48 to 51 tested): pip install --upgrade 'wasmtime>=48'\n")
    for args in COMMANDS:
        proc = run(site, tmp_path / "cache", *args, data=b"hi\n")
        assert (proc.returncode, proc.stderr.decode(), proc.stdout) == (1, expected, b""), args


@pytest.mark.timeout(600)
def test_a_newer_release_that_passes_the_self_check_is_used_and_the_verdict_kept(tmp_path):
    newer = f"{wasmtime_version.NEWEST_TESTED + 1}.0.0"
    site = fake_wasmtime(tmp_path, newer)
    cache = tmp_path / "cache"
    proc = run(site, cache, "-c", data=b"hello\n" * 1000)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert gzip.decompress(proc.stdout) == b"hello\n" * 1000
    (verdict,) = cache.glob("wasmtime-check.*")
    key, reason = verdict.read_text().split("\n", 1)
    assert key.startswith(f"{newer}|") and reason == "\n"      # passed
    # the kept verdict is what the next command goes by: a failing one planted in its place stops it
    verdict.write_text(f"{key}\nplanted\n")
    proc = run(site, cache, "-V")
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode() == (f"wpigz: wasmtime {newer} is installed, newer than wpigz knows, and failed its "
                                    f"self-check (planted): wpigz works with wasmtime 48 to 51: "
                                    f"pip install 'wasmtime>=48,<52'\n")
    # ... unless someone else could have written it: then the check runs again
    verdict.chmod(0o666)
    assert run(site, cache, "-V").returncode == 0


@pytest.mark.timeout(600)
def test_a_newer_release_that_fails_the_self_check_is_refused_in_one_line_by_every_command(tmp_path):
    site = fake_wasmtime(tmp_path, "60.1.0", library=b"not a shared library\n")
    for args in COMMANDS:
        proc = run(site, tmp_path / "cache", *args, data=b"hi\n")
        assert proc.returncode == 1 and proc.stdout == b"", args
        line = proc.stderr.decode()
        assert line.count("\n") == 1 and "Traceback" not in line, args
        assert line.startswith("wpigz: wasmtime 60.1.0 is installed, newer than wpigz knows, and failed its "
                               "self-check (OSError: "), args
        assert line.endswith("wpigz works with wasmtime 48 to 51: pip install 'wasmtime>=48,<52'\n"), args


@pytest.mark.timeout(600)
def test_the_library_raises_the_same_message(tmp_path):
    site = fake_wasmtime(tmp_path, "60.1.0", library=b"")
    code = ("import wpigz\ntry:\n    wpigz.compress(b'x')\nexcept ImportError as error:\n"
            "    print(type(error).__name__, str(error).startswith('wasmtime 60.1.0 is installed'))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "WPIGZ_CACHE_DIR": "off"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=600)
    assert proc.stdout.decode() == "WasmtimeUnusable True\n", proc.stderr.decode()


@pytest.mark.timeout(600)
def test_a_wasmtime_of_unknown_version_is_self_checked_too(tmp_path):
    site = fake_wasmtime(tmp_path, None)
    proc = run(site, tmp_path / "cache", "-c", data=b"x\n")
    assert (proc.returncode, proc.stderr) == (0, b"") and gzip.decompress(proc.stdout) == b"x\n"
    (verdict,) = (tmp_path / "cache").glob("wasmtime-check.*")
    assert verdict.read_text().startswith("None|")


def test_the_self_check_child_loads_only_the_library_it_was_started_for(monkeypatch):
    # a child that found another library than its parent refuses it instead of checking again
    monkeypatch.setenv(wasmtime_version.SELF_CHECK_ENV, "/somewhere/else.so")
    with pytest.raises(wasmtime_version.WasmtimeUnusable, match="found another library"):
        wasmtime_version.require("99.0.0", wasmtime_c.LIBRARY)
    wasmtime_version.require("48.0.0", wasmtime_c.LIBRARY)          # tested releases need no check
    wasmtime_version.require(f"{wasmtime_version.NEWEST_TESTED}.9.0", wasmtime_c.LIBRARY)


def test_a_self_check_that_crashes_is_a_failure_not_a_crash(tmp_path, monkeypatch):
    # the child dies of a signal, as a wrong ABI would make it: the parent gets a reason
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    (tmp_path / "python").write_text("#!/bin/sh\nkill -SEGV $$\n")
    (tmp_path / "python").chmod(0o755)
    assert wasmtime_version.self_check(wasmtime_c.LIBRARY) == "crashed with signal 11"


@pytest.mark.timeout(300)
def test_the_self_check_ignores_the_test_suite_s_fault_injection(monkeypatch):
    # a verdict is kept: a trap planted for a test (pipeline.TRAP_ENV) must not fail the check
    from wpigz.encode.pipeline import TRAP_ENV
    monkeypatch.setenv(TRAP_ENV, "0")
    assert wasmtime_version.self_check(wasmtime_c.LIBRARY) == ""
