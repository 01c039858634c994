"""The README and docs/ say what wpigz does, and keep saying it: their commands are run and
their outputs compared, their Python examples run, their option table is what the parser
generates, their links lead somewhere, and their benchmark figures are bench/RESULTS.md's.

Conventions the documents follow (and this file enforces):
* A ```console block is a session a user types: `$ command` lines, each followed by exactly the
  output (stdout and stderr together) it must print. Each block runs in a fresh directory that
  holds the files FIXTURES makes, with a `wpigz` on PATH that runs this tree; every command must
  exit 0 (a document that shows a failure shows it with `; echo "status $?"`).
* A ```sh block is a command the tests cannot run as it stands (installing, serving a page):
  each one is listed in SHOWN_ONLY with what is checked instead.
* A ```python block runs as it is, in such a directory.
* A ```text block is not a command (sample output, a file's layout): nothing to run.
* Benchmark figures appear only inside `<!-- figures:NAME -->` blocks, which bench/figures.py
  writes from bench/RESULTS.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def fixtures(directory: Path) -> None:
    """The files the documents' examples use: big.csv (about 290 kB of CSV) and logs/ with two
    small files. Deterministic, so that the outputs the documents show do not change."""
    (directory / "big.csv").write_text("id,name\n" + "".join(f"{i},name{i}\n" for i in range(20000)))
    (directory / "logs").mkdir()
    (directory / "logs" / "a.log").write_text("a\n" * 1000)
    (directory / "logs" / "b.log").write_text("b\n" * 1000)


def fences(path: Path, language: str) -> list[tuple[int, str]]:
    """(line number, body) of every ```language block of a document."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in FENCE.finditer(text)
            if m.group(1) == language]


def sessions(body: str) -> list[tuple[str, str]]:
    """A console block as (command, the output it must print) pairs."""
    pairs: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        else:
            assert pairs, f"output before any command: {line!r}"
            pairs[-1][1].append(line)
    return [(command, "".join(out + "\n" for out in output)) for command, output in pairs]


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A directory with the fixtures, and an environment whose `wpigz` is this tree's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "wpigz"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m wpigz "$@"\n')
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    fixtures(work)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", LC_ALL="C.UTF-8", COLUMNS="100")
    return work, env


CONSOLE = [(path, line, body) for path in DOCUMENTS for line, body in fences(path, "console")]


def test_the_documents_have_sessions_to_run():
    # the README's everyday use, and the command's page, are sessions this file runs
    assert {_name(path) for path, _, _ in CONSOLE} >= {"README.md", "docs/command.md"}


@pytest.mark.parametrize("path,line,body", CONSOLE, ids=[f"{_name(p)}:{n}" for p, n, _ in CONSOLE])
def test_console_block_prints_what_it_shows(path, line, body, workdir):
    work, env = workdir
    for command, expected in sessions(body):
        # must end: every command is a short job on small files
        done = subprocess.run(["bash", "-c", command], cwd=work, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        where = f"{_name(path)}:{line}: $ {command}"
        assert (done.returncode, done.stdout) == (0, expected), where


PYTHON = [(path, line, body) for path in DOCUMENTS for line, body in fences(path, "python")]


def test_the_readme_has_a_python_example():
    assert any(path.name == "README.md" for path, _, _ in PYTHON)


@pytest.mark.parametrize("path,line,body", PYTHON, ids=[f"{_name(p)}:{n}" for p, n, _ in PYTHON])
def test_python_block_runs(path, line, body, workdir, monkeypatch, capsys):
    work, _ = workdir
    monkeypatch.chdir(work)
    exec(compile(body, f"{_name(path)}:{line}", "exec"), {"__name__": "__doc_example__"})


def _ci_apt_packages() -> list[str]:
    line = next(line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.startswith("apt-get install"))
    return [word for word in line.split()[2:] if not word.startswith("-")]


def _check_install_and_run(body: str, env: dict[str, str], work: Path) -> None:
    # `pip install .` is what the packaging tests cover; what follows it must print what it says
    command = body.strip().removeprefix("pip install . && ")
    done = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello, wasm\n", "")


def _check_install_and_test(body: str, env: dict[str, str], work: Path) -> None:
    # the same packages .ci/run installs, and the test command .ci/run runs
    words = body.split()
    packages = words[words.index("install") + 2: words.index("&&", words.index("install"))]
    assert packages == _ci_apt_packages()
    assert body.strip().endswith("&& python -m pytest")
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "python -m pytest" in ci_lines          # .ci/run runs the README's test command as it is
    # ... after installing the same extras
    ci_install = next(line for line in ci_lines if line.startswith("python -m pip install -q -e "))
    assert ci_install.split()[-1] in body.split()


def _check_web(body: str, env: dict[str, str], work: Path) -> None:
    # tests/test_web.py serves and drives the page; here: the command and the address it names
    done = subprocess.run([sys.executable, "-m", "wpigz.web", "--help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "--open" in done.stdout
    assert "http://127.0.0.1:8000/" in body


SHOWN_ONLY = {
    "pip install . && echo 'hello, wasm' | wpigz | gzip -d\n": _check_install_and_run,
    "apt-get update && apt-get install -y pigz gzip ncompress zstd chromium tabix samtools time libdeflate0 && "
    "pip install -e '.[test,build,dask]' && python -m pytest\n": _check_install_and_test,
    "python -m wpigz.web            # then open http://127.0.0.1:8000/ (or add --open)\n": _check_web,
}
SH = [(path, line, body) for path in DOCUMENTS for line, body in fences(path, "sh")]


@pytest.mark.parametrize("path,line,body", SH, ids=[f"{_name(p)}:{n}" for p, n, _ in SH])
def test_sh_block_is_checked_another_way(path, line, body, workdir):
    assert body in SHOWN_ONLY, f"{_name(path)}:{line}: a new ```sh block: run it as ```console, or list it here"
    work, env = workdir
    SHOWN_ONLY[body](body, env, work)


def test_every_code_block_is_run_or_listed():
    known = {"console", "python", "sh", "text"}
    for path in DOCUMENTS:
        for match in FENCE.finditer(path.read_text()):
            assert match.group(1) in known, f"{_name(path)}: a ```{match.group(1)} block this file does not check"


def test_the_readme_opens_with_the_two_set_up_commands():
    readme = (ROOT / "README.md").read_text()
    first_blocks = [body for _, body in fences(ROOT / "README.md", "sh")][:2]
    assert first_blocks == list(SHOWN_ONLY)[:2]
    assert readme.index("```sh") < readme.index("## ")      # before the first section


def test_options_table_is_the_one_the_parser_generates():
    generated = subprocess.run([sys.executable, "-m", "wpigz.command.options"], capture_output=True, text=True, check=True)
    tables = []
    for path in DOCUMENTS:
        text = path.read_text()
        for match in re.finditer(r"<!-- options-table:start -->\n(.*?)<!-- options-table:end -->", text, re.S):
            tables.append(match.group(1))
    assert tables == [generated.stdout], "regenerate docs/command.md's table with: python -m wpigz.command.options"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"[`*_]|<[^>]+>", lambda m: "_" if m.group(0) == "_" else "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_slug_is_githubs():
    assert slug("Level 11: zopfli") == "level-11-zopfli"
    assert slug("Differences from pigz and gzip") == "differences-from-pigz-and-gzip"
    assert slug("`IG`: members that state their size") == "ig-members-that-state-their-size"


def test_every_relative_link_leads_to_a_file_and_heading():
    checked = 0
    for path in DOCUMENTS:
        for target in LINK.findall(FENCE.sub("", path.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            destination = (path.parent / file_part).resolve() if file_part else path
            assert destination.exists(), f"{_name(path)}: {target} does not exist"
            if anchor:
                assert anchor in anchors(destination), f"{_name(path)}: no heading for #{anchor} in {file_part}"
            checked += 1
    assert checked >= 10        # the link syntax above really finds the documents' links


def test_benchmark_figures_are_generated_from_results():
    sys.path.insert(0, str(ROOT))
    from bench import figures
    sources = figures.reports()
    for path in DOCUMENTS:
        text = path.read_text()
        assert figures.render(text, sources, "../" if path.parent.name == "docs" else "") == text, \
            f"{_name(path)}: its figures differ from their bench report: run python -m bench.figures"
    assert "<!-- figures:layouts -->" in (ROOT / "README.md").read_text()


def test_the_figures_block_follows_results(tmp_path):
    """A changed RESULTS.md changes the README's block: the check above can fail."""
    from bench import figures
    results = figures.RESULTS.read_text()
    engines = figures.section(results, "Choosing an engine")
    changed = results.replace(engines, engines.replace("x |", "5x |", 1))
    document = "<!-- figures:engines -->\n<!-- /figures:engines -->"
    assert figures.render(document, {figures.RESULTS: results}) != figures.render(document, {figures.RESULTS: changed})
    with pytest.raises(ValueError, match="Choosing an engine"):
        figures.render(document, {figures.RESULTS: "# nothing measured\n"})


def test_the_layouts_block_follows_its_report():
    """The README's engine table is bench/LAYOUTS.md's: a changed report changes it, every
    engine, data kind and level is in it, and a report without its table is refused."""
    from bench import figures
    report = figures.LAYOUTS.read_text()
    document = "<!-- figures:layouts -->\n<!-- /figures:layouts -->"
    block = figures.render(document, {figures.LAYOUTS: report})
    assert block.count("| `") == len(figures.ENGINES) * len(figures.KINDS)
    row = next(line for line in report.splitlines() if line.startswith("| text | -6 | libdeflate |"))
    speed, size = row.split("|")[4].split()[0], (float(row.split("|")[6]) - 1) * 100
    assert f"| `libdeflate` | text | " in block and f"{speed}, {size:+.2f}%" in block
    changed = report.replace(row, row.replace(speed, "9.99x", 1))
    assert "9.99x" in figures.render(document, {figures.LAYOUTS: changed})
    with pytest.raises(ValueError, match="LAYOUTS.md"):
        figures.render(document, {figures.LAYOUTS: "# nothing measured\n"})


FIGURE = re.compile(r"\b\d+(\.\d+)?x\b|\d%")


def test_the_readme_has_no_figure_outside_a_generated_block():
    text = (ROOT / "README.md").read_text()
    text = re.sub(r"<!-- figures:([a-z-]+) -->.*?<!-- /figures:\1 -->", "", text, flags=re.S)
    text = FENCE.sub("", text)
    assert [m.group(0) for m in FIGURE.finditer(text)] == []


def test_every_test_a_document_names_exists():
    named = set()
    for path in DOCUMENTS:
        named.update(re.findall(r"(tests/test_\w+\.py)::(test_\w+)", path.read_text()))
    assert len(named) >= 10         # docs/guarantees.md names its tests this way
    for file, test in sorted(named):
        source = (ROOT / file).read_text()
        assert re.search(rf"^(async )?def {test}\(", source, re.M), f"{file}::{test} does not exist"


def test_figures_read_the_table_that_bench_engines_writes():
    """bench/figures.py parses what bench/engines.py writes, so the next full run refreshes the
    README's table: a made-up run, written by engines.table, comes out in the block."""
    from bench import engines, figures
    from bench.corpus import CorpusFile
    from bench.measure import Sample, Series
    files = [CorpusFile(name, Path(name), "made up", "0" * 64, 1_000_000) for name in ("text", "binaries", "zeros")]
    results = {}
    for item in files:
        for tool in engines.TOOLS:
            for level in engines.LEVELS:
                speed = 1 + engines.TOOLS.index(tool) + level / 10      # seconds; pigz is the fastest
                series = Series(tool, level, 2, [Sample(speed, speed, 1024, 1000 + engines.TOOLS.index(tool))])
                series.ratios.append((1 + level / 10) / speed)
                results[(item.name, tool, level)] = series
    written = "\n".join(engines.table(results, files, 2))
    block = figures.render("<!-- figures:engines -->\n<!-- /figures:engines -->", {figures.RESULTS: written})
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert len(rows) == 6                      # three engines, text and binaries (not zeros)
    # libdeflate is the fourth tool: at level 1, 1.1 s for pigz against 4.1 s, 3 bytes larger
    assert rows[4] == "| `libdeflate` | text | 0.27x, +0.30% | 0.35x, +0.30% | 0.39x, +0.30% |"
    assert "2 threads" in block
