"""Which wasmtime wpigz runs on: the releases it is tested with, and the self-check that admits a newer one.

wpigz's sandbox is wasmtime, bound through its C API by ``wasmtime_c``. That API changes little
between major versions, but a change in what wpigz binds would not fail cleanly: a call with the
wrong signature corrupts memory or crashes. So before ``wasmtime_c`` loads the library, it asks
``require`` here whether the installed wasmtime may be used:

- from ``OLDEST`` (the long-term-support release) to ``NEWEST_TESTED``: yes. These are the
  releases whose C API wpigz's declarations were checked against (tests/wasmtime_signatures.json)
  and that CI runs the engine's tests on (the oldest and the newest).
- older than ``OLDEST``: no. wpigz's declarations are not checked against them (47 -> 48 changed
  a C signature), and of the older releases only the previous LTS, 36, still gets security fixes.
- newer than ``NEWEST_TESTED`` (a wasmtime newer than this wpigz), or a version that cannot be
  read: only after a self-check -- a compress/decompress round trip with worker threads, in a
  child process, so that a crash takes down the child and not the user's command. The verdict is
  kept in the cache directory, one small file per wasmtime build (its version and its native
  library's size and time) and per wpigz version, so the check runs once per upgrade.

A refusal is ``WasmtimeUnusable`` (an ImportError), whose text is one line naming the installed
wasmtime, the range that works and how to get one; the command prints it as ``wpigz: <text>``.
"""

from __future__ import annotations

import os
import sys
import zlib

OLDEST = 48             # the newest LTS: released August 2026, security fixes until August 2028
NEWEST_TESTED = 51      # the newest major whose C API tests/wasmtime_signatures.json records
REQUIREMENT = f"wasmtime>={OLDEST}"         # as in pyproject.toml (tests/test_sandbox_wasmtime_c.py checks)

CACHE_ENV = "WPIGZ_CACHE_DIR"       # a directory; empty (or "off") disables the cache
SELF_CHECK_ENV = "WPIGZ_WASMTIME_SELF_CHECK"    # set in the self-check's child: the library it may load
SELF_CHECK_TIMEOUT = 300    # seconds; a check that hangs this long has failed (it takes about one)


class WasmtimeUnusable(ImportError):
    """The installed wasmtime cannot run wpigz; the message is one line for ``wpigz: ...``."""


def cache_dir() -> str | None:
    """wpigz's cache directory (compiled modules, self-check verdicts): $WPIGZ_CACHE_DIR if set
    (empty or "off": no cache), else $XDG_CACHE_HOME/wpigz, else ~/.cache/wpigz."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value in ("", "off") else value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "wpigz")


def installed_version(package: str) -> str | None:
    """The version of the wasmtime package at ``package`` (its directory), from the dist-info
    directory pip puts beside it; None when there is none (a copy not installed by pip). When
    several are there (a damaged installation), the highest: the one that asks for a check."""
    parent = os.path.dirname(package)
    try:
        found = [entry[len("wasmtime-"):-len(".dist-info")] for entry in os.listdir(parent)
                 if entry.startswith("wasmtime-") and entry.endswith(".dist-info")]
    except OSError:
        return None
    return max(found, key=_major, default=None)


def _major(version: str | None) -> int:
    try:
        return int((version or "").split(".", 1)[0])
    except ValueError:
        return -1


def _tested_range() -> str:
    return f"wasmtime {OLDEST} to {NEWEST_TESTED}"


def require(version: str | None, library: str) -> None:
    """Return if wpigz may load the wasmtime ``library`` of this ``version``; else raise
    WasmtimeUnusable. Runs the self-check (once per build) for an untested version."""
    major = _major(version)
    if OLDEST <= major <= NEWEST_TESTED:
        return
    if 0 <= major < OLDEST:
        raise WasmtimeUnusable(f"wasmtime {version} is installed, too old for wpigz, which works with "
                               f"wasmtime {OLDEST} or newer ({_tested_range()} tested): "
                               f"pip install --upgrade '{REQUIREMENT}'")
    checking = os.environ.get(SELF_CHECK_ENV)
    if checking is not None:
        if checking == library:     # this process is the self-check: it is the test
            return
        raise WasmtimeUnusable(f"the self-check of wasmtime {version} found another library: {library}")
    reason = _verdict(version, library)
    if reason:
        named = f"wasmtime {version} is installed, newer than wpigz knows," if version else \
            "a wasmtime of unknown version is installed"
        raise WasmtimeUnusable(f"{named} and failed its self-check "
                               f"({reason}): wpigz works with {_tested_range()}: "
                               f"pip install '{REQUIREMENT},<{NEWEST_TESTED + 1}'")


def _verdict(version: str | None, library: str) -> str:
    """"" when the self-check passed for this build of wasmtime, else why not; cached."""
    from .. import __version__
    try:
        info = os.stat(library)
        build = f"{version}|{info.st_size:x}.{info.st_mtime_ns:x}|{library}|wpigz {__version__}"
    except OSError as error:
        return f"{library}: {error.strerror}"
    directory = cache_dir()
    path = None
    if directory is not None:
        path = os.path.join(directory, f"wasmtime-check.{zlib.crc32(build.encode()):08x}")
        try:
            with open(path, encoding="utf-8") as f:
                info = os.fstat(f.fileno())
                key, _, reason = f.read().partition("\n")
            # a verdict is only taken from a file no one else could have written
            if key == build and info.st_uid == os.geteuid() and not info.st_mode & 0o022:
                return reason.strip()
        except (OSError, ValueError):
            pass
    reason = self_check(library)
    if path is not None:
        _store(directory, path, f"{build}\n{reason}\n")
    return reason


def _store(directory: str | None, path: str, text: str) -> None:
    """Write the verdict atomically; a failure only means checking again next time."""
    import tempfile
    try:
        os.makedirs(directory or ".", mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


def self_check(library: str) -> str:
    """Run ``api._round_trip`` in a child process that loads ``library``: "" when it passed, else
    what went wrong (its last line of errors, or the signal that killed it)."""
    import subprocess       # only here: it costs every command's start-up time otherwise
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # where this wpigz is
    env = {name: value for name, value in os.environ.items() if not name.startswith("WPIGZ_TEST_")}
    env.update({SELF_CHECK_ENV: library, "PYTHONPATH": os.pathsep.join([root, *sys.path])})
    code = "from wpigz.api import _round_trip; _round_trip()"    # the library's code: the top layer
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=SELF_CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"no answer in {SELF_CHECK_TIMEOUT} s"
    except OSError as error:
        return f"cannot start the check: {error.strerror}"
    if proc.returncode == 0 and proc.stdout == b"ok\n":
        return ""
    if proc.returncode < 0:
        return f"crashed with signal {-proc.returncode}"
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"
