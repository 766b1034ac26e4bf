"""A tiny document model rendered two ways: LaTeX (escaped) and Markdown.

Sections are lists of blocks (``Para``, ``Table``, ``Figure``); the text
of a block is a list of fragments: ``str`` (plain text, escaped for LaTeX), ``Num``
(a number, or a mean with its spread over seeds), ``Math`` (an inline formula given
for both targets) and ``Code`` (monospace: commands, names, hashes).  Every number
that reaches a page goes through ``fmt``, so a test can parse it back.
"""
from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from typing import Union

DIGITS = 3  # significant digits of every number printed


@dataclasses.dataclass(frozen=True)
class Num:
    """A number (``std``: spread over ``n`` seeds, printed as ``mean ± std``)."""

    value: float | None
    std: float | None = None
    n: int | None = None
    digits: int = DIGITS


@dataclasses.dataclass(frozen=True)
class Math:
    tex: str
    md: str | None = None  # default: the same text between $ signs


@dataclasses.dataclass(frozen=True)
class Code:
    text: str


@dataclasses.dataclass(frozen=True)
class Link:
    text: str
    target: str  # a relative path (Markdown) / file name (LaTeX prints it as code)


Fragment = Union[str, Num, Math, Code, Link]


@dataclasses.dataclass
class Para:
    parts: list
    style: str = "text"  # "text" | "item" (bullet) | "missing" (a result that is not there)


@dataclasses.dataclass
class Table:
    label: str                    # stable id: LaTeX \label{tab:<label>}, Markdown <!-- table: <label> -->
    caption: list                 # fragments
    header: list                  # one fragment (or list of fragments) per column
    rows: list                    # rows of cells, a cell being a fragment or a list of fragments
    align: str | None = None      # LaTeX column spec, e.g. "rll"; default "l" then "r"s
    long: bool = False            # longtable (may break across pages)

    def __post_init__(self):
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(f"table {self.label}: row {i} has {len(row)} cells, header {len(self.header)}")
        if self.align is not None and _count_columns(self.align) != len(self.header):
            raise ValueError(f"table {self.label}: align {self.align!r} does not have {len(self.header)} columns")


@dataclasses.dataclass
class Figure:
    label: str
    pdf: str | None   # path relative to the appendix folder, for LaTeX
    png: str | None   # path relative to the appendix folder, for Markdown
    caption: list


@dataclasses.dataclass
class Section:
    key: str          # file name of the LaTeX section (sec_<key>.tex)
    title: str
    blocks: list


# --------------------------------------------------------------------------- numbers
def fmt(x: float | None, digits: int = DIGITS) -> str:
    """``x`` to ``digits`` significant digits (``"n/a"`` for ``None``); plain or ``1.23e-05``."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(x)))
    if -3 <= e < 5:
        return f"{x:.{max(digits - 1 - e, 0)}f}"
    mant, exp = f"{x:.{digits - 1}e}".split("e")
    return f"{mant}e{int(exp):+03d}"


def _num_md(n: Num) -> str:
    s = fmt(n.value, n.digits)
    return s if n.std is None or n.n == 1 else f"{s} ± {fmt(n.std, 2)}"  # one sample: no spread to show


def _num_tex_one(s: str) -> str:
    m = re.fullmatch(r"(-?[\d.]+)e([+-]\d+)", s)
    if m:
        return f"${m.group(1)}{{\\times}}10^{{{int(m.group(2))}}}$"
    return s.replace("-", "$-$") if s.startswith("-") else s


def _num_tex(n: Num) -> str:
    s = _num_tex_one(fmt(n.value, n.digits))
    return s if n.std is None or n.n == 1 else f"{s}\\,$\\pm$\\,{_num_tex_one(fmt(n.std, 2))}"


# --------------------------------------------------------------------------- LaTeX
_TEX_CHARS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
              "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
              "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
# Unicode that appears in statements and names; anything else non-ASCII is spelled out.
_TEX_UNICODE = {"∪": r"$\cup$", "∩": r"$\cap$", "≥": r"$\geq$", "≤": r"$\leq$", "×": r"$\times$",
                "±": r"$\pm$", "−": r"$-$", "→": r"$\to$", "←": r"$\leftarrow$", "∞": r"$\infty$",
                "√": r"$\sqrt{}$", "⊗": r"$\otimes$", "·": r"$\cdot$", "≈": r"$\approx$", "≠": r"$\neq$",
                "∈": r"$\in$", "∑": r"$\sum$", "λ": r"$\lambda$", "θ": r"$\theta$", "Θ": r"$\Theta$",
                "σ": r"$\sigma$", "Σ": r"$\Sigma$", "φ": r"$\phi$", "Φ": r"$\Phi$", "ψ": r"$\psi$",
                "Ψ": r"$\Psi$", "α": r"$\alpha$", "β": r"$\beta$", "ε": r"$\varepsilon$", "τ": r"$\tau$",
                "η": r"$\eta$", "μ": r"$\mu$", "∂": r"$\partial$", "–": "--", "—": "---", "…": r"\ldots{}",
                "‘": "`", "’": "'", "“": "``", "”": "''", "é": r"\'e", "è": r"\`e", "ü": r"\"u", "ö": r"\"o",
                "ä": r"\"a", "\u00a0": "~", "§": r"\S{}", "‖": r"$\|$", "Δ": r"$\Delta$", "δ": r"$\delta$",
                "²": r"$^2$", "³": r"$^3$", "½": r"$\frac{1}{2}$", "≃": r"$\simeq$", "∝": r"$\propto$",
                "∑": r"$\sum$"}


def tex_escape(text: str) -> str:
    """Plain text as LaTeX source: special characters escaped, known Unicode mapped, rest named."""
    out = []
    for ch in str(text):
        if ch in _TEX_CHARS:
            out.append(_TEX_CHARS[ch])
        elif ch in _TEX_UNICODE:
            out.append(_TEX_UNICODE[ch])
        elif ord(ch) < 128:
            out.append(ch if ch.isprintable() or ch in "\n\t" else " ")
        else:
            out.append("[" + _TEX_CHARS_SAFE(unicodedata.name(ch, f"U+{ord(ch):04X}").lower()) + "]")
    return "".join(out)


def _TEX_CHARS_SAFE(s: str) -> str:
    return "".join(_TEX_CHARS.get(c, c) for c in s)


_TT_LITERAL = "<>|"  # typewriter fonts have these glyphs (roman OT1 does not)


def _tex_code(text: str) -> str:
    """``\\texttt`` with escapes, breakable after ``/ . _ , =`` so long names and paths wrap."""
    out = []
    for ch in str(text):
        out.append(ch if ch in _TT_LITERAL else tex_escape(ch))
        if ch in "/._,=" and len(text) > 12:
            out.append(r"\allowbreak{}")
    return r"\texttt{" + "".join(out) + "}"


def tex(frag) -> str:
    """A fragment (or list of fragments) as LaTeX."""
    if isinstance(frag, (list, tuple)):
        return "".join(tex(f) for f in frag)
    if isinstance(frag, Num):
        return _num_tex(frag)
    if isinstance(frag, Math):
        return f"${frag.tex}$"
    if isinstance(frag, Code):
        return _tex_code(frag.text)
    if isinstance(frag, Link):
        return tex_escape(frag.text) + " (" + _tex_code(frag.target) + ")"
    if frag is None:
        return "n/a"
    return tex_escape(frag)


def _count_columns(align: str) -> int:
    spec = re.sub(r"\{[^{}]*\}", "", align)  # p{3cm} -> p
    return sum(c in "lcrpmbX" for c in spec)


def tex_table(t: Table) -> str:
    align = t.align or ("l" + "r" * (len(t.header) - 1))
    align = align.replace("p{", r">{\raggedright\arraybackslash}p{")  # no stretched justified cells
    head = " & ".join(r"\textbf{" + tex(h) + "}" for h in t.header) + r" \\"
    body = "\n".join(" & ".join(tex(c) for c in row) + r" \\" for row in t.rows)
    if t.long:
        return "\n".join([
            r"{\small\setlength{\tabcolsep}{3pt}",
            rf"\begin{{longtable}}{{{align}}}",
            rf"\caption{{{tex(t.caption)}}}\label{{tab:{t.label}}}\\",
            r"\toprule", head, r"\midrule\endfirsthead",
            r"\toprule", head, r"\midrule\endhead",
            r"\bottomrule\endfoot",
            body,
            r"\end{longtable}}", ""])
    return "\n".join([
        r"\begin{table}[H]\centering\small\setlength{\tabcolsep}{4pt}",
        rf"\caption{{{tex(t.caption)}}}\label{{tab:{t.label}}}",
        rf"\fitbox{{\begin{{tabular}}{{{align}}}",
        r"\toprule", head, r"\midrule", body if t.rows else "", r"\bottomrule",
        r"\end{tabular}}",
        r"\end{table}", ""])


def tex_block(b) -> str:
    if isinstance(b, Table):
        return tex_table(b)
    if isinstance(b, Figure):
        if b.pdf is None and b.png is None:
            return ""
        path = b.pdf or b.png
        return "\n".join([r"\begin{figure}[H]\centering",
                          rf"\includegraphics[width=0.85\linewidth,height=0.42\textheight,keepaspectratio]{{{path}}}",
                          rf"\caption{{{tex(b.caption)}}}\label{{fig:{b.label}}}",
                          r"\end{figure}", ""])
    if isinstance(b, Para):
        text = tex(b.parts)
        if b.style == "item":
            return r"\begin{itemize}\item " + text + r"\end{itemize}" + "\n"
        if b.style == "missing":
            return r"\noindent\fbox{\parbox{0.95\linewidth}{\textbf{Not available.} " + text + "}}\n\n"
        return text + "\n\n"
    raise TypeError(f"unknown block {type(b).__name__}")


def tex_section(s: Section) -> str:
    return rf"\section{{{tex_escape(s.title)}}}\label{{sec:{s.key}}}" + "\n\n" + "".join(tex_block(b) for b in s.blocks)


PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{booktabs,longtable,array,float}
\usepackage[hidelinks]{hyperref}
\newsavebox{\fitboxbox}
% a table wider than the text is scaled down to the text width, a narrower one is left alone
\newcommand{\fitbox}[1]{\sbox{\fitboxbox}{#1}\ifdim\wd\fitboxbox>\linewidth\resizebox{\linewidth}{!}{\usebox{\fitboxbox}}\else\usebox{\fitboxbox}\fi}
\setlength{\parindent}{0pt}\setlength{\parskip}{0.5\baselineskip}
\sloppy
"""


def tex_document(title: str, intro: list, sections: list[Section]) -> str:
    inputs = "\n".join(rf"\input{{sec_{s.key}}}" for s in sections)
    return (PREAMBLE + rf"\title{{{tex_escape(title)}}}" + "\n" + r"\date{}" + "\n"
            + r"\begin{document}" + "\n" + r"\maketitle" + "\n\n" + "".join(tex_block(b) for b in intro)
            + r"\tableofcontents" + "\n\n" + inputs + "\n" + r"\end{document}" + "\n")


# --------------------------------------------------------------------------- Markdown
def md_escape(text: str) -> str:
    return str(text).replace("|", r"\|").replace("*", r"\*")


def md(frag) -> str:
    """A fragment (or list of fragments) as Markdown."""
    if isinstance(frag, (list, tuple)):
        return "".join(md(f) for f in frag)
    if isinstance(frag, Num):
        return _num_md(frag)
    if isinstance(frag, Math):
        return frag.md if frag.md is not None else f"${frag.tex}$"
    if isinstance(frag, Code):
        return "`" + frag.text.replace("`", "'") + "`"
    if isinstance(frag, Link):
        return f"[{md_escape(frag.text)}]({frag.target})"
    if frag is None:
        return "n/a"
    return md_escape(frag)


def md_table(t: Table) -> str:
    def cell(c):
        return md(c).replace("\n", " ")
    cols = re.findall(r"[lcrpmbX]", re.sub(r"\{[^{}]*\}", "", t.align or ("l" + "r" * (len(t.header) - 1))))
    rule = {"r": "--:", "c": ":-:"}
    lines = [f"<!-- table: {t.label} -->", f"**Table ({t.label}).** {md(t.caption)}", "",
             "| " + " | ".join(cell(h) for h in t.header) + " |",
             "|" + "|".join(rule.get(c, "---") for c in cols) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines) + "\n\n"


def md_block(b) -> str:
    if isinstance(b, Table):
        return md_table(b)
    if isinstance(b, Figure):
        path = b.png or b.pdf
        if path is None:
            return ""
        return f"![{b.label}]({path})\n\n*Figure ({b.label}).* {md(b.caption)}\n\n"
    if isinstance(b, Para):
        text = md(b.parts)
        if b.style == "item":
            return f"- {text}\n\n"
        if b.style == "missing":
            return f"> **Not available.** {text}\n\n"
        return text + "\n\n"
    raise TypeError(f"unknown block {type(b).__name__}")


def md_section(s: Section, number: int) -> str:
    return f"## {number}. {s.title}\n\n" + "".join(md_block(b) for b in s.blocks)


def md_document(title: str, intro: list, sections: list[Section]) -> str:
    toc = "\n".join(f"{i}. [{s.title}](#{i}-{_anchor(s.title)})" for i, s in enumerate(sections, 1))
    return (f"# {title}\n\n" + "".join(md_block(b) for b in intro) + toc + "\n\n"
            + "".join(md_section(s, i) for i, s in enumerate(sections, 1)))


def _anchor(title: str) -> str:
    s = re.sub(r"[^\w\- ]", "", title.lower())
    return s.replace(" ", "-")
