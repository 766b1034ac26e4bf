"""Compiling the appendix's LaTeX to PDF, when a LaTeX toolchain is installed."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# What LaTeX leaves beside the PDF: removed after a successful build (a failed one keeps its .log).
LEFTOVERS = (".aux", ".log", ".out", ".toc", ".fls", ".fdb_latexmk", ".synctex.gz")


def latex_tool() -> list[str] | None:
    """The command that compiles a .tex to PDF, or ``None`` if no LaTeX toolchain is installed."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error"]
    if shutil.which("pdflatex"):
        return ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
    return None


def compile_pdf(tex_path: Path, timeout: float = 300, keep_leftovers: bool = False) -> tuple[Path | None, str]:
    """Compile ``tex_path`` in its folder; ``(pdf path or None, message)``.

    After a successful build the LaTeX leftovers (``LEFTOVERS``) are removed unless ``keep_leftovers``.

    Runs ``latex_tool()``: ``latexmk -pdf`` once, or ``pdflatex`` twice (table of contents and
    table widths), in ``tex_path``'s folder, with ``-interaction=nonstopmode -halt-on-error``.
    Never raises for a failed build: the message says what happened (no toolchain; a run over
    ``timeout``; a nonzero exit, with the last 25 lines of the ``.log``; no PDF written).

    Args:
      tex_path: the ``.tex`` file (path-like; the PDF is written beside it as ``<stem>.pdf``).
      timeout: seconds each LaTeX run may take before the build is given up.
      keep_leftovers: keep the ``.aux``, ``.log``, ... files of a successful build.

    Returns:
      ``(pdf, message)``: the PDF's ``Path`` and ``"PDF written: <path>"``, or ``None`` and a message
      starting ``"PDF skipped"`` (no LaTeX toolchain on ``PATH``) or ``"PDF failed"``.

    Examples:
      >>> import tempfile
      >>> from pathlib import Path
      >>> from ntk_bridge.appendix import pdf
      >>> tmp = tempfile.TemporaryDirectory()
      >>> tex = Path(tmp.name, "note.tex")
      >>> _ = tex.write_text(r"\\documentclass{article}\\begin{document}Hello.\\end{document}")
      >>> path, message = pdf.compile_pdf(tex, timeout=60)
      >>> no_latex = pdf.latex_tool() is None     # this depends on the machine; the outcome follows from it
      >>> (path is None) == no_latex, message.startswith("PDF skipped" if no_latex else "PDF written")
      (True, True)
      >>> tmp.cleanup()
    """
    tex_path = Path(tex_path)
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
    if not pdf.exists():
        return None, f"PDF failed: {tool[0]} wrote no {pdf.name}"
    for suffix in () if keep_leftovers else LEFTOVERS:
        tex_path.with_name(tex_path.stem + suffix).unlink(missing_ok=True)
    return pdf, f"PDF written: {pdf}"
