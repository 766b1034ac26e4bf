"""What every appendix section reads: the stored records (raw and typed), the figures, the checks.

Sections get one ``Context``; every number they print comes from a summary record read
through its experiment's typed reader (``ntk_bridge.experiments.<name>.read``), from its
point records, or from the proofs_checks JSON, never typed in the code.
"""
from __future__ import annotations

from pathlib import Path

from .. import experiments, selection, store
from . import figure_files
from .render import Code, Figure, Num, Para


def stat_num(s) -> Num | str:
    """A ``Stat`` as a ``Num`` (``mean ± std``); ``None`` as ``"failed"``."""
    if s is None:
        return "failed"
    return Num(s.mean, s.std, s.n)


def fit_cells(f, x=None) -> list:
    """``[r, interval of r, c, fitted x]`` of a ``PowerFit``."""
    if f is None or not f.ok:
        return ["-", f.error if f is not None else "no fit", "-", "-"]
    return [Num(f.r), [Num(f.r_lo), ", ", Num(f.r_hi)], Num(f.c), ", ".join(str(d) for d in (f.x or x or ()))]


class Context:
    """The stored results an appendix is built from: summaries, their points, figures, checks."""

    def __init__(self, root, out: Path, figures: dict | None = None, checks: dict | None = None,
                 checks_source: str | None = None, quick: bool = False):
        self.root = Path(root)
        self.out = Path(out)
        self.figures = figures or {}       # stem -> {"pdf": "figures/<stem>.pdf" | None, "png": ... | None}
        self.checks = checks               # the proofs_checks JSON document, or None
        self.checks_source = checks_source
        self.quick = quick
        self._summaries: dict = {}
        self._typed: dict = {}
        self._points: dict = {}
        self.problems: list[str] = []      # sections or figures that could not be built (exit status 1)

    def summary(self, name: str, digits: bool = False) -> dict | None:
        """The raw selected summary record of experiment ``name`` (for provenance: hash, config, timings).

        ``digits``: the one on the real-image family instead (``selection.on_digits``); by default
        the one on the synthetic families (the headline).  Which one, when there are several:
        ``selection.json`` (``ntk_bridge.selection``).
        """
        key = (name, digits)
        if key not in self._summaries:
            self._summaries[key] = selection.summary(self.root, name, digits)
        return self._summaries[key]

    def read(self, name: str, digits: bool = False):
        """The typed selected summary of experiment ``name`` (its module's ``read``), or ``None`` if never run."""
        key = (name, digits)
        if key not in self._typed:
            record = self.summary(name, digits)
            self._typed[key] = None if record is None else experiments.read(record)
        return self._typed[key]

    def points(self, name: str) -> list[dict]:
        if name not in self._points:
            summ = self.summary(name)
            self._points[name] = [] if summ is None else store.points_of(self.root, summ)
        return self._points[name]

    def command(self, name: str) -> str:
        return f"ntk-bridge {name}" + (" --quick" if self.quick else "") + (
            "" if self.root in (store.DEFAULT_ROOT, store.QUICK_ROOT) else f" --results {self.root}")

    def missing(self, name: str) -> Para:
        return Para([f"The {name} experiment has no summary record under ", Code(str(self.root / name)),
                     "; run ", Code(self.command(name)), " to produce it."], style="missing")

    def figures_for(self, key: str) -> list[Figure]:
        """The figures (under ``<out>/figures``) of appendix section ``key``, captioned from ``ntk_bridge.figures``.

        The summary record named in a PNG's metadata is compared with the one this appendix reads;
        a mismatch is flagged in the caption and reported as a problem.
        """
        out = []
        for stem, files in sorted(self.figures.items()):
            if figure_files.section(stem) != key:
                continue
            caption = [figure_files.caption(stem).rstrip("."), " (", Code(stem), ", drawn by ",
                       Code("ntk-bridge figures"), ")."]
            source = figure_files.source(self.out / files["png"]) if files.get("png") else None
            if source is not None:
                exp, hash_ = source
                # the summary of either kind (synthetic, digits) the appendix reads for this experiment
                read = [x for d in (False, True) if exp in experiments.names() and (x := self.summary(exp, d))]
                summ = next((x for x in read if x["config_hash"] == hash_), read[0] if read else None)
                if summ is not None and summ["config_hash"] != hash_:
                    caption += [" Warning: drawn from the ", exp, " summary ", Code(hash_), ", not the summary ",
                                Code(summ["config_hash"]), " this appendix reads; rerun ", Code(self.command("figures")),
                                "."]
                    self.problems.append(f"figure {stem} was drawn from another {exp} summary ({hash_})")
            out.append(Figure(f"{key}-{stem}", files.get("pdf"), files.get("png"), caption))
        return out

    def record_info(self, record) -> list:
        """Where and when a record (raw, or typed with ``.record``) was computed, as fragments."""
        record = getattr(record, "record", record)
        dev = record.get("device", {})
        t = record.get("timings", {})
        names = []
        for x in (dev.get("jax_backend"), dev.get("device_kind"), dev.get("host_cpu")):
            if x and str(x) not in names:
                names.append(str(x))
        machine = ", ".join(names) or "unknown machine"
        parts = ["Computed on ", machine]
        if dev.get("cpu_count"):
            parts += [" (", Num(dev["cpu_count"]), " CPUs)"]
        parts += [", summary written ", Code(record.get("created", "?"))]
        if "points_compute_s" in t:
            parts += [", points compute time ", Num(t["points_compute_s"]), " s"]
        if "total_s" in t:
            parts += [", sweep wall time ", Num(t["total_s"]), " s"]
        return parts
