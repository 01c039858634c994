"""The wheel that `pip install .` builds carries both engines and the typing marker (CI installs
the package in editable mode, which would not notice a missing data file)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_wheel_contains_both_engines_and_py_typed(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("wpigz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"wpigz/zlib.wasm", "wpigz/zlib-ng.wasm", "wpigz/libdeflate.wasm", "wpigz/py.typed"} <= names
    for name in ("zlib.wasm", "zlib-ng.wasm", "libdeflate.wasm"):
        assert zipfile.ZipFile(wheel).read(f"wpigz/{name}") == (ROOT / "wpigz" / name).read_bytes()


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
