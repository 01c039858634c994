"""The benchmark corpus, made from real data by recipe, each file's sha256 recorded.

* text: the GCIDE dictionary (Debian package dict-gcide, /usr/share/dictd/gcide.dict.dz),
  decompressed: about 40 MB of English prose with light markup;
* binaries: ELF files from /usr/bin and /usr/lib, concatenated in sorted path order;
* random: random.Random(2026).randbytes, incompressible;
* zeros.

Each file is cut to the requested size. The recipe and the hash go into the report, so a
run on another machine can tell whether it measured the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

GCIDE = Path("/usr/share/dictd/gcide.dict.dz")


@dataclass(frozen=True)
class CorpusFile:
    name: str
    path: Path
    recipe: str
    sha256: str
    size: int


def _text(size: int) -> bytes:
    if not GCIDE.exists():
        raise SystemExit(f"{GCIDE} is missing: apt-get install dict-gcide")
    with gzip.open(GCIDE, "rb") as f:
        data = f.read(size)
    if len(data) < size:
        raise SystemExit(f"GCIDE holds only {len(data)} bytes, {size} asked")
    return data


def _binaries(size: int) -> bytes:
    parts, total = [], 0
    for root in ("/usr/bin", "/usr/lib"):
        for directory, subdirs, files in sorted(os.walk(root)):
            subdirs.sort()
            for name in sorted(files):
                path = os.path.join(directory, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        if f.read(4) != b"\x7fELF":
                            continue
                        f.seek(0)
                        data = f.read(size - total)
                except OSError:
                    continue
                parts.append(data)
                total += len(data)
                if total >= size:
                    return b"".join(parts)
    raise SystemExit(f"only {total} bytes of ELF files under /usr/bin and /usr/lib")


RECIPES = {
    "text": ("GCIDE dictionary (Debian dict-gcide, gcide.dict.dz) decompressed", _text),
    "binaries": ("ELF files from /usr/bin then /usr/lib, sorted by path, concatenated", _binaries),
    "random": ("random.Random(2026).randbytes", lambda size: random.Random(2026).randbytes(size)),
    "zeros": ("zero bytes", lambda size: bytes(size)),
}


def build(directory: Path, size: int) -> list[CorpusFile]:
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (recipe, make) in RECIPES.items():
        data = make(size)
        path = directory / f"{name}-{size >> 20}M"
        if not path.exists() or path.stat().st_size != len(data) or path.read_bytes() != data:
            path.write_bytes(data)
        files.append(CorpusFile(name, path, recipe, hashlib.sha256(data).hexdigest(), len(data)))
    return files


def mixed(files: list[CorpusFile], size: int) -> Path:
    """Text then binaries (half each, up to 32 MiB of text), next to the corpus files: the 'real
    mixed data' of speed.py's and chunked.py's decompression goals."""
    path = files[0].path.parent / f"mixed-{size >> 20}M"
    if not path.exists() or path.stat().st_size != size:
        text = RECIPES["text"][1](min(size // 2, 32 << 20))    # GCIDE holds about 38 MiB
        path.write_bytes(text + RECIPES["binaries"][1](size - len(text)))
    return path
