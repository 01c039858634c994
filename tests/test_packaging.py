"""The wheel that `pip install .` builds carries both engines and the typing marker (CI installs
the package in editable mode, which would not notice a missing data file)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wpigz.sandbox.engines import ENGINES, MODULES

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_wheel_contains_both_engines_and_py_typed(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("wpigz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = [info.module for info in (*ENGINES.values(), *MODULES.values())]     # zopfli.wasm too
    assert {"wpigz/py.typed", *(f"wpigz/{name}" for name in modules)} <= names
    for name in modules:
        assert zipfile.ZipFile(wheel).read(f"wpigz/{name}") == (ROOT / "wpigz" / name).read_bytes()
    # the licence of every library the modules contain travels with them (wasm/build.py writes them)
    for library in ("zlib", "zlib-ng", "libdeflate", "zopfli"):
        text = zipfile.ZipFile(wheel).read(f"wpigz/licenses/{library}.txt")
        assert text == (ROOT / "wpigz" / "licenses" / f"{library}.txt").read_bytes() and len(text) > 500
    # and wpigz's own: the Zlib licence that pyproject names, at the root and in the wheel's metadata
    licence = (ROOT / "LICENSE").read_bytes()
    zlib_terms = b" ".join((ROOT / "wpigz" / "licenses" / "zlib-ng.txt").read_bytes().split()[7:])
    assert zlib_terms.startswith(b"This software is provided 'as-is'") and zlib_terms in b" ".join(licence.split())
    assert [name for name in names if name.endswith("/LICENSE") and ".dist-info/" in name
            and zipfile.ZipFile(wheel).read(name) == licence]


@pytest.mark.timeout(300)
def test_wheel_carries_the_web_page(tmp_path):
    """python -m wpigz.web serves its page from the package: the wheel must hold every file."""
    from wpigz.web import STATIC
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("wpigz-*.whl")
    archive = zipfile.ZipFile(wheel)
    assert {"wpigz/web/__init__.py", "wpigz/web/__main__.py"} <= set(archive.namelist())
    for name in STATIC:
        assert archive.read(f"wpigz/web/static/{name}") == (ROOT / "wpigz" / "web" / "static" / name).read_bytes()
