"""The paper appendix and ``paper_repro.md``, generated from stored results only.

    ntk-bridge appendix [--results DIR] [--out DIR] [--checks FILE] [--figures DIR] [--no-pdf]
                        [--paper-repro PATH] [--no-run-checks]

Writes ``<out>/appendix.tex`` (a self-contained document that ``\\input``s one
``sec_<name>.tex`` per section), ``<out>/appendix.md`` (the same content), the figures of
``ntk-bridge figures`` copied to ``<out>/figures/``, ``<out>/appendix.pdf`` when
``latexmk`` or ``pdflatex`` is installed, and ``paper_repro.md`` (claims C1–C5 with
verdicts decided in :mod:`.verdicts`).  Every number is read from a results record
(``ntk_bridge.store``) or the proofs_checks JSON; a section whose results are missing says
so and names the command that produces them.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

from .. import store
from . import paper_repro, render, sections, verdicts

__all__ = ["build", "main", "paper_repro", "render", "sections", "verdicts"]

TITLE = "Appendix: MTL and gradient-based meta-learning in the NTK regime (reproduced results)"
REPO = Path(__file__).resolve().parents[2]


def has_results(root) -> bool:
    """Whether ``root`` holds at least one experiment summary record."""
    from ..experiments import ORDER

    return any(store.latest_summary(root, name) is not None for name in ORDER)


def resolve_results(path: Path | None) -> Path:
    """``path``, or ``results/`` when it holds summaries, else ``results/quick/``."""
    if path is not None:
        return Path(path)
    if has_results(store.DEFAULT_ROOT) or not has_results(store.QUICK_ROOT):
        return store.DEFAULT_ROOT
    return store.QUICK_ROOT


def is_quick(root: Path) -> bool:
    return Path(root).name == "quick"


def figure_dirs(root: Path, out: Path, quick: bool) -> list[Path]:
    """Where ``ntk-bridge figures`` may have written: next to the appendix (``reproduce``), ``out/``, results."""
    cands = [out.parent / "figures", Path("out/quick/figures" if quick else "out/figures"), root / "figures",
             Path("figures/out")]
    seen, result = set(), []
    for c in cands:
        key = c.resolve()
        if key in seen or (c / "__init__.py").exists() or key == (out / "figures").resolve():
            continue  # a Python package (the figures scripts) or our own copy is no figure folder
        seen.add(key)
        result.append(c)
    return result


def load_checks(path: Path | None, root: Path, out: Path, run: bool) -> tuple[dict | None, str | None]:
    """The proofs_checks JSON: ``path``, else ``<root>/checks.json``, else run the fast checks (if ``run``)."""
    if path is None and (root / "checks.json").exists():
        path = root / "checks.json"
    if path is not None:
        with open(path) as fh:
            return json.load(fh), str(path)
    if not run:
        return None, None
    try:
        import proofs_checks
        from proofs_checks.runner import summary, write_json
    except ImportError:
        print("appendix: proofs_checks is not importable; the checks section says so", file=sys.stderr)
        return None, None
    print("appendix: no checks JSON given, running proofs_checks.run_checks(fast=True) ...", flush=True)
    doc = summary(proofs_checks.run_checks(fast=True))
    target = out / "checks.json"
    write_json(doc, str(target))
    return doc, f"{target} (proofs_checks.run_checks(fast=True), run by the appendix)"


def build(root, out, *, checks: dict | None = None, checks_source: str | None = None, figures_from=None,
          pdf: bool = True, paper_repro_path=None, command: str = "ntk-bridge appendix") -> dict:
    """Write the appendix (TeX, Markdown, PDF if possible) and paper_repro.md; return what was written.

    Returns ``{"tex", "md", "pdf" (path or None), "pdf_message", "paper_repro", "problems"}``;
    ``problems`` lists sections that could not be built from the records (their text says why).
    """
    root, out = Path(root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    quick = is_quick(root)
    if (out / "figures").is_dir():
        shutil.rmtree(out / "figures")  # our own copy, refreshed from the figures folder
    dirs = [Path(figures_from)] if figures_from is not None else figure_dirs(root, out, quick)
    figs = sections.find_figures(dirs, out)
    ctx = sections.Context(root, out, figs, checks, checks_source, quick)
    built = []
    for builder in sections.BUILDERS:
        try:
            built.append(builder(ctx))
        except Exception as exc:  # a record layout this code does not know: say so, keep going
            name = builder.__name__
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
    for old in out.glob("sec_*.tex"):
        old.unlink()
    for s in built:
        (out / f"sec_{s.key}.tex").write_text(render.tex_section(s))
    tex_path = out / "appendix.tex"
    tex_path.write_text(render.tex_document(TITLE, intro, built))
    md_path = out / "appendix.md"
    md_path.write_text(render.md_document(TITLE, intro, built))
    pdf_path, pdf_msg = compile_pdf(tex_path) if pdf else (None, "PDF not requested (--no-pdf)")
    repro = Path(paper_repro_path) if paper_repro_path is not None else REPO / "paper_repro.md"
    paper_repro.write(ctx, built, repro, md_path, command)
    return {"tex": tex_path, "md": md_path, "pdf": pdf_path, "pdf_message": pdf_msg, "paper_repro": repro,
            "problems": ctx.problems, "figures": sorted(figs), "sections": [s.key for s in built]}


def latex_tool() -> list[str] | None:
    """The command that compiles a .tex to PDF, or ``None`` if no LaTeX toolchain is installed."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error"]
    if shutil.which("pdflatex"):
        return ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
    return None


def compile_pdf(tex_path: Path, timeout: float = 300) -> tuple[Path | None, str]:
    """Compile ``tex_path`` in its folder; ``(pdf path or None, message)``."""
    tool = latex_tool()
    if tool is None:
        return None, ("PDF skipped: no LaTeX toolchain (pdflatex/latexmk) on PATH; on Debian/Ubuntu: apt-get install "
                      "texlive-latex-base texlive-latex-recommended texlive-fonts-recommended")
    runs = 1 if tool[0] == "latexmk" else 2  # pdflatex twice: table of contents and longtable widths
    for _ in range(runs):
        try:
            proc = subprocess.run([*tool, tex_path.name], cwd=tex_path.parent, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None, f"PDF failed: {tool[0]} ran longer than {timeout:.0f} s"
        if proc.returncode != 0:
            log = tex_path.with_suffix(".log")
            tail = log.read_text(errors="replace").splitlines()[-25:] if log.exists() else proc.stdout.splitlines()[-25:]
            return None, f"PDF failed ({tool[0]} exit {proc.returncode}); end of {log}:\n" + "\n".join(tail)
    pdf = tex_path.with_suffix(".pdf")
    return (pdf, f"PDF written: {pdf}") if pdf.exists() else (None, f"PDF failed: {tool[0]} wrote no {pdf.name}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ntk-bridge appendix", description=(
        "Generate the LaTeX/Markdown appendix and paper_repro.md from stored results only."))
    p.add_argument("--results", type=Path, metavar="DIR",
                   help="results root (default results/, or results/quick/ when results/ holds no summary)")
    p.add_argument("--out", type=Path, default=Path("appendix"), metavar="DIR", help="output folder (default appendix/)")
    p.add_argument("--checks", type=Path, metavar="FILE", help="proofs_checks JSON (default <results>/checks.json; "
                   "if absent the fast checks are run)")
    p.add_argument("--no-run-checks", action="store_true",
                   help="without a checks JSON, leave the checks section marked missing instead of running them")
    p.add_argument("--figures", type=Path, metavar="DIR",
                   help="folder of the figures to include (default: where ntk-bridge figures writes)")
    p.add_argument("--no-pdf", action="store_true", help="do not compile the PDF")
    p.add_argument("--paper-repro", type=Path, metavar="PATH", help="where to write paper_repro.md "
                   "(default paper_repro.md at the repository root)")
    return p


def main(argv=None) -> int:
    """Command line; 0 on success, 1 if a section could not be built or the PDF failed, 2 on bad arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    root = resolve_results(args.results)
    if args.checks is not None and not args.checks.exists():
        print(f"ntk-bridge appendix: error: --checks {args.checks} does not exist", file=sys.stderr)
        return 2
    if args.figures is not None and not args.figures.is_dir():
        print(f"ntk-bridge appendix: error: --figures {args.figures} is not a folder", file=sys.stderr)
        return 2
    if not has_results(root):
        print(f"appendix: no experiment summaries under {root}; every results section will say so", file=sys.stderr)
    checks, source = load_checks(args.checks, root, args.out, run=not args.no_run_checks)
    command = "ntk-bridge appendix" + "".join(" " + shlex.quote(a) for a in argv)
    res = build(root, args.out, checks=checks, checks_source=source, figures_from=args.figures, pdf=not args.no_pdf,
                paper_repro_path=args.paper_repro, command=command)
    print(f"appendix: {res['tex']}, {res['md']} ({len(res['sections'])} sections, {len(res['figures'])} figures)")
    print(f"appendix: {res['pdf_message']}")
    print(f"appendix: {res['paper_repro']} regenerated")
    failed_pdf = not args.no_pdf and res["pdf"] is None and render_tool_present()
    for p in res["problems"]:
        print(f"appendix: problem: {p}", file=sys.stderr)
    return 1 if res["problems"] or failed_pdf else 0


def render_tool_present() -> bool:
    return latex_tool() is not None
