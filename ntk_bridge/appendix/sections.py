"""The appendix sections, each built from stored records only (``ntk_bridge.store``).

A builder takes the :class:`Context` and returns a :class:`~.render.Section`; when its
experiment was never run (no summary record) the section says so, with the command that
produces it.  Every number printed is read from a record (a summary, its point records,
or the proofs_checks JSON) — never typed here.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .. import store
from .render import Code, Figure, Math, Num, Para, Section, Table

ALGO_NAMES = {"anil": "ANIL", "maml": "MAML"}
GAP_NAMES = {"rel_gap": "rel. gap", "normalized_gap": "norm. gap"}
METHOD_NAMES = {"mtl": "MTL", "anil-same": "ANIL same", "anil-disjoint": "ANIL disj.", "maml-same": "MAML same",
                "maml-disjoint": "MAML disj.", "no-transfer": "no transfer"}
# Which figure (by words in its file name) belongs to which section, tried in this order.
FIGURE_KEYS = (("ablate", ("ablat",)), ("kernels", ("kernel", "share")), ("closeness", ("closeness", "depth", "lr_steps",
               "lr-steps", "gap")), ("cost", ("cost", "timing", "time")), ("accuracy", ("accuracy", "error", "acc")),
               ("width", ("width", "finite", "converg")))


def stat_num(s) -> Num | str:
    """A ``{"mean", "std", "n"}`` stat as a :class:`Num`; ``None`` as ``"failed"``."""
    if s is None:
        return "failed"
    if "error" in s and "mean" not in s:
        return "failed"
    return Num(s["mean"], s.get("std"), s.get("n"))


class Context:
    """The stored results an appendix is built from: summaries, their points, figures, checks."""

    def __init__(self, root, out: Path, figures: dict | None = None, checks: dict | None = None,
                 checks_source: str | None = None, quick: bool = False):
        self.root = Path(root)
        self.out = Path(out)
        self.figures = figures or {}       # stem -> {"pdf": Path | None, "png": Path | None}
        self.checks = checks               # the proofs_checks JSON document, or None
        self.checks_source = checks_source
        self.quick = quick
        self._summaries: dict = {}
        self._points: dict = {}
        self.problems: list[str] = []      # sections that could not be built (reported, exit status 1)

    def summary(self, name: str) -> dict | None:
        if name not in self._summaries:
            self._summaries[name] = store.latest_summary(self.root, name)
        return self._summaries[name]

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
        """The figures (copied under ``<out>/figures``) whose file names belong to section ``key``.

        The caption is the docstring of the script that drew it (``figures/<stem>.py``); the
        summary record named in the PNG's metadata is compared with the one this appendix reads.
        """
        out = []
        for stem, files in sorted(self.figures.items()):
            if figure_section(stem) != key:
                continue
            caption = [(figure_caption(stem) or "Figure").rstrip("."), " (", Code(stem), ", drawn by ",
                       Code("ntk-bridge figures"), ")."]
            source = figure_source(self.out / files["png"]) if files.get("png") else None
            if source is not None:
                exp, hash_ = source
                summ = self.summary(exp) if exp in EXPERIMENT_NAMES else None
                if summ is not None and summ["config_hash"] != hash_:
                    caption += [" Warning: drawn from the ", exp, " summary ", Code(hash_), ", not the summary ",
                                Code(summ["config_hash"]), " this appendix reads; rerun ", Code(self.command("figures")),
                                "."]
                    self.problems.append(f"figure {stem} was drawn from another {exp} summary ({hash_})")
            out.append(Figure(f"{key}-{stem}", files.get("pdf"), files.get("png"), caption))
        return out

    def record_info(self, record: dict) -> list:
        """Where and when a record was computed, as fragments."""
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


# File-name prefixes of the scripts in figures/ (figures.SCRIPTS) -> section.
FIGURE_PREFIXES = (("kernel_share", "kernels"), ("lr_steps", "closeness"), ("closeness", "closeness"),
                   ("width", "width"), ("accuracy", "accuracy"), ("cost", "cost"), ("ablate", "ablate"))


EXPERIMENT_NAMES = ("closeness", "width", "kernel-share", "accuracy", "cost", "ablate")
FIGURE_SCRIPTS = Path(__file__).resolve().parents[2] / "figures"


def figure_caption(stem: str) -> str | None:
    """First paragraph of the docstring of ``figures/<stem>.py`` (without a leading "Figure:")."""
    import ast

    path = FIGURE_SCRIPTS / f"{stem}.py"
    if not path.is_file():
        return None
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except SyntaxError:
        return None
    if not doc:
        return None
    text = " ".join(doc.split("\n\n")[0].split())
    text = text[len("Figure:"):].strip() if text.startswith("Figure:") else text
    return text[:1].upper() + text[1:]


def figure_source(png: Path) -> tuple[str, str] | None:
    """``(experiment, summary hash)`` named in a PNG's metadata by ``figures.common.save``, if any."""
    try:
        from PIL import Image

        with Image.open(png) as im:
            text = im.text.get("Description", "") if hasattr(im, "text") else ""
    except Exception:  # no Pillow or not a readable PNG: no provenance to compare
        return None
    m = re.match(r"ntk_bridge (\S+) summary ([0-9a-f]{16})", text)
    return (m.group(1), m.group(2)) if m else None


def figure_section(stem: str) -> str:
    low = stem.lower()
    for prefix, key in FIGURE_PREFIXES:
        if low.startswith(prefix):
            return key
    for key, words in FIGURE_KEYS:
        if any(w in low for w in words):
            return key
    return "other"


def find_figures(dirs, out: Path) -> dict:
    """Copy every PDF/PNG of the first existing folder in ``dirs`` to ``<out>/figures``.

    Returns ``{stem: {"pdf": "figures/<stem>.pdf" | None, "png": ... | None}}`` (paths relative to ``out``).
    """
    found: dict = {}
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        files = sorted(p for p in d.rglob("*") if p.suffix.lower() in (".pdf", ".png") and p.is_file())
        if not files:
            continue
        dest = out / "figures"
        dest.mkdir(parents=True, exist_ok=True)
        for p in files:
            stem = p.relative_to(d).with_suffix("").as_posix().replace("/", "-")
            safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
            target = dest / f"{safe}{p.suffix.lower()}"
            shutil.copyfile(p, target)
            found.setdefault(safe, {"pdf": None, "png": None})[p.suffix.lower()[1:]] = f"figures/{target.name}"
        break
    return found


# --------------------------------------------------------------------------- setup
def _flat(config: dict, prefix: str = "") -> list[tuple[str, str]]:
    items = []
    for k, v in config.items():
        if isinstance(v, dict):
            items += _flat(v, f"{prefix}{k}.")
        else:
            items.append((prefix + k, json.dumps(v, separators=(",", ":"))))
    return items


def setup(ctx: Context) -> Section:
    from ..experiments import ORDER
    from ..spec import MLPSpec

    spec = MLPSpec()
    blocks = [Para(["Fully connected ReLU networks in NTK parameterization: ", Math("L"),
                    " hidden layers ", Code("Dense(n, W_std=w_std, b_std=b_std) -> ReLU"), ", then a linear head ",
                    Code("Dense(k, W_std=head_std, b_std=b_std)"), ", with the ", Code("MLPSpec"), " defaults ",
                    Code("w_std"), " = ", Num(spec.w_std), ", ", Code("b_std"), " = ", Num(spec.b_std), ", ",
                    Code("head_std"), " = ", Num(spec.head_std),
                    " (no experiment overrides them). Infinite width uses the NTK ", Math(r"\Theta"),
                    ", its head part ", Math(r"\Sigma"), " (the NNGP kernel) and ",
                    Math(r"\Theta_{\mathrm{body}} = \Theta - \Sigma"),
                    "; finite widths train centered networks. The loss is half the sum of squared errors."])]
    summaries = [(name, ctx.summary(name)) for name in ORDER]
    present = [(n, s) for n, s in summaries if s is not None]
    if not present:
        blocks.append(Para(["No experiment has a summary record under ", Code(str(ctx.root)), "."], style="missing"))
        return Section("setup", "Setup", blocks)
    # task families
    rows = []
    for name, s in present:
        cfg = s["config"]
        tasks = [cfg["tasks"]] if "tasks" in cfg else []
        if not tasks and "families" in cfg:
            tasks = [{"family": f, "n_train": cfg.get("n_train"), "n_test": cfg.get("n_test")}
                     for f in cfg["families"]]
        for t in tasks:
            opts = "; ".join(f"{k}={v}" for k, v in (t.get("options") or [])) or "-"
            rows.append([Code(name), t["family"], _int(t.get("n_train")), _int(t.get("n_test")),
                         _int(t.get("n_support")), _int(t.get("n_query")), opts])
    if rows:
        blocks.append(Table("setup-tasks", ["Task families per experiment (training tasks and unseen test tasks; "
                                            "support/query points per task, per class for clusters; "
                                            "blank: set per family by the experiment)."],
                            ["experiment", "family", "train tasks", "test tasks", "support", "query", "options"], rows,
                            align="llrrrrl"))
    # configurations
    rows = []
    for name, s in present:
        cfg = ", ".join(f"{k}={v}" for k, v in _flat(s["config"]) if not k.startswith("tasks."))
        rows.append([Code(name), Code(s["config_hash"]), Num(len(s["result"].get("points", []))), Code(cfg)])
    blocks.append(Table("setup-configs", ["Configuration of each experiment's latest summary record (",
                                          Code(str(ctx.root)), "; task settings in the table above)."],
                        ["experiment", "summary", "points", "configuration"], rows, align="llrp{10.5cm}"))
    # versions and machines, over every record read
    records = [s for _, s in present]
    for name, _ in present:
        try:
            records += ctx.points(name)
        except FileNotFoundError:
            pass
    versions, devices = {}, {}
    for r in records:
        for pkg, v in (r.get("versions") or {}).items():
            versions.setdefault(pkg, set()).add(str(v))
        d = r.get("device") or {}
        key = tuple(str(d[k]) if d.get(k) is not None else "-" for k in ("jax_backend", "device_kind", "host_cpu", "cpu_count"))
        devices[key] = devices.get(key, 0) + 1
    blocks.append(Table("setup-versions", ["Package versions recorded in the ", Num(len(records)),
                                           " records read (several values: records from different installs)."],
                        ["package", "version(s)"], [[Code(p), ", ".join(sorted(v))] for p, v in sorted(versions.items())],
                        align="ll"))
    blocks.append(Table("setup-devices", ["Machines recorded (JAX backend and device, host CPU) and how many "
                                          "records each computed."],
                        ["backend", "device", "host CPU", "CPUs", "records"],
                        [[*k, Num(n)] for k, n in sorted(devices.items())], align="llp{7cm}rr"))
    rows = []
    for name, s in present:
        pts = []
        try:
            pts = ctx.points(name)
        except FileNotFoundError:
            pass
        created = sorted(r["created"] for r in pts + [s])
        t = s.get("timings", {})
        rows.append([Code(name), Num(len(pts)), Num(t.get("points_compute_s")), Num(t.get("total_s")),
                     created[0], created[-1]])
    blocks.append(Table("setup-timings", ["Compute time per experiment: the sum over its point records of the "
                                          "time each took, and the wall time of the (last, possibly resumed) "
                                          "sweep that wrote the summary."],
                        ["experiment", "points", "points compute (s)", "sweep wall (s)", "first record",
                         "summary"], rows, align="lrrrll"))
    return Section("setup", "Setup", blocks)


def _int(v):
    return "" if v is None else Num(v)


# --------------------------------------------------------------------------- kernels
def kernels(ctx: Context) -> Section:
    s = ctx.summary("kernel-share")
    blocks = [Para(["For ReLU with ", Math(r"w_{\mathrm{std}}=\sqrt2, b_{\mathrm{std}}=0"),
                    " the head's share of the NTK diagonal is exactly ", Math(r"\Sigma(x,x)/\Theta(x,x) = 1/(L+1)"),
                    "; off the diagonal both kernels flatten toward constants as depth grows. This is the mechanism "
                    "behind claim C3: the inner loop of ANIL moves only the head, whose share of the kernel vanishes."])]
    if s is None:
        return Section("kernels", "Kernels: the head's share", blocks + [ctx.missing("kernel-share")])
    cfg = s["config"]
    rows = [[Num(r["depth"]), Num(r["theory_diag_share"]), stat_num(r["diag_share"]), Num(r["diag_share_max_dev"]),
             stat_num(r["offdiag_share"]), stat_num(r["ntk_corr_std"])] for r in s["result"]["rows"]]
    blocks.append(Table("kernel-share", ["Head share of the NTK vs depth ", Math("L"), " (", Num(cfg["n_points"]),
                                         " points on the unit sphere in ", Num(cfg["dim"]), " dimensions; mean ",
                                         Math(r"\pm"), " std over ", Num(cfg["seeds"]), " seeds). Max dev.: largest ",
                                         Math(r"|\Sigma(x,x)/\Theta(x,x) - 1/(L+1)|"), " over points and seeds."],
                        ["L", "1/(L+1)", "diag. share", "max dev.", "off-diag. share", "NTK corr. spread"], rows))
    fits = s["result"].get("fits") or {}
    names = {"offdiag_share": "off-diagonal share", "ntk_corr_std": "NTK correlation spread"}
    rows = [[names.get(k, k), *_fit_cells(dict(f, depths=cfg["depths"]))] for k, f in fits.items()]
    if rows:
        blocks.append(Table("kernel-share-fit", ["Fitted decay ", Math(r"c\,L^{-r}"), " of the off-diagonal "
                                                 "quantities with depth, bootstrap interval over seeds (level ",
                                                 Num(next(iter(fits.values())).get("level")), ")."],
                            ["quantity", "r", "interval of r", "c", "depths"], rows, align="lrrrl"))
    blocks.append(Para(ctx.record_info(s)))
    return Section("kernels", "Kernels: the head's share", blocks + ctx.figures_for("kernels"))


# --------------------------------------------------------------------------- closeness
def closeness_headline(s: dict) -> dict:
    """``{split: {algo: {gap: [stat per depth]}}}`` and the fits, from a closeness summary."""
    res = s["result"]
    out = {}
    for key, val in res.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[1] in ALGO_NAMES and parts[2] in GAP_NAMES:
            out.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = val
    return out


def c3_inputs(s: dict) -> dict:
    """Inputs of :func:`verdicts.c3` from a closeness summary (split ``"same"``)."""
    res, head = s["result"], closeness_headline(s)
    depths = res["depths"]
    i0, i1 = depths.index(min(depths)), depths.index(max(depths))
    out = {}
    for algo, gaps in head.get("same", {}).items():
        rel, norm = gaps.get("rel_gap"), gaps.get("normalized_gap")
        if not rel or rel[i0] is None or rel[i1] is None:
            continue
        fr, fn = res.get(f"fit/same/{algo}/rel_gap", {}), res.get(f"fit/same/{algo}/normalized_gap", {})
        out[algo] = {"rel_first": rel[i0]["mean"], "rel_last": rel[i1]["mean"],
                     "norm_first": norm[i0]["mean"] if norm and norm[i0] else None,
                     "norm_last": norm[i1]["mean"] if norm and norm[i1] else None,
                     "rel_r_lo": fr.get("r_lo"), "norm_r_lo": fn.get("r_lo"),
                     "rel_monotone": fr.get("monotone_decreasing", False),
                     "norm_monotone": fn.get("monotone_decreasing", False)}
    return out


def _fit_cells(f: dict | None):
    if not f or "error" in f:
        return ["-", (f or {}).get("error", "no fit"), "-", "-"]
    return [Num(f["r"]), [Num(f["r_lo"]), ", ", Num(f["r_hi"])], Num(f["c"]),
            ", ".join(str(d) for d in f.get("depths", []))]


def closeness(ctx: Context) -> Section:
    title = "Closeness of MTL and GBML vs depth"
    blocks = [Para(["Gaps between the GBML prediction ", Math("a"), " and the MTL prediction ", Math("b"),
                    " (shared heads) on the queries of unseen test tasks: ", Math(r"\|a-b\|/\|b\|"),
                    " (rel. gap) and ", Math(r"\|a-b\|/\|b-c\|"), " (norm. gap), ", Math("c"),
                    " the no-transfer baseline. Split ", Code("same"),
                    " is the theorem's setting (GBML adapts and scores on the same data); ", Code("disjoint"),
                    " (adapt on support, score on query) is the practical ablation."])]
    s = ctx.summary("closeness")
    if s is None:
        return Section("closeness", title, blocks + [ctx.missing("closeness")])
    res, cfg = s["result"], s["config"]
    t = cfg["tasks"]
    seeds = cfg.get("seeds")
    blocks.append(Para(["Family ", Code(t["family"]), ", ", Num(t["n_train"]), " training and ", Num(t["n_test"]),
                        " test tasks of ", Num(t["n_support"]), " support and ", Num(t["n_query"]),
                        " query points; inner loop ", Math(r"\mathrm{lr}"), " = ", Num(res["lr"]), ", ",
                        Num(res["steps"]), " steps; infinite width; mean ", Math(r"\pm"), " std over ", Num(seeds),
                        " task-sampling seeds. ", *ctx.record_info(s), "."]))
    head = closeness_headline(s)
    depths = res["depths"]
    for split in cfg.get("splits", sorted(head)):
        if split not in head:
            continue
        rows = []
        for i, L in enumerate(depths):
            row = [Num(L)]
            for algo in ALGO_NAMES:
                for gap in GAP_NAMES:
                    row.append(stat_num(head[split].get(algo, {}).get(gap, [None] * len(depths))[i]))
            row.append(stat_num(res["transfer"][i]))
            rows.append(row)
        blocks.append(Table(f"closeness-{split}", ["Gap GBML vs MTL against depth ", Math("L"), ", split ",
                                                   Code(split), ". Transfer: ", Math(r"\|c-b\|/\|b\|"),
                                                   ", how far MTL is from no transfer."],
                            ["L", "ANIL rel.", "ANIL norm.", "MAML rel.", "MAML norm.", "transfer"], rows))
    rows = []
    for split in cfg.get("splits", ()):
        for algo in ALGO_NAMES:
            for gap in GAP_NAMES:
                f = res.get(f"fit/{split}/{algo}/{gap}")
                if f is not None:
                    rows.append([Code(split), ALGO_NAMES[algo], GAP_NAMES[gap], *_fit_cells(f)])
    level = next((f.get("level") for k, f in res.items() if k.startswith("fit/") and isinstance(f, dict)
                  and "level" in f), None)
    blocks.append(Table("closeness-fit", ["Fitted rate ", Math(r"\mathrm{gap} \approx c\,L^{-r}"),
                                          " (least squares in log-log) with its bootstrap interval over seeds (level ",
                                          Num(level), ")."],
                        ["split", "algo", "gap", "r", "interval of r", "c", "depths"], rows, align="lllrrrl"))
    rows = []
    for algo in ALGO_NAMES:
        ls = res.get(f"lr_steps/{algo}")
        if not ls:
            continue
        for xkey, xname in (("fit", "lr*steps"), ("fit_scaled", "lr*steps*(L+1)" if algo == "maml" else None)):
            f = ls.get(xkey)
            if xname is None or f is None:
                continue
            if "error" in f:
                rows.append([ALGO_NAMES[algo], xname, f["error"], "-", "-", "-", Num(f.get("n"))])
            else:
                rows.append([ALGO_NAMES[algo], xname, Num(f["a"]), Num(f["b"]), Num(f["c"]), Num(f["r2"]),
                             Num(f["n"])])
    if rows:
        ls_depths = sorted({r["depth"] for a in ALGO_NAMES for r in res.get(f"lr_steps/{a}", {}).get("rows", [])})
        blocks.append(Table("closeness-lr-steps", ["Least-squares fit ", Math(r"\mathrm{gap} = a\,x + b/L + c"),
                                                   " of the rel. gap (split ", Code("same"), ", mean over seeds) on the ",
                                                   Math(r"(\mathrm{lr}, \mathrm{steps})"), " grid at depths ",
                                                   ", ".join(str(d) for d in ls_depths), "; ", Math("x"),
                                                   " = lr*steps, or lr*steps*(L+1) for MAML, whose inner kernel ",
                                                   Math(r"\Theta"), " is ", Math("L+1"), " times the head's."],
                            ["algo", "x", "a", "b", "c", Math("R^2", "R²"), "points"], rows, align="llrrrrr"))
    finite = res.get("finite") or []
    if finite:
        rows = []
        for r in finite:
            for split in cfg.get("splits", ()):
                if split not in r:
                    continue
                v = r[split]
                rows.append([Num(r["depth"]), Num(r["width"]), Num(r["seed"]), Code(split), Num(v["rel_gap"]),
                             Num(v["rel_gap_infinite"]), Num(v["err_to_infinite"].get("mtl")),
                             Num(v["err_to_infinite"].get("anil")),
                             "yes" if all(v.get("converged", {}).values()) else "no"])
        blocks.append(Table("closeness-finite", ["Finite width (centered nets, trained): rel. gap ANIL vs MTL "
                                                 "of the trained nets beside the infinite-width gap, and each "
                                                 "net's relative error to its infinite-width prediction."],
                            ["L", "width", "seed", "split", "rel. gap", "rel. gap (inf.)", "MTL err.", "ANIL err.",
                             "converged"], rows, align="rrrlrrrrl"))
    return Section("closeness", title, blocks + ctx.figures_for("closeness"))


# --------------------------------------------------------------------------- width
WIDTH_METHODS = {"mtl-shared": "MTL", "anil": "ANIL", "maml": "MAML", "fomaml": "FOMAML"}


def width_fits(s: dict) -> list[tuple[int, str, dict]]:
    """``(depth, method, fit)`` of ``err ~ c width^-r`` for every depth and method of a width summary."""
    res = s["result"]
    return [(L, m, res[f"{L}/{m}/fit"]) for L in res.get("depths", []) for m in res.get("methods", [])
            if isinstance(res.get(f"{L}/{m}/fit"), dict) and "r" in res[f"{L}/{m}/fit"]]


def width_slopes(s: dict) -> list[float]:
    """Fitted slopes ``-r`` (theory: ``-1/2``) of every depth and method."""
    return [-f["r"] for _, _, f in width_fits(s)]


def width(ctx: Context) -> Section:
    title = "Width: finite networks converge to the closed forms"
    blocks = [Para(["Centered finite networks trained by gradient descent (MTL first order, GBML second order "
                    "through the inner loop) against the closed-form infinite-width predictors on the test queries: ",
                    Math(r"\mathrm{err} = \|f_n - f_\infty\|/\|f_\infty\|"), ", expected to fall like ",
                    Math(r"n^{-1/2}"), " with the width ", Math("n"), "."])]
    s = ctx.summary("width")
    if s is None:
        return Section("width", title, blocks + [ctx.missing("width")])
    res, cfg = s["result"], s["config"]
    t = cfg["tasks"]
    widths = res["widths"]
    blocks.append(Para(["Family ", Code(t["family"]), ", ", Num(t["n_train"]), " training and ", Num(t["n_test"]),
                        " test tasks (one draw, task seed ", Num(cfg.get("task_seed")), "), split ",
                        Code(str(cfg.get("split"))), ", inner loop lr = ", Num(cfg.get("lr")), ", ",
                        Num(cfg.get("steps")), " steps, at most ", Num(cfg.get("outer_steps")),
                        " outer steps; mean ", Math(r"\pm"), " std over ", Num(cfg.get("seeds")),
                        " initialization seeds. ", *ctx.record_info(s), "."]))
    rows = []
    for L in res["depths"]:
        for m in res["methods"]:
            errs = res.get(f"{L}/{m}/err") or [None] * len(widths)
            f = res.get(f"{L}/{m}/fit") or {}
            rows.append([Num(L), WIDTH_METHODS.get(m, m), *[stat_num(e) for e in errs],
                         Num(-f["r"]) if "r" in f else "-",
                         [Num(-f["r_hi"]), ", ", Num(-f["r_lo"])] if "r_lo" in f else "-",
                         "yes" if res.get(f"{L}/{m}/converged") else "no"])
    blocks.append(Table("width-err", ["Relative error of the trained finite net to the closed form against width, "
                                      "and the fitted slope of ", Math(r"\log \mathrm{err}"), " vs ",
                                      Math(r"\log n"), " (theory ", Math("-1/2"), ") with its bootstrap interval (level ",
                                      Num(next((f.get("level") for _, _, f in width_fits(s)), None)), ")."],
                        ["L", "method", *[f"n={w}" for w in widths], "slope", "interval", "converged"], rows,
                        align="rl" + "r" * len(widths) + "rrl"))
    rows = []
    for L in res["depths"]:
        for m in res["methods"]:
            g = res.get(f"{L}/{m}/gap_to_mtl")
            if g:
                rows.append([Num(L), WIDTH_METHODS.get(m, m), *[stat_num(x) for x in g["finite"]], Num(g["infinite"])])
    if rows:
        blocks.append(Table("width-gap", ["Rel. gap GBML vs MTL of the trained finite nets against width, beside "
                                          "the infinite-width gap of the closed forms."],
                            ["L", "method", *[f"n={w}" for w in widths], "infinite"], rows,
                            align="rl" + "r" * (len(widths) + 1)))
    return Section("width", title, blocks + ctx.figures_for("width"))


# --------------------------------------------------------------------------- cost
COST_METHODS = {"mtl-shared": "MTL", "anil": "ANIL", "fomaml": "FOMAML", "maml": "MAML"}


def cost_ratio(s: dict) -> tuple[float | None, float | None]:
    """Second-order MAML's time per outer step / MTL's at the largest width: (mean, std over repeats)."""
    v = s["result"].get("ratio_maml")
    if isinstance(v, (int, float)):
        return float(v), None
    if isinstance(v, dict) and "mean" in v:
        return float(v["mean"]), v.get("std")
    return None, None


def ms(stat: dict | None):
    """A time stat in seconds shown in milliseconds."""
    if stat is None or "mean" not in stat:
        return stat_num(stat)
    return Num(1e3 * stat["mean"], None if stat.get("std") is None else 1e3 * stat["std"], stat.get("n"))


def cost(ctx: Context) -> Section:
    title = "Cost: MTL vs second-order GBML"
    blocks = [Para(["Wall-clock time per full-batch outer training step of finite networks: MTL (first order, "
                    "support ", Math(r"\cup"), " query), ANIL and MAML (second order: gradients through the inner "
                    "loop) and FOMAML (first-order MAML), timed side by side on the same tasks after the jit "
                    "warm-up."])]
    s = ctx.summary("cost")
    if s is None:
        return Section("cost", title, blocks + [ctx.missing("cost")])
    res, cfg = s["result"], s["config"]
    if "rows" not in res:
        return Section("cost", title, blocks + generic_result(s, "cost") + [Para(ctx.record_info(s))])
    devices = sorted({str(r.get("device")) for r in res["rows"]})
    blocks.append(Para(["Depth ", Num(cfg.get("depth")), ", ", Num(cfg.get("n_tasks")), " tasks of ",
                        Num(cfg.get("n_support")), " support and ", Num(cfg.get("n_query")), " query points in ",
                        Num(cfg.get("dim")), " dimensions, ", Num(cfg.get("steps")), " inner steps; each time is the "
                        "mean ", Math(r"\pm"), " std over ", Num(cfg.get("repeats")), " repeats of ",
                        Num(cfg.get("n_steps")), " timed steps, on ", ", ".join(devices), ". ",
                        *ctx.record_info(s), "."]))
    methods = [m for m in COST_METHODS if any(f"per_step_s/{m}" in r for r in res["rows"])]
    rows = [[Num(r["width"]), *[ms(r.get(f"per_step_s/{m}")) for m in methods],
             *[stat_num(r.get(f"ratio/{m}")) for m in methods if m != "mtl-shared"]] for r in res["rows"]]
    blocks.append(Table("cost", ["Time per outer step in milliseconds and its ratio to MTL's (each repeat's ratio "
                                 "from the times measured in that repeat)."],
                        ["width", *[f"{COST_METHODS[m]} (ms)" for m in methods],
                         *[f"{COST_METHODS[m]}/MTL" for m in methods if m != "mtl-shared"]], rows))
    return Section("cost", title, blocks + ctx.figures_for("cost"))


def generic_result(s: dict, label: str) -> list:
    """Every scalar and mean/std entry of a summary's result, as one table (for unknown layouts)."""
    rows = []

    def walk(prefix, v):
        if isinstance(v, dict) and {"mean", "std"} <= set(v):
            rows.append([Code(prefix), stat_num(v)])
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}/{k}" if prefix else k, x)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            rows.append([Code(prefix), Num(v)])

    walk("", {k: v for k, v in s["result"].items() if k != "points"})
    return [Table(f"{label}-result", [f"Entries of the {label} summary record ", Code(s["config_hash"]), "."],
                  ["entry", "value"], rows[:80], align="lr")]


# --------------------------------------------------------------------------- accuracy
def accuracy_rows(s: dict) -> list[dict]:
    return s["result"]["rows"]


def c5_inputs(s: dict) -> list[tuple]:
    """``(metric, mtl mean, best GBML mean, no-transfer mean | None)`` per accuracy row where MTL and a GBML exist."""
    out = []
    for r in accuracy_rows(s):
        mtl = r.get("mtl")
        gbml = [r[m]["mean"] for m in ("anil-same", "anil-disjoint", "maml-same", "maml-disjoint")
                if isinstance(r.get(m), dict) and "mean" in r[m]]
        if not isinstance(mtl, dict) or "mean" not in mtl or not gbml:
            continue
        best = max(gbml) if r["metric"] == "accuracy" else min(gbml)
        nt = r.get("no-transfer")
        out.append((r["metric"], mtl["mean"], best, nt["mean"] if isinstance(nt, dict) and "mean" in nt else None))
    return out


def _acc_cell(v):
    if v is None:
        return "-"
    if "mean" not in v:
        return "failed"
    n = stat_num(v)
    return [n, f" ({v['failed']} failed)"] if v.get("failed") else n


def accuracy(ctx: Context) -> Section:
    from .verdicts import c5_within

    title = "Accuracy on the task families"
    blocks = [Para(["Test error on the queries of unseen tasks: MSE for the regression families, accuracy of the "
                    "argmax for ", Code("clusters"), ". The inner loop takes ", Math(r"\tau/\lambda_{\max}"),
                    " of total step (", Math(r"\lambda_{\max}"), " of ", Math(r"\Theta"),
                    " on one training task), the same for every method. ",
                    "Rows with a width are finite, trained networks; the others are closed form."])]
    s = ctx.summary("accuracy")
    if s is None:
        return Section("accuracy", title, blocks + [ctx.missing("accuracy")])
    cfg = s["config"]
    blocks.append(Para(["Mean ", Math(r"\pm"), " std over ", Num(cfg["seeds"]), " seeds (finite width: ",
                        Num(cfg.get("finite_seeds")), "). ", *ctx.record_info(s), "."]))
    rows_by_family: dict = {}
    for r in accuracy_rows(s):
        rows_by_family.setdefault(r["family"], []).append(r)
    for fam, rows in rows_by_family.items():
        metric = rows[0]["metric"]
        table = []
        for r in rows:
            within = [c5_within(*x[:3]) for x in c5_inputs({"result": {"rows": [r]}})]
            table.append([Num(r["depth"]), Num(r["tau"]), "inf." if r["width"] is None else Num(r["width"]),
                          *[_acc_cell(r.get(m)) for m in METHOD_NAMES],
                          ("yes" if within[0] else "no") if within else "-"])
        blocks.append(Table(f"accuracy-{fam}", ["Family ", Code(fam), f": test {metric} (",
                                               "higher is better" if metric == "accuracy" else "lower is better",
                                               "). Within: MTL within the claim-C5 margin of the best GBML."],
                            ["L", "tau", "width", *METHOD_NAMES.values(), "within"], table,
                            align="rrr" + "r" * len(METHOD_NAMES) + "l"))
    return Section("accuracy", title, blocks + ctx.figures_for("accuracy"))


# --------------------------------------------------------------------------- ablations
def ablate(ctx: Context) -> Section:
    title = "Ablations of the closeness gap"
    blocks = [Para(["Each ablation varies one factor of the closeness point around its base setting "
                    "(infinite width); gaps as in the closeness section, mean ", Math(r"\pm"), " std over seeds."])]
    s = ctx.summary("ablate")
    if s is None:
        return Section("ablate", title, blocks + [ctx.missing("ablate")])
    blocks.append(Para([*ctx.record_info(s), "."]))
    by: dict = {}
    for r in s["result"]["rows"]:
        by.setdefault(r["ablation"], []).append(r)
    for name, rows in by.items():
        def cell(r, key):
            split, algo, _ = key.split("/")
            if r.get(key) is None and not r.get(f"{split}/{algo}/failed"):
                return "n/a"  # e.g. normalized gap with independent heads: MTL is the no-transfer baseline
            return stat_num(r.get(key))
        table = [[Code(json.dumps(r["value"])), Num(r["depth"])]
                 + [cell(r, k) for k in ("same/anil/rel_gap", "same/anil/normalized_gap", "same/maml/rel_gap",
                                         "same/maml/normalized_gap", "disjoint/anil/rel_gap", "disjoint/maml/rel_gap")]
                 for r in rows]
        blocks.append(Table(f"ablate-{name}", ["Ablation ", Code(name), ": gap GBML vs MTL."],
                            ["value", "L", "ANIL rel.", "ANIL norm.", "MAML rel.", "MAML norm.", "ANIL rel. disj.",
                             "MAML rel. disj."], table, align="lrrrrrrr"))
    blocks.append(Para(["n/a: undefined (the normalized gap when MTL equals the no-transfer baseline, "
                        "as with independent heads); failed: no seed could be computed."]))
    return Section("ablate", title, blocks + ctx.figures_for("ablate"))


# --------------------------------------------------------------------------- checks
def checks_passed(doc: dict | None) -> dict | None:
    return None if doc is None else {r["name"]: bool(r["passed"]) for r in doc.get("results", [])}


RELATIONS = {"<=": Math(r"\le", "<="), ">=": Math(r"\ge", ">=")}


def check_cells(r: dict) -> list:
    """``[value, relation, tolerance]`` of a proofs_checks result (value ``n/a`` if the check crashed)."""
    rel = r.get("relation", "<=")
    return [Num(r.get("value")), RELATIONS.get(rel, rel), Num(r.get("tolerance"))]


def checks(ctx: Context) -> Section:
    title = "Numerical proof checks"
    doc = ctx.checks
    if doc is None:
        return Section("checks", title, [Para(["No proofs_checks results: run ", Code("ntk-bridge check --fast --out "
                                                                                     f"{ctx.root / 'checks.json'}"),
                                               " and pass the file with ", Code("--checks"), "."], style="missing")])
    results = doc.get("results", [])
    n_pass = sum(bool(r["passed"]) for r in results)
    env = doc.get("environment") or {}
    blocks = [Para(["Exact identities and facts of the theory contract, checked numerically in float64 (",
                    Code("python -m proofs_checks"), "); source ", Code(ctx.checks_source or "?"), ", created ",
                    Code(str(doc.get("created", "?"))), ", ", ", ".join(f"{k} {v}" for k, v in env.items()), ". ",
                    Num(n_pass), " of ", Num(len(results)), " checks pass; total time ", Num(doc.get("seconds")),
                    " s."])]
    rows = [[Code(r["name"]), r["statement"], *check_cells(r), "PASS" if r["passed"] else "FAIL",
             Num(r["seconds"], digits=2)] for r in results]
    blocks.append(Table("checks", ["Proof checks: measured value against its tolerance (what each computed: ",
                                   Code("python -m proofs_checks"), ")."],
                        ["check", "statement", "value", "", "tolerance", "result", "s"], rows,
                        align="p{2.9cm}p{6.4cm}rcrlr", long=True))
    return Section("checks", title, blocks)


def other_figures(ctx: Context) -> Section | None:
    figs = ctx.figures_for("other")
    return Section("figures", "Further figures", figs) if figs else None


BUILDERS = (setup, kernels, closeness, width, cost, accuracy, ablate, checks)
