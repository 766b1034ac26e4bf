"""Section "Ablations": one factor of the closeness point varied at a time (experiment ``ablate``)."""
from __future__ import annotations

import json

from ...methods import Method
from ..context import Context, stat_num
from ..render import Code, Math, Num, Para, Section, Table

TITLE = "Ablations of the closeness gap"
COLUMNS = (("same", "anil", "rel_gap"), ("same", "anil", "normalized_gap"), ("same", "maml", "rel_gap"),
           ("same", "maml", "normalized_gap"), ("disjoint", "anil", "rel_gap"), ("disjoint", "maml", "rel_gap"))
SHORT = {"rel_gap": "rel.", "normalized_gap": "norm."}


def cell(row, split, algo, gap):
    st = row.gap(split, algo, gap)
    if st is None and not row.n_failed(split, algo):
        return "n/a"  # e.g. normalized gap with independent heads: MTL is the no-transfer baseline
    return stat_num(st)


def build(ctx: Context) -> Section:
    blocks = [Para(["Each ablation varies one factor of the closeness point around its base setting "
                    "(infinite width); gaps as in the closeness section, mean ", Math(r"\pm"), " std over seeds."])]
    s = ctx.read("ablate")
    if s is None:
        return Section("ablate", TITLE, blocks + [ctx.missing("ablate")])
    blocks.append(Para([*ctx.record_info(s), "."]))
    header = ["value", "L", *[f"{Method.gbml(algo, split).display} {SHORT[gap]}" for split, algo, gap in COLUMNS]]
    for ablation in s.ablations:
        table = [[Code(json.dumps(r.value)), Num(r.depth), *[cell(r, *c) for c in COLUMNS]] for r in s.of(ablation)]
        blocks.append(Table(f"ablate-{ablation}", ["Ablation ", Code(ablation), ": gap GBML vs MTL."], header, table,
                            align="lrrrrrrr"))
    blocks.append(Para(["n/a: undefined (the normalized gap when MTL equals the no-transfer baseline, "
                        "as with independent heads); failed: no seed could be computed."]))
    return Section("ablate", TITLE, blocks + ctx.figures_for("ablate"))
