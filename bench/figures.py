"""The README's and docs' benchmark figures, generated from the bench's reports so they cannot drift.

    python -m bench.figures           # rewrite every generated block from its report
    python -m bench.figures --check   # exit 1, naming the blocks, when one differs

A generated block in README.md or docs/*.md sits between ``<!-- figures:NAME -->`` and
``<!-- /figures:NAME -->``; NAME is one of RENDERERS below, each a function of one report's
text: bench/RESULTS.md (written by ``python -m bench``) or bench/LAYOUTS.md (written by
``python -m bench.layouts``, every engine in one stream on 110 MB). This turns them into the
short tables the README shows, and tests/test_readme.py fails while a block differs from what
this would write. It reads only the reports' tables (no measuring), so it runs in a moment.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
LAYOUTS = ROOT / "bench" / "LAYOUTS.md"
ENGINES = ("zlib", "zlib-ng", "libdeflate")
LEVELS = (1, 6, 9)
KINDS = ("text", "binaries")        # random and zeros are the corpus's extremes, not a user's data
BLOCK = re.compile(r"(<!-- figures:([a-z-]+) -->\n)(.*?)(<!-- /figures:\2 -->)", re.S)


def section(results: str, heading: str) -> str:
    """The text of RESULTS.md's `## heading...` section, up to the next `## `."""
    match = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", results, re.M | re.S)
    if match is None:
        raise ValueError(f"bench/RESULTS.md has no section starting '## {heading}': run python -m bench")
    return match.group(0)


def tables(text: str) -> dict[str, list[dict[str, str]]]:
    """{#### subheading: rows as {column: cell}} for the markdown tables of a section. Repeated
    column names (each engine's 'x pigz', 'size') are prefixed with the engine before them."""
    out: dict[str, list[dict[str, str]]] = {}
    for match in re.finditer(r"^#### (.+?)\n\n(\|.+?)(?:\n\n|\Z)", text, re.M | re.S):
        lines = match.group(2).strip().splitlines()
        header, body = [c.strip() for c in lines[0].strip("|").split("|")], lines[2:]
        names, prefix = [], ""
        for cell in header:
            if cell.endswith(" MB/s"):
                prefix = cell[:-len(" MB/s")]
            names.append(f"{prefix} {cell}".strip() if cell in ("x pigz", "size") else cell)
        out[match.group(1)] = [dict(zip(names, (c.strip() for c in line.strip("|").split("|")))) for line in body]
    return out


def engines(results: str) -> str:
    """Speed and size of each engine against pigz at levels 1, 6 and 9, per data kind, from the
    section bench/engines.py writes ('Choosing an engine')."""
    text = section(results, "Choosing an engine")
    threads = re.search(r"Whole commands with (\d+) threads", text)
    if threads is None:
        raise ValueError("bench/RESULTS.md's engines section does not say its thread count")
    kinds = {kind: rows for kind, rows in tables(text).items() if kind in KINDS}
    if not kinds:
        raise ValueError(f"bench/RESULTS.md's engines section has no table for {' or '.join(KINDS)}")
    lines = ["| engine | data | " + " | ".join(f"-{level}" for level in LEVELS) + " |",
             "|---|---|" + "---|" * len(LEVELS)]
    for engine in ENGINES:
        for kind, rows in kinds.items():
            by_level = {int(row["level"]): row for row in rows}
            cells = [f"{by_level[level][f'{engine} x pigz']}, {by_level[level][f'{engine} size']}" for level in LEVELS]
            lines.append(f"| `{engine}` | {kind} | " + " | ".join(cells) + " |")
    return ("\n".join(lines) + "\n\n"
            f"Each cell: throughput against pigz's with the same level and threads, then output size against "
            f"pigz's (whole commands, {threads.group(1)} threads, medians of per-round ratios; "
            f"from [bench/RESULTS.md](bench/RESULTS.md), `python -m bench.figures`).\n")


def layouts(report: str) -> str:
    """Speed and size of each engine in pigz's one-stream layout against pigz at levels 1, 6
    and 9, per data kind, from the table bench/layouts.py writes (bench/LAYOUTS.md)."""
    threads = re.search(r"Whole commands, `-p (\d+)`", report)
    rounds = re.search(r"the median of (\d+) rounds", report)
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in report.splitlines() if line.startswith("| ") and "engine" not in line]
    cells = {(row[0], row[1], row[2]): row for row in rows if len(row) == 8}
    if threads is None or rounds is None or not cells:
        raise ValueError("bench/LAYOUTS.md has no engines table: run python -m bench.layouts")
    lines = ["| engine | data | " + " | ".join(f"-{level}" for level in LEVELS) + " |",
             "|---|---|" + "---|" * len(LEVELS)]
    for engine in ENGINES:
        for kind in KINDS:
            row_cells = []
            for level in LEVELS:
                row = cells[(kind, f"-{level}", engine)]
                speed, size = row[3].split(" ")[0], (float(row[5]) - 1) * 100
                row_cells.append(f"{speed}, {size:+.2f}%")
            lines.append(f"| `{engine}` | {kind} | " + " | ".join(row_cells) + " |")
    return ("\n".join(lines) + "\n\n"
            f"Each cell: speed against pigz at the same level (pigz's wall time over wpigz's), then output "
            f"size against pigz's; whole commands, {threads.group(1)} threads, 110 MB of real text and of "
            f"real binaries, median of {rounds.group(1)} rounds; from [bench/LAYOUTS.md](bench/LAYOUTS.md), "
            f"`python -m bench.figures`.\n")


# each block's name: the report it is made from, and how
RENDERERS: dict[str, tuple[Path, Callable[[str], str]]] = {"engines": (RESULTS, engines),
                                                           "layouts": (LAYOUTS, layouts)}


def reports() -> dict[Path, str]:
    return {path: path.read_text() for path, _ in RENDERERS.values()}


def render(document: str, sources: dict[Path, str], relative_root: str = "") -> str:
    """document with every generated block rewritten from its report's text in sources. Links in
    a block are written relative to the repository root; relative_root ('../' for docs/) makes
    them right elsewhere."""
    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in RENDERERS:
            raise ValueError(f"no renderer for <!-- figures:{name} --> (known: {', '.join(RENDERERS)})")
        path, renderer = RENDERERS[name]
        body = renderer(sources[path]).replace("](bench/", f"]({relative_root}bench/")
        return match.group(1) + body + match.group(4)
    return BLOCK.sub(replace, document)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is stale")
    args = parser.parse_args(argv)
    sources = reports()
    stale = []
    for path in documents():
        old = path.read_text()
        new = render(old, sources, "../" if path.parent.name == "docs" else "")
        if new != old:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(new)
    verb = "differ from their bench report" if args.check else "rewritten"
    for path in stale:
        print(f"{path}: generated figures {verb}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
