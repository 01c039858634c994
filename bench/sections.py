"""The registry of the benchmark's sections: each section module registers one function here,
and the suite (suite.py) runs whatever is registered, in order, after its own core tables.

A section is a module of bench/ that can also run alone (``python -m bench.NAME``). It decorates
its entry point with ``@register(name, order=..., summary=...)``; the function receives the
suite's :class:`Context` (corpus, thread count, rounds, ``--quick``, the log) and returns the
lines it adds to RESULTS.md (none when it writes a file of its own, as libdeflate.py does).
Sections import only measure.py, corpus.py and this module, never suite.py, and suite.py
imports the section modules: the dependencies go one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .corpus import CorpusFile


@dataclass(frozen=True)
class Context:
    """What the suite hands every section."""

    files: list[CorpusFile]      # the corpus (corpus.build), text first
    size: int                    # bytes per corpus file
    threads: int                 # the largest thread count measured (the machine's CPUs)
    runs: int                    # rounds per configuration
    quick: bool                  # --quick: smaller inputs
    command: str                 # the command line that produced this run, for the reports
    log: Callable[[str], None]   # progress lines, with the elapsed time


@dataclass(frozen=True)
class Section:
    name: str
    order: int                   # position in RESULTS.md among the sections (smaller first)
    summary: str                 # one line for `python -m bench --list`
    run: Callable[[Context], list[str]]


SECTIONS: dict[str, Section] = {}


def register(name: str, *, order: int, summary: str) -> Callable[[Callable[[Context], list[str]]],
                                                                 Callable[[Context], list[str]]]:
    """Decorator: make the function the entry point of section `name` of `python -m bench`."""
    def add(function: Callable[[Context], list[str]]) -> Callable[[Context], list[str]]:
        if name in SECTIONS:
            raise ValueError(f"benchmark section {name!r} registered twice")
        SECTIONS[name] = Section(name, order, summary, function)
        return function
    return add


def ordered() -> list[Section]:
    return sorted(SECTIONS.values(), key=lambda section: (section.order, section.name))


def demote(lines: list[str]) -> list[str]:
    """A section's own markdown file (its `# title`, `## parts`) as lines of RESULTS.md, whose
    sections are `## ` headings: every heading one level down."""
    return ["#" + line if line.startswith("#") else line for line in lines]
