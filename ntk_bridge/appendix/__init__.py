"""The paper appendix and ``paper_repro.md``, generated from stored results only.

    ntk-bridge appendix [--results DIR] [--out DIR] [--figures DIR] [--checks FILE | --run-checks]
                        [--paper-repro PATH] [--no-pdf]

Writes, under ``--out`` only: ``appendix.tex`` (a self-contained document that ``\\input``s
one ``sec_<name>.tex`` per section), ``appendix.md`` (the same content), the figures in
``figures/`` (drawn there from the results, or copied from ``--figures DIR``) and
``appendix.pdf`` when ``latexmk`` or ``pdflatex`` is installed.  ``paper_repro.md`` (claims
C1–C5 with verdicts decided in ``.verdicts``) is written to ``--paper-repro PATH``, or to
the checkout's ``paper_repro.md`` when the results are its reference results
(``<checkout>/results/reference``), and nowhere else.  The proof checks are read from
``--checks FILE`` or ``<results>/checks.json``, run only with ``--run-checks``.  Every number
is read from a results record (``ntk_bridge.store``, through the experiments' typed readers)
or the proofs_checks JSON; a section whose results are missing says so and names the command
that produces them.  Files are written atomically.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import traceback
from pathlib import Path

from .. import atomic, selection, store
from . import figure_files, paper_repro, render, sections, verdicts
from .context import Context
from .pdf import compile_pdf, latex_tool

__all__ = ["build", "main", "compile_pdf", "paper_repro", "render", "sections", "verdicts"]

TITLE = "Appendix: MTL and gradient-based meta-learning in the NTK regime (reproduced results)"


def has_results(root) -> bool:
    """Whether ``root`` holds at least one experiment summary record."""
    from .. import experiments

    return any(store.load(root, name, kind="summary") for name in experiments.names())


def resolve_results(path: Path | None) -> Path:
    """``path``, or ``results/`` when it holds summaries, else ``results/quick/`` (relative to the working folder)."""
    if path is not None:
        return Path(path)
    if has_results(store.DEFAULT_ROOT) or not has_results(store.QUICK_ROOT):
        return store.DEFAULT_ROOT
    return store.QUICK_ROOT


def is_quick(root: Path) -> bool:
    return Path(root).name == "quick"


def reference_repro(root) -> Path | None:
    """``<checkout>/paper_repro.md`` when ``root`` is ``<checkout>/results/reference`` of an ntk-bridge source
    checkout (a folder whose ``pyproject.toml`` names the project), else ``None``."""
    r = Path(root).resolve()
    if r.name != "reference" or r.parent.name != "results":
        return None
    pyproject = r.parent.parent / "pyproject.toml"
    try:
        if 'name = "ntk-bridge"' in pyproject.read_text():
            return r.parent.parent / "paper_repro.md"
    except OSError:
        pass
    return None


def load_checks(path: Path | None, root: Path, out: Path, run: bool) -> tuple[dict | None, str | None]:
    """The proofs_checks JSON: ``path``, else ``<root>/checks.json``, else run the fast checks if ``run``."""
    if path is None and (root / "checks.json").exists():
        path = root / "checks.json"
    if path is not None:
        with open(path) as fh:
            try:
                return json.load(fh), str(path)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"--checks {path} is not a proofs_checks JSON file ({exc}); write one with "
                                 f"`python -m proofs_checks --out FILE`") from None
    if not run:
        return None, None
    try:
        import proofs_checks
        from proofs_checks.runner import summary
    except ImportError:
        print("appendix: proofs_checks is not importable; the checks section says so", file=sys.stderr)
        return None, None
    print("appendix: --run-checks: running proofs_checks.run_checks(fast=True) ...", flush=True)
    doc = summary(proofs_checks.run_checks(fast=True))
    target = out / "checks.json"
    atomic.write_text(target, json.dumps(doc, indent=1))
    return doc, f"{target} (proofs_checks.run_checks(fast=True), run by the appendix)"


def build(root, out, *, checks: dict | None = None, checks_source: str | None = None, figures_from=None,
          pdf: bool = True, paper_repro_path=None, command: str = "ntk-bridge appendix") -> dict:
    """Write the appendix (TeX, Markdown, figures, PDF if possible) under ``out``; ``paper_repro.md`` to
    ``paper_repro_path`` if given.  Figures: copied from ``figures_from``, else drawn from ``root``.

    Returns ``{"tex", "md", "pdf" (path or None), "pdf_message", "paper_repro" (path or None), "problems",
    "figures", "sections"}``; ``problems`` lists what could not be built (its text in the appendix says why).

    Writes ``<out>/sec_<key>.tex`` per section, ``appendix.tex`` (which ``\\input``s them) and
    ``appendix.md``, atomically; ``<out>/figures`` is replaced by a fresh copy (or drawing), and
    ``sec_*.tex`` files of sections no longer built are deleted.  A section whose builder raises is
    replaced by one that names the error (and listed in ``problems``); a section whose records are
    missing says so and names the command that produces them.  Records are read through
    ``ntk_bridge.store``: a damaged one is moved aside as by any read, unless the call is inside
    ``ntk_bridge.store.read_only()`` (as in ``main``).

    Args:
      root: the results root the numbers are read from (path-like).
      out: the output folder (created if missing).
      checks: the proofs_checks JSON document (a dict, as ``python -m proofs_checks --out FILE``
        writes it), or ``None``: the checks section says they are missing.
      checks_source: where ``checks`` came from, quoted in the appendix (e.g. its path).
      figures_from: a folder whose PDF/PNG figures are copied into ``<out>/figures``; ``None``: draw
        them there from ``root`` (slow: about 20 s for the reference results).
      pdf: compile ``appendix.pdf`` with ``compile_pdf`` (skipped, with a message, without LaTeX).
      paper_repro_path: where to write ``paper_repro.md`` (claims C1-C5 and their verdicts), or
        ``None``: not written.
      command: the command line quoted in the documents as the one that generated them.

    Returns:
      ``{"tex": Path, "md": Path, "pdf": Path | None, "pdf_message": str, "paper_repro": Path | None,
      "problems": list[str], "figures": list[str] (figure stems found in <out>/figures), "sections":
      list[str] (section keys, in order)}``.

    Raises:
      OSError: (propagated) when ``out`` or a file under it cannot be written (e.g. ``out`` is a file).

    Examples:
      >>> import tempfile
      >>> from pathlib import Path
      >>> from ntk_bridge import appendix
      >>> tmp = tempfile.TemporaryDirectory()
      >>> results = Path(tmp.name, "results"); results.mkdir()    # no records: every section says so
      >>> res = appendix.build(results, Path(tmp.name, "out"), pdf=False,
      ...                      paper_repro_path=Path(tmp.name, "paper_repro.md"))
      >>> res["pdf"], res["pdf_message"], res["problems"], res["figures"]
      (None, 'PDF not requested (--no-pdf)', [], [])
      >>> len(res["sections"]), res["sections"][:3], res["md"].name, res["paper_repro"].exists()
      (15, ['setup', 'kernels', 'closeness'], 'appendix.md', True)
      >>> "run `ntk-bridge kernel-share --results" in res["md"].read_text()
      True
      >>> tmp.cleanup()
    """
    root, out = Path(root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs, fig_problems = figure_files.collect(root, out, None if figures_from is None else Path(figures_from))
    ctx = Context(root, out, figs, checks, checks_source, is_quick(root))
    ctx.problems += fig_problems
    built = []
    for name, builder in sections.builders():
        try:
            built.append(builder(ctx))
        except Exception as exc:  # a record layout this code does not know: say so, keep going
            ctx.problems.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"appendix: section {name} could not be built: {exc}\n{traceback.format_exc(limit=3)}",
                  file=sys.stderr)
            built.append(render.Section(name, name.capitalize(), [render.Para(
                ["This section could not be built from the records under ", render.Code(str(root)), ": ",
                 render.Code(f"{type(exc).__name__}: {exc}"), "."], style="missing")]))
    extra = sections.other_figures(ctx)
    if extra is not None:
        built.append(extra)
    intro = [render.Para(["Generated by ", render.Code(command), " from the records under ", render.Code(str(root)),
                          " (", render.Code("ntk_bridge.store"), "); every number below is read from a results "
                          "record or the proofs_checks JSON. Regenerate it instead of editing it."])]
    keep = {f"sec_{s.key}.tex" for s in built}
    for old in out.glob("sec_*.tex"):
        if old.name not in keep:
            old.unlink()
    for s in built:
        atomic.write_text(out / f"sec_{s.key}.tex", render.tex_section(s))
    tex_path = atomic.write_text(out / "appendix.tex", render.tex_document(TITLE, intro, built))
    md_path = atomic.write_text(out / "appendix.md", render.md_document(TITLE, intro, built))
    pdf_path, pdf_msg = compile_pdf(tex_path) if pdf else (None, "PDF not requested (--no-pdf)")
    repro = None
    if paper_repro_path is not None:
        repro = Path(paper_repro_path)
        paper_repro.write(ctx, built, repro, md_path, command)
    return {"tex": tex_path, "md": md_path, "pdf": pdf_path, "pdf_message": pdf_msg, "paper_repro": repro,
            "problems": ctx.problems, "figures": sorted(figs), "sections": [s.key for s in built]}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ntk-bridge appendix", description=(
        "Generate the LaTeX/Markdown appendix (and paper_repro.md where asked) from stored results only; "
        "everything is written under --out."))
    p.add_argument("--results", type=Path, metavar="DIR",
                   help="results root (default results/, or results/quick/ when results/ holds no summary)")
    p.add_argument("--out", type=Path, default=Path("appendix"), metavar="DIR", help="output folder (default appendix/)")
    checks = p.add_mutually_exclusive_group()
    checks.add_argument("--checks", type=Path, metavar="FILE",
                        help="proofs_checks JSON (default <results>/checks.json)")
    checks.add_argument("--run-checks", action="store_true",
                   help="without a checks JSON, run the fast proof checks (writes <out>/checks.json)")
    p.add_argument("--figures", type=Path, metavar="DIR",
                   help="copy the figures of DIR into <out>/figures (default: draw them there from the results)")
    p.add_argument("--no-pdf", action="store_true", help="do not compile the PDF")
    p.add_argument("--paper-repro", type=Path, metavar="PATH", help="write paper_repro.md to PATH (default: only "
                   "for the reference results of a source checkout, to <checkout>/paper_repro.md)")
    return p


def _error(message: str) -> int:
    print(f"ntk-bridge appendix: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    """Command line; 0 on success, 1 if a section or figure could not be built or the PDF failed, 2 (one line
    on stderr, nothing written) on bad arguments or a missing results folder.  The results are read,
    never changed (``ntk_bridge.store.read_only``: damaged records are reported and left in place).

    ``ntk-bridge appendix [--results DIR] [--out DIR] [--figures DIR] [--checks FILE | --run-checks]
    [--paper-repro PATH] [--no-pdf]`` (the module docstring says what each writes): resolves the
    results root (``results/``, else ``results/quick/``), checks the arguments, reads the checks
    JSON, calls ``build`` and prints the files written on stdout and each problem on stderr.
    Exit status 2 also when a results summary to read is ambiguous (``ntk_bridge.selection``) or
    ``--checks`` is not a JSON file.

    Args:
      argv: the arguments after the command name (``None``: ``sys.argv[1:]``).

    Returns:
      The exit status: ``0``, ``1`` or ``2`` as above.

    Raises:
      SystemExit: (from ``argparse``) on an unknown option or a missing option value (status 2), and
        for ``--help`` (status 0).

    Examples:
      >>> import contextlib, io, tempfile
      >>> from pathlib import Path
      >>> from ntk_bridge import appendix
      >>> tmp = tempfile.TemporaryDirectory()
      >>> stderr = io.StringIO()
      >>> with contextlib.redirect_stderr(stderr):
      ...     appendix.main(["--results", f"{tmp.name}/missing", "--out", f"{tmp.name}/out", "--no-pdf"])
      2
      >>> print(stderr.getvalue().strip()); Path(tmp.name, "out").exists()
      ntk-bridge appendix: error: results folder .../missing does not exist
      False
      >>> Path(tmp.name, "results").mkdir()    # an empty results folder: every section says what is missing
      >>> with contextlib.redirect_stderr(io.StringIO()):
      ...     appendix.main(["--results", f"{tmp.name}/results", "--out", f"{tmp.name}/out", "--no-pdf"])
      appendix: .../out/appendix.tex, .../out/appendix.md (15 sections, 0 figures)
      appendix: PDF not requested (--no-pdf)
      appendix: paper_repro.md not written (give --paper-repro PATH)
      0
      >>> tmp.cleanup()
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    with store.read_only():
        return _main(argv)


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    root = resolve_results(args.results)
    if not root.is_dir():
        return _error(f"results folder {root} " + ("is a file, not a folder" if root.exists() else "does not exist"))
    if args.out.exists() and not args.out.is_dir():
        return _error(f"--out {args.out} is a file, not a folder")
    if args.checks is not None and not args.checks.is_file():
        return _error(f"--checks {args.checks} does not exist")
    if args.figures is not None and not args.figures.is_dir():
        return _error(f"--figures {args.figures} is not a folder")
    if not has_results(root):
        print(f"appendix: no experiment summaries under {root}; every results section will say so", file=sys.stderr)
    from .. import experiments

    unresolved = selection.unresolved(root, experiments.names())
    if unresolved:  # which summary to read is never guessed (newest, largest): the user names it
        return _error("; ".join(unresolved))
    repro = args.paper_repro if args.paper_repro is not None else reference_repro(root)
    try:
        checks, source = load_checks(args.checks, root, args.out, run=args.run_checks)
    except ValueError as exc:
        return _error(str(exc))
    command = "ntk-bridge appendix" + "".join(" " + shlex.quote(a) for a in argv)
    res = build(root, args.out, checks=checks, checks_source=source, figures_from=args.figures, pdf=not args.no_pdf,
                paper_repro_path=repro, command=command)
    print(f"appendix: {res['tex']}, {res['md']} ({len(res['sections'])} sections, {len(res['figures'])} figures)")
    print(f"appendix: {res['pdf_message']}")
    print(f"appendix: {res['paper_repro']} regenerated" if res["paper_repro"] is not None else
          "appendix: paper_repro.md not written (give --paper-repro PATH)")
    failed_pdf = not args.no_pdf and res["pdf"] is None and latex_tool() is not None
    for p in res["problems"]:
        print(f"appendix: problem: {p}", file=sys.stderr)
    return 1 if res["problems"] or failed_pdf else 0
