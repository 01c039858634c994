"""The README's option table is the one the parser generates, and .ci/run runs the README's
test command."""

from pathlib import Path

from wpigz.options import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_readme_option_table_is_generated_from_the_parser():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- options-table:start -->\n") + len("<!-- options-table:start -->\n")
    end = readme.index("<!-- options-table:end -->")
    assert readme[start:end] == markdown_table(), "regenerate it with: python -m wpigz.options"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "python -m pytest" in readme
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_readme_python_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n") + len("```python\n")
    code = readme[start:readme.index("```", start)]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "big.csv.gz").exists()
