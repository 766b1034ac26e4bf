"""The top-level ``figures/`` scripts: one per figure of ``ntk_bridge.figures``, each a thin use of the package.

A reader finds "how is Figure X made" at the top of the repository; the drawing code stays in
the package (``ntk_bridge/figures/<name>.py``), so the scripts must add no logic of their own and
must draw exactly what ``ntk-bridge figures`` / ``reproduce`` / the appendix draw.
"""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ntk_bridge import cli, figures
from ntk_bridge.appendix import figure_files
from ntk_bridge.experiments import kernel_share

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "figures"
SCRIPT_NAMES = sorted(p.stem for p in SCRIPTS.glob("*.py"))


def _run(args, cwd, env=None):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          encoding="utf-8", timeout=300)


@pytest.mark.parametrize("name", figures.names())
def test_every_figure_has_a_script(name):
    assert (SCRIPTS / f"{name}.py").is_file(), f"figures/{name}.py missing for ntk_bridge.figures.{name}"


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_script_is_a_figure_and_only_calls_the_package(name):
    """Names match ``figures.names()``; the script is a docstring, imports from the package and one call
    under ``if __name__ == "__main__"`` (no function, class or drawing of its own)."""
    assert name in figures.names(), f"figures/{name}.py draws no figure of ntk_bridge.figures.names()"
    tree = ast.parse((SCRIPTS / f"{name}.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and f"python figures/{name}.py --results" in doc
    claims = set(re.findall(r"\bC\d[\w-]*", doc))
    headings = set(re.findall(r"^## (\S+)", (REPO / "paper_repro.md").read_text(encoding="utf-8"), re.M))
    assert claims <= headings, f"claims {sorted(claims - headings)} are not in paper_repro.md"
    assert claims or "No claim" in doc, "the docstring names the claim the figure reproduces (or says there is none)"
    body = tree.body[1:]
    *imports, guard = body
    assert all(isinstance(node, ast.ImportFrom) and node.module.startswith("ntk_bridge.figures") for node in imports)
    assert isinstance(guard, ast.If) and ast.unparse(guard.test) == "__name__ == '__main__'"
    assert [ast.unparse(node) for node in guard.body] == ["cli(figure.main, figure.CAPTION)"]
    assert f"import {name} as figure" in ast.unparse(tree)


@pytest.mark.parametrize("name", figures.names())
def test_readme_lists_every_script(name):
    readme = (SCRIPTS / "README.md").read_text(encoding="utf-8")
    assert f"[`{name}.py`]({name}.py)" in readme
    assert "ntk-bridge figures --results results/reference --out DIR" in readme


@pytest.mark.parametrize("name", figures.names())
def test_help(name, tmp_path):
    proc = _run([SCRIPTS / f"{name}.py", "--help"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "--results" in proc.stdout and "--out" in proc.stdout
    caption = " ".join(figures.caption(name).split())
    assert caption[:40] in " ".join(proc.stdout.split())  # the package's caption, whatever argparse's wrapping
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A tiny results root holding one real (cheap) experiment summary: kernel-share."""
    root = tmp_path_factory.mktemp("results")
    kernel_share.run(kernel_share.Config(depths=(1, 2), n_points=5, dim=4, seeds=2, n_boot=20), root)
    return root


def test_script_draws_byte_identical_figures_to_the_package(results, tmp_path, monkeypatch):
    """The script (a subprocess from another folder), ``ntk-bridge figures`` (what ``reproduce`` calls)
    and the appendix draw the same kernel_share figure from the same records.

    PNGs are compared as they are: ``figures.common.save`` sets their metadata from the record
    (Description: experiment, config hash, created), never from the clock.  matplotlib stamps the
    current time into a PDF's CreationDate, so the PDFs are compared with ``SOURCE_DATE_EPOCH``
    pinned for every path.
    """
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out_script, out_cli, out_appendix = tmp_path / "script", tmp_path / "cli", tmp_path / "appendix"

    proc = _run([SCRIPTS / "kernel_share.py", "--results", results, "--out", out_script], cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(out_script / "kernel_share.png"), str(out_script / "kernel_share.pdf")]
    assert list(cwd.iterdir()) == []  # written under --out only

    assert cli.main(["figures", "--results", str(results), "--out", str(out_cli)]) == 0
    found, problems = figure_files.collect(results, out_appendix)
    assert problems == [] and found["kernel_share"] == {"png": "figures/kernel_share.png",
                                                        "pdf": "figures/kernel_share.pdf"}

    for ext in ("png", "pdf"):
        drawn = (out_script / f"kernel_share.{ext}").read_bytes()
        assert len(drawn) > 5000
        assert drawn == (out_cli / f"kernel_share.{ext}").read_bytes(), f"script vs ntk-bridge figures: {ext}"
        assert drawn == (out_appendix / "figures" / f"kernel_share.{ext}").read_bytes(), f"script vs appendix: {ext}"
    assert figure_files.source(out_script / "kernel_share.png")[0] == "kernel-share"  # metadata names the record


def test_script_without_its_experiment_is_one_line_error(results, tmp_path):
    """The script is the package's ``cli``: a figure whose experiment was not run exits 2 with one line."""
    proc = _run([SCRIPTS / "width.py", "--results", results, "--out", tmp_path / "out"], cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
