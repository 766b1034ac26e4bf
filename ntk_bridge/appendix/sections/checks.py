"""Section "Numerical proof checks": the proofs_checks JSON, as a table."""
from __future__ import annotations

from ..context import Context
from ..render import Code, Math, Num, Para, Section, Table

TITLE = "Numerical proof checks"
RELATIONS = {"<=": Math(r"\le", "<="), ">=": Math(r"\ge", ">=")}


def passed(doc: dict | None) -> dict | None:
    """``{check name: passed}`` of a proofs_checks JSON document (``None``: no document)."""
    return None if doc is None else {r["name"]: bool(r["passed"]) for r in doc.get("results", [])}


def cells(r: dict) -> list:
    """``[value, relation, tolerance]`` of a proofs_checks result (value ``n/a`` if the check crashed)."""
    rel = r.get("relation", "<=")
    return [Num(r.get("value")), RELATIONS.get(rel, rel), Num(r.get("tolerance"))]


def how_to_run(ctx: Context) -> list:
    """Fragments saying how to produce the checks this appendix reads."""
    target = ctx.root / "checks.json"
    return ["run ", Code(f"ntk-bridge check --fast --out {target}"), " (read from there by default), pass a "
            "proofs_checks JSON with ", Code("--checks FILE"), ", or add ", Code("--run-checks"),
            " to run the fast checks while building the appendix"]


def build(ctx: Context) -> Section:
    doc = ctx.checks
    if doc is None:
        return Section("checks", TITLE, [Para(["No proofs_checks results were given: ", *how_to_run(ctx), "."],
                                              style="missing")])
    results = doc.get("results", [])
    n_pass = sum(bool(r["passed"]) for r in results)
    env = doc.get("environment") or {}
    blocks = [Para(["Exact identities and facts of the theory contract, checked numerically in float64 (",
                    Code("python -m proofs_checks"), "); source ", Code(ctx.checks_source or "?"), ", created ",
                    Code(str(doc.get("created", "?"))), ", ", ", ".join(f"{k} {v}" for k, v in env.items()), ". ",
                    Num(n_pass), " of ", Num(len(results)), " checks pass; total time ", Num(doc.get("seconds")),
                    " s."])]
    rows = [[Code(r["name"]), r["statement"], *cells(r), "PASS" if r["passed"] else "FAIL",
             Num(r["seconds"], digits=2)] for r in results]
    blocks.append(Table("checks", ["Proof checks: measured value against its tolerance (what each computed: ",
                                   Code("python -m proofs_checks"), ")."],
                        ["check", "statement", "value", "", "tolerance", "result", "s"], rows,
                        align="p{2.9cm}p{6.4cm}rcrlr", long=True))
    return Section("checks", TITLE, blocks)
