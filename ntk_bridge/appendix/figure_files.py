"""The appendix's figures: drawn from the records into ``<out>/figures``, or copied there from a given folder.

Nothing is looked up relative to the working directory: the figures are either those of an
explicit ``--figures DIR`` or drawn afresh (``ntk_bridge.figures``) from the results the
appendix reads.  Captions and the section a figure belongs to are declared by its module in
``ntk_bridge.figures``; a figure of another name goes to "Further figures".
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from .. import figures as _figures

SUFFIXES = (".pdf", ".png")


def section(stem: str) -> str:
    """The appendix section of figure ``stem`` (``"other"`` for a figure ``ntk_bridge.figures`` does not draw)."""
    return _figures.section(stem) if stem in _figures.names() else "other"


def caption(stem: str) -> str:
    return _figures.caption(stem) if stem in _figures.names() else "Figure"


def source(png: Path) -> tuple[str, str] | None:
    """``(experiment, summary hash)`` named in a PNG's metadata by ``ntk_bridge.figures.common.save``, if any."""
    try:
        from PIL import Image

        with Image.open(png) as im:
            text = im.text.get("Description", "") if hasattr(im, "text") else ""
    except Exception:  # no Pillow or not a readable PNG: no provenance to compare
        return None
    m = re.match(r"ntk_bridge (\S+) summary ([0-9a-f]{16})", text)
    return (m.group(1), m.group(2)) if m else None


def collect(root: Path, out: Path, figures_from: Path | None = None) -> tuple[dict, list[str]]:
    """Fill ``<out>/figures``: copy ``figures_from`` (if given) or draw every figure from ``root``.

    Returns ``({stem: {"pdf": "figures/<stem>.pdf" | None, "png": ...}}, problems)``, paths relative
    to ``out``; ``problems`` names the figures that failed to draw.
    """
    dest = Path(out) / "figures"
    problems: list[str] = []
    if figures_from is not None and dest.resolve() in Path(figures_from).resolve().parents:
        raise ValueError(f"--figures {figures_from} lies inside {dest}, which the appendix refreshes (deletes) "
                         f"before copying: copy the figures elsewhere first")
    if figures_from is not None and Path(figures_from).resolve() == dest.resolve():
        pass  # the figures are already where the appendix keeps them
    else:
        if dest.is_dir():
            shutil.rmtree(dest)  # our own copy, refreshed
        if figures_from is not None:
            _copy(Path(figures_from), dest)
        else:
            _, _, failed = _figures.draw(root, dest, log=lambda message: None)
            problems += [f"figure {name} failed to draw: {why}" for name, why in failed.items()]
    found: dict = {}
    if dest.is_dir():
        for p in sorted(dest.iterdir()):
            if p.is_file() and p.suffix.lower() in SUFFIXES:
                found.setdefault(p.stem, {"pdf": None, "png": None})[p.suffix.lower()[1:]] = f"figures/{p.name}"
    return found, problems


def _copy(src: Path, dest: Path) -> None:
    """Copy every PDF/PNG under ``src`` to ``dest``, sub-folders flattened into the name (``a/b.png``: ``a-b.png``)."""
    for p in sorted(src.rglob("*")):
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            stem = p.relative_to(src).with_suffix("").as_posix().replace("/", "-")
            safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest / f"{safe}{p.suffix.lower()}")
