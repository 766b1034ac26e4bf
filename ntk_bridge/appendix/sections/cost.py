"""Section "Cost": wall time per outer training step, MTL vs GBML (experiment ``cost``, claim C4)."""
from __future__ import annotations

from ...methods import parse
from ..context import Context, stat_num
from ..render import Math, Num, Para, Section, Table

TITLE = "Cost: MTL vs second-order GBML"


def ms(stat) -> Num | str:
    """A time ``Stat`` in seconds, shown in milliseconds."""
    return stat_num(None if stat is None else stat.scaled(1e3))


def build(ctx: Context) -> Section:
    blocks = [Para(["Wall-clock time per full-batch outer training step of finite networks: MTL (first order, "
                    "support ", Math(r"\cup"), " query), ANIL and MAML (second order: gradients through the inner "
                    "loop) and FOMAML (first-order MAML), timed side by side on the same tasks after the jit "
                    "warm-up."])]
    s = ctx.read("cost")
    if s is None:
        return Section("cost", TITLE, blocks + [ctx.missing("cost")])
    cfg = s.config
    devices = sorted({r.device for r in s.rows})
    blocks.append(Para(["Depth ", Num(cfg.get("depth")), ", ", Num(cfg.get("n_tasks")), " tasks of ",
                        Num(cfg.get("n_support")), " support and ", Num(cfg.get("n_query")), " query points in ",
                        Num(cfg.get("dim")), " dimensions, ", Num(cfg.get("steps")), " inner steps; each time is the "
                        "mean ", Math(r"\pm"), " std over ", Num(cfg.get("repeats")), " repeats of ",
                        Num(cfg.get("n_steps")), " timed steps, on ", ", ".join(devices), ". ",
                        *ctx.record_info(s), "."]))
    methods = [parse(m) for m in s.methods]
    others = [m for m in methods if m.kind != "mtl"]
    rows = [[Num(r.width), *[ms(r.time(m)) for m in methods], *[stat_num(r.ratio_to_mtl(m)) for m in others]]
            for r in s.rows]
    blocks.append(Table("cost", ["Time per outer step in milliseconds and its ratio to MTL's (each repeat's ratio "
                                 "from the times measured in that repeat)."],
                        ["width", *[f"{m.display} (ms)" for m in methods], *[f"{m.display}/MTL" for m in others]],
                        rows))
    return Section("cost", TITLE, blocks + ctx.figures_for("cost"))
