"""Section "Accuracy": test error of every method on each task family (experiment ``accuracy``, claim C5)."""
from __future__ import annotations

from ...methods import parse
from ..context import Context, stat_num
from ..render import Code, Math, Num, Para, Section, Table
from ..verdicts import c5_within

TITLE = "Accuracy on the task families"


def best_gbml(row):
    """``(method, Stat)`` of the best GBML method at an accuracy row, or ``None`` if none computed."""
    scored = [(m, st) for m in row_methods(row) if m.kind == "gbml" and (st := row.score(m)) is not None]
    if not scored:
        return None
    pick = max if row.higher_is_better else min
    return pick(scored, key=lambda ms: ms[1].mean)


def row_methods(row):
    from ...experiments.accuracy import METHODS

    return [m for m in METHODS if row.ran(m)]


def c5_input(row) -> tuple | None:
    """``(metric, MTL mean, best GBML mean, no-transfer mean | None)`` of one row, ``None`` if MTL or every
    GBML method is missing there."""
    mtl, best = row.score("mtl-shared"), best_gbml(row)
    if mtl is None or best is None:
        return None
    nt = row.score("no-transfer")
    return (row.metric, mtl.mean, best[1].mean, nt.mean if nt is not None else None)


def c5_inputs(s) -> list[tuple]:
    """Inputs of ``..verdicts.c5``: one tuple per setting where MTL and a GBML method were computed."""
    return [x for r in s.rows if (x := c5_input(r)) is not None]


def cell(row, method):
    if not row.ran(method):
        return "-"
    st = row.score(method)
    if st is None:
        return "excluded" if "excluded" in row.errors.get(parse(method).label, "") else "failed"
    notes = [f"{k} {what}" for k, what in ((st.failed, "failed"), (st.excluded, "excluded")) if k]
    return [stat_num(st), f" ({', '.join(notes)})"] if notes else stat_num(st)


def build(ctx: Context) -> Section:
    blocks = [Para(["Test error on the queries of unseen tasks: MSE for the regression families, accuracy of the "
                    "argmax for ", Code("clusters"), ". The inner loop takes ", Math(r"\tau/\lambda_{\max}"),
                    " of total step (", Math(r"\lambda_{\max}"), " of ", Math(r"\Theta"),
                    " on one training task), the same for every method. ",
                    "Rows with a width are finite, trained networks; the others are closed form."])]
    s = ctx.read("accuracy")
    if s is None:
        return Section("accuracy", TITLE, blocks + [ctx.missing("accuracy")])
    cfg = s.config
    blocks.append(Para(["Mean ", Math(r"\pm"), " std over ", Num(cfg["seeds"]), " seeds (finite width: ",
                        Num(cfg.get("finite_seeds")), "). ", *ctx.record_info(s), "."]))
    for fam in s.families:
        metric = next(r.metric for r in s.rows if r.family == fam)
        blocks.append(family_table(s, fam, f"accuracy-{fam}", [
            "Family ", Code(fam), f": test {metric} (", "higher is better" if metric == "accuracy" else
            "lower is better", "). Within: MTL within the claim-C5 margin of the best GBML."]))
    return Section("accuracy", TITLE, blocks + ctx.figures_for("accuracy"))


def family_table(s, family: str, label: str, caption: list) -> Table:
    """Every method's test error at each (L, tau, width) setting of ``family``, and whether MTL is within C5's margin."""
    table = []
    for r in (r for r in s.rows if r.family == family):
        inp = c5_input(r)
        table.append([Num(r.depth), Num(r.tau), "inf." if r.width is None else Num(r.width),
                      *[cell(r, m) for m in s.methods], ("yes" if c5_within(*inp[:3]) else "no") if inp else "-"])
    return Table(label, caption, ["L", "tau", "width", *[m.display for m in s.methods], "within"], table,
                 align="rrr" + "r" * len(s.methods) + "l")


def probe_rows(s, methods) -> list:
    """Rows ``setting, L, width, probe accuracy per method`` of the settings where the logistic probe ran."""
    return [[Code(r.family), Num(r.depth), "inf." if r.width is None else Num(r.width),
             *[stat_num(r.probe(m)) if r.probe(m) else "-" for m in methods]] for r in s.rows if r.probes]
