"""Verdicts on the paper's claims C1–C5, decided by explicit rules from measured numbers.

Each rule is a pure function of plain numbers (no records), so tests can probe both sides
of every threshold.  Statuses: ``reproduced``, ``partly``, ``not reproduced``,
``not yet measured``; the reason says which numbers decided it.
"""
from __future__ import annotations

import dataclasses

REPRODUCED, PARTLY, NOT, MISSING = "reproduced", "partly", "not reproduced", "not yet measured"

# C1: the exact identities (query = support, exact ridge head) that must hold.
C1_CHECKS = ("formulation.value", "formulation.gradient")
C1_CONTROL = "formulation.split_gap"  # the identity must break with a disjoint query
# C2: finite -> infinite width error ~ width^slope, slope expected -1/2.
C2_SLOPE_RANGE = (-0.7, -0.3)
C2_CHECKS = ("meta_ntk.trained", "meta_ntk.phi", "mtl_kernel.exact")  # linearized-net identities
# C3: the gap at the deepest depth must be at most C3_DROP times the gap at the shallowest.
C3_DROP = 0.5
# ... and the closeness must not be vacuous: at the deepest depth both predictors' mean test MSE below no
# transfer's (a gap that falls only because both predictors collapse onto no transfer proves nothing).
C3_USEFUL_RULE = ("non-vacuous: at the deepest depth the mean test MSE of MTL and of the GBML method both below "
                  "no transfer's")
USEFUL_KEYS = ("mse_last", "mtl_mse_last", "none_mse_last")
# C3 at finite width: trained ANIL and MTL nets of one initialization count as close when their
# mean relative gap on the test queries is at most C3_FINITE_GAP (over the kept seeds).
C3_FINITE_GAP = 0.1
# C4: MTL time per outer step vs second-order MAML.
C4_REPRODUCED, C4_PARTLY = 5.0, 2.0
# C5: MTL within this margin of the best GBML method (MSE: relative; accuracy: absolute).
C5_MSE_MARGIN, C5_ACC_MARGIN = 0.10, 0.05
C5_PARTLY_FRACTION = 0.5


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: str
    reason: str


def c1(checks: dict | None) -> Verdict:
    """``checks``: ``{name: passed}`` of the proof checks that ran (``None``: no checks JSON)."""
    if not checks or not any(name in checks for name in C1_CHECKS):
        return Verdict(MISSING, "the formulation checks have not been run")
    missing = [n for n in C1_CHECKS if n not in checks]
    failed = [n for n in C1_CHECKS if n in checks and not checks[n]]
    if failed:
        return Verdict(NOT, f"identity check(s) failed: {', '.join(failed)}")
    if missing:
        return Verdict(PARTLY, f"only part of the identity was checked (missing: {', '.join(missing)})")
    if C1_CONTROL in checks and not checks[C1_CONTROL]:
        return Verdict(PARTLY, f"the identities hold but the control {C1_CONTROL} failed "
                               "(the objectives should differ when the query is disjoint)")
    return Verdict(REPRODUCED, f"{' and '.join(C1_CHECKS)} hold to their tolerances"
                   + (f"; control {C1_CONTROL} passes" if C1_CONTROL in checks else ""))


def c2(slopes: list[float] | None, identity: bool | None) -> Verdict:
    """``slopes``: fitted exponents of the finite-to-infinite error vs width, one per depth and method
    (``None`` or empty: not measured); ``identity``: whether the linearized-net identity checks passed
    (``None``: not run).  The width part holds if every slope lies in ``C2_SLOPE_RANGE``."""
    lo, hi = C2_SLOPE_RANGE
    slopes = list(slopes or [])
    if not slopes and identity is None:
        return Verdict(MISSING, "neither the width sweep nor the linearized-net checks were run")
    inside = sum(lo <= x <= hi for x in slopes)
    slope_ok = bool(slopes) and inside == len(slopes)
    slope_txt = ("width sweep not run" if not slopes else
                 f"{inside}/{len(slopes)} fitted width slopes (from {min(slopes):.3g} to {max(slopes):.3g}) "
                 f"within [{lo}, {hi}]")
    id_txt = ("linearized-net checks not run" if identity is None else
              f"linearized-net identity checks {'pass' if identity else 'FAIL'}")
    if slope_ok and identity:
        return Verdict(REPRODUCED, f"{slope_txt}; {id_txt}")
    if slope_ok or identity or inside:
        return Verdict(PARTLY, f"{slope_txt}; {id_txt}")
    return Verdict(NOT, f"{slope_txt}; {id_txt}")


def c3_useful(v: dict) -> bool | None:
    """Non-vacuity of one algorithm's closeness (``C3_USEFUL_RULE``) from its ``c3_algo`` inputs'
    ``USEFUL_KEYS`` (test MSEs at the deepest depth); ``None`` where they were not measured."""
    if any(v.get(k) is None for k in USEFUL_KEYS):
        return None
    return v["mse_last"] < v["none_mse_last"] and v["mtl_mse_last"] < v["none_mse_last"]


def _useful_txt(per_algo: dict) -> str:
    parts = [f"{a.upper()} MSE {v['mse_last']:.3g}, MTL {v['mtl_mse_last']:.3g}, no transfer {v['none_mse_last']:.3g}"
             for a, v in per_algo.items() if c3_useful(v) is not None]
    return f"; at the deepest depth: {'; '.join(parts)} ({C3_USEFUL_RULE})" if parts else ""


def _falls(v: dict) -> tuple[bool, bool]:
    return c3_algo(**{k: x for k, x in v.items() if k not in USEFUL_KEYS})


def c3_algo(rel_first: float, rel_last: float, norm_first: float | None, norm_last: float | None,
            rel_r_lo: float | None, norm_r_lo: float | None, rel_monotone: bool = True,
            norm_monotone: bool = True) -> tuple[bool, bool]:
    """``(rel falls, normalized falls)`` for one algorithm on ``split="same"``: the gap at the
    deepest depth is <= C3_DROP times the shallowest, the fitted rate's interval is above 0 and
    the mean gap falls at every depth step of the fit (a gap that turns back up is no power law)."""
    rel = (rel_last <= C3_DROP * rel_first and rel_r_lo is not None and rel_r_lo > 0 and rel_monotone)
    norm = (norm_first is not None and norm_last is not None and norm_last <= C3_DROP * norm_first
            and norm_r_lo is not None and norm_r_lo > 0 and norm_monotone)
    return rel, norm


def c3(per_algo: dict) -> Verdict:
    """``per_algo``: ``{algo: dict(rel_first, rel_last, norm_first, norm_last, rel_r_lo, norm_r_lo)}``
    on ``split="same"`` (an algorithm whose gaps could not be computed is absent)."""
    if not per_algo:
        return Verdict(MISSING, "no closeness sweep on split='same'")
    falls = {algo: _falls(v) for algo, v in per_algo.items()}
    desc = "; ".join(f"{algo.upper()}: rel gap {'falls' if r else 'does not fall'}, normalized gap "
                     f"{'falls' if n else 'does not fall'}" for algo, (r, n) in falls.items())
    rule = (f"(falls: deepest <= {C3_DROP} x shallowest, bootstrap interval of r above 0, "
            f"and falling at every depth step)")
    useful = [c3_useful(v) for v in per_algo.values()]
    if all(r and n for r, n in falls.values()) and {"anil", "maml"} <= set(falls):
        if False in useful:
            return Verdict(PARTLY, f"{desc} {rule}, but vacuous{_useful_txt(per_algo)}")
        return Verdict(REPRODUCED, f"{desc} {rule}{_useful_txt(per_algo)}")
    if any(r for r, _ in falls.values()):
        return Verdict(PARTLY, f"{desc} {rule}")
    return Verdict(NOT, f"{desc} {rule}")


def c3_rule(falls: dict) -> str:
    return (f"(falls: deepest <= {C3_DROP} x shallowest, bootstrap interval of r above 0, "
            f"and falling at every depth step)")


def c3_scope(anil: dict | None) -> Verdict:
    """C3 in the theorem's scope, ANIL vs MTL at infinite width on ``split="same"`` (``anil``: the
    ``c3_algo`` inputs, ``None`` if not measured).  Reproduced: the rel. and normalized gaps both
    fall (``c3_algo``); partly: only the rel. gap; else not reproduced."""
    if not anil:
        return Verdict(MISSING, "no closeness sweep of ANIL on split='same'")
    rel, norm = _falls(anil)
    desc = (f"ANIL vs MTL: rel gap {'falls' if rel else 'does not fall'} ({anil['rel_first']:.3g} -> "
            f"{anil['rel_last']:.3g}), normalized gap {'falls' if norm else 'does not fall'} {c3_rule({})}")
    if rel and norm and c3_useful(anil) is False:
        return Verdict(PARTLY, f"{desc}, but vacuous{_useful_txt({'anil': anil})}")
    return Verdict(REPRODUCED if rel and norm else PARTLY if rel else NOT, desc + _useful_txt({"anil": anil}))


def c3_finite(within_trained: list | None, within_fresh: list | None = None, smallest: float | None = None) -> Verdict:
    """C3 at finite width, ANIL vs MTL trained nets of one initialization (experiment finite-closeness).

    ``within_*``: the ``(L, n)`` at which the mean rel. gap was <= ``C3_FINITE_GAP`` under the trained-head
    and the fresh-head (paper's) protocol (``None``: protocol not measured); ``smallest``: the smallest
    mean gap measured.  Reproduced: some (L, n) within under the trained-head protocol; partly: only
    under the fresh-head one; not reproduced: none measured was; not yet measured: no sweep.
    """
    if within_trained is None and within_fresh is None:
        return Verdict(MISSING, "the finite-closeness sweep has not been run")
    rule = f"(close: mean rel. gap of trained ANIL and MTL nets <= {C3_FINITE_GAP})"
    fmt = lambda w: ", ".join(f"(L={L}, n={n})" for L, n in w)  # noqa: E731
    if within_trained:
        return Verdict(REPRODUCED, f"trained ANIL and MTL nets within {C3_FINITE_GAP} at {fmt(within_trained)} "
                                   f"(trained head) {rule}")
    if within_fresh:
        return Verdict(PARTLY, f"within {C3_FINITE_GAP} only with the fresh test head, at {fmt(within_fresh)} {rule}")
    small = "" if smallest is None else f"; smallest mean gap {smallest:.3g}"
    return Verdict(NOT, f"no measured (L, n) had trained ANIL and MTL nets within {C3_FINITE_GAP}{small} {rule}")


def c3_fresh(within: list | None, b: tuple | None, smallest: float | None = None) -> Verdict:
    """C3 at finite width in the paper's protocol (fresh test head): trained ANIL and MTL nets of one
    initialization read through the seed's fresh head.  Both closed forms are no transfer there (theory.md §6),
    so the whole gap is the theorem's finite-width ``eps``.  ``within``: the ``(L, n)`` with mean rel. gap
    <= ``C3_FINITE_GAP`` (``None``: protocol not measured); ``b``: ``(b, lo, hi)`` of the width exponent in
    ``gap ~ c_L n^-b`` (one constant per depth; ``None``: no fit).  Reproduced: some (L, n) within and the
    interval of ``b`` above 0 (the gap falls as the width grows at fixed depth); partly: one of the two; else
    not reproduced."""
    if within is None:
        return Verdict(MISSING, "the fresh-head protocol is not in the finite-closeness sweep")
    rule = (f"(reproduced: some (L, n) with mean rel. gap <= {C3_FINITE_GAP} and the bootstrap interval of b in "
            f"gap ~ c_L n^-b above 0; partly: one of the two)")
    falls = b is not None and b[1] > 0
    fit = ("no fit of gap ~ c_L n^-b" if b is None else
           f"gap ~ c_L n^-b with b = {b[0]:.3g} [{b[1]:.3g}, {b[2]:.3g}] (theorem: 1/2)")
    where = (f"within {C3_FINITE_GAP} at " + ", ".join(f"(L={L}, n={n})" for L, n in within) if within else
             f"no (L, n) within {C3_FINITE_GAP}" + ("" if smallest is None else f" (smallest mean gap {smallest:.3g})"))
    status = REPRODUCED if within and falls else PARTLY if within or falls else NOT
    return Verdict(status, f"fresh test head: {where}; {fit} {rule}; both closed forms are no transfer here, so "
                           f"closeness in this protocol says nothing about usefulness")


def c3c_finite(within: dict) -> Verdict:
    """Trained MAML and FOMAML vs trained MTL nets of one initialization (trained head, split "same").
    ``within``: ``{algo: [(L, n), ...]}`` where the mean rel. gap was <= ``C3_FINITE_GAP`` (absent: not
    trained).  Reproduced: every algorithm trained has some (L, n) within; partly: some; not: none."""
    if not within:
        return Verdict(MISSING, "MAML/FOMAML were not trained in the finite-closeness sweep")
    rule = f"(close: mean rel. gap of the trained nets <= {C3_FINITE_GAP})"
    fmt = lambda w: ", ".join(f"(L={L}, n={n})" for L, n in w) or "none"  # noqa: E731
    desc = "; ".join(f"{a.upper()} within at {fmt(w)}" for a, w in within.items())
    hits = [bool(w) for w in within.values()]
    return Verdict(REPRODUCED if all(hits) else PARTLY if any(hits) else NOT, f"{desc} {rule}")


def c3_extension(per_algo: dict) -> Verdict:
    """C3 beyond the theorem's scope: MAML and FOMAML vs MTL at infinite width on ``split="same"``
    (``per_algo`` as for ``c3``, restricted to them).  Reproduced: both gaps fall for every one
    measured; partly: the rel. gap falls for some; else not reproduced."""
    per_algo = {a: v for a, v in per_algo.items() if a in ("maml", "fomaml")}
    if not per_algo:
        return Verdict(MISSING, "no closeness sweep of MAML/FOMAML on split='same'")
    falls = {algo: _falls(v) for algo, v in per_algo.items()}
    desc = "; ".join(f"{algo.upper()}: rel gap {'falls' if r else 'does not fall'}, normalized gap "
                     f"{'falls' if n else 'does not fall'}" for algo, (r, n) in falls.items())
    if all(r and n for r, n in falls.values()):
        if False in [c3_useful(v) for v in per_algo.values()]:
            return Verdict(PARTLY, f"{desc} {c3_rule(falls)}, but vacuous{_useful_txt(per_algo)}")
        return Verdict(REPRODUCED, f"{desc} {c3_rule(falls)}{_useful_txt(per_algo)}")
    return Verdict(PARTLY if any(r for r, _ in falls.values()) else NOT, f"{desc} {c3_rule(falls)}")


def c3_distribution(first: tuple | None, last: tuple | None, depths: tuple | None = None) -> Verdict:
    """C3 in distribution (uncentered nets, infinite width): ``first``/``last`` = ``(E||Delta||^2, variance part)``
    of MTL vs ANIL from one initialization at the shallowest / deepest depth (``depths``: the two depths).
    Reproduced: both fall to at most ``C3_DROP`` x their shallowest value; partly: only ``E||Delta||^2``
    (the mean part carries it); not reproduced: it does not fall."""
    if first is None or last is None:
        return Verdict(MISSING, "the distribution experiment has not been run")
    rule = f"(falls: deepest <= {C3_DROP} x shallowest)"
    at = "" if depths is None else f" from L={depths[0]} to L={depths[1]}"
    desc = (f"E||Delta||^2 of MTL vs ANIL from one initialization {first[0]:.3g} -> {last[0]:.3g}{at}, its variance "
            f"part {first[1]:.3g} -> {last[1]:.3g}")
    total, var = last[0] <= C3_DROP * first[0], last[1] <= C3_DROP * first[1]
    return Verdict(REPRODUCED if total and var else PARTLY if total else NOT, f"{desc} {rule}")


def c4(ratio: float | None, std: float | None = None) -> Verdict:
    """``ratio``: second-order MAML time per outer step / MTL's (mean over repeats), ``std`` its spread.

    Reproduced: ``ratio >= C4_REPRODUCED`` and, so that timing noise cannot carry it,
    ``ratio - std >= C4_PARTLY``; partly: ``ratio >= C4_PARTLY``; else not reproduced.
    """
    if ratio is None:
        return Verdict(MISSING, "the cost experiment has not been run")
    spread = "" if std is None else f" ± {std:.2g}"
    low = ratio - (std or 0.0)
    if ratio >= C4_REPRODUCED and low >= C4_PARTLY:
        return Verdict(REPRODUCED, f"MTL is {ratio:.3g}{spread}x cheaper per outer step than MAML "
                                   f"(>= {C4_REPRODUCED:g}x, and >= {C4_PARTLY:g}x after subtracting the spread)")
    if ratio >= C4_PARTLY:
        why = (f"< {C4_REPRODUCED:g}x" if ratio < C4_REPRODUCED else
               f"but the spread brings it below {C4_PARTLY:g}x")
        return Verdict(PARTLY, f"MTL is {ratio:.3g}{spread}x cheaper per outer step than MAML ({why})")
    return Verdict(NOT, f"MTL is only {ratio:.3g}{spread}x cheaper per outer step than MAML (< {C4_PARTLY:g}x)")


def c5_within(metric: str, mtl: float, best_gbml: float) -> bool:
    """MTL within the margin of the best GBML: MSE <= (1 + margin) best; accuracy >= best - margin."""
    if metric == "accuracy":
        return mtl >= best_gbml - C5_ACC_MARGIN
    return mtl <= (1.0 + C5_MSE_MARGIN) * best_gbml


def c5(rows: list[tuple]) -> Verdict:
    """``rows``: ``(metric, mtl, best_gbml[, no_transfer])`` per (family, depth, inner time, width) setting.

    The verdict counts the settings where MTL is within the margin of the best GBML; the
    reason also says in how many MTL does worse than no transfer at all (not part of the rule:
    the claim compares MTL with GBML, but a reader should know when both are below baseline).
    """
    if not rows:
        return Verdict(MISSING, "the accuracy experiment has not been run")
    within = sum(c5_within(*r[:3]) for r in rows)
    rule = (f"within: MSE <= (1 + {C5_MSE_MARGIN:g}) x best GBML, accuracy >= best GBML - {C5_ACC_MARGIN:g}")
    text = f"MTL within the margin of the best GBML in {within}/{len(rows)} settings ({rule})"
    base = [r for r in rows if len(r) > 3 and r[3] is not None]
    worse = sum((r[1] < r[3]) if r[0] == "accuracy" else (r[1] > r[3]) for r in base)
    if worse:
        text += f"; note: in {worse}/{len(base)} settings MTL is worse than no transfer"
    if within == len(rows):
        return Verdict(REPRODUCED, text)
    if within >= C5_PARTLY_FRACTION * len(rows):
        return Verdict(PARTLY, text)
    return Verdict(NOT, text)


# ---------------------------------------------------------------- real images (digits)
def c3_digits(same: dict | None, disjoint_first: float | None = None, disjoint_last: float | None = None) -> Verdict:
    """C3 on real images (digits), ANIL vs MTL at infinite width: the rule of ``c3_scope`` on
    ``split="same"`` (reproduced: rel. and normalized gaps fall, i.e. deepest <= ``C3_DROP`` x
    shallowest, bootstrap interval of r above 0, falling at every depth step; partly: only the rel.
    gap).  The ``split="disjoint"`` gap at the shallowest / deepest depth is reported beside it, not
    part of the rule (the practical split keeps a part that does not vanish with depth, theory.md §6)."""
    if not same:
        return Verdict(MISSING, "no closeness sweep on digits (split='same')")
    v = c3_scope(same)
    if disjoint_first is not None and disjoint_last is not None:
        return Verdict(v.status, f"{v.reason}; split='disjoint' (not in the rule): ANIL rel gap {disjoint_first:.3g} "
                                 f"-> {disjoint_last:.3g}")
    return v


def c5_digits(rows: list[tuple]) -> Verdict:
    """C5 on real images (digits settings only): the rule of ``c5`` (MTL within ``C5_ACC_MARGIN``
    of the best GBML accuracy in every setting: reproduced; in >= ``C5_PARTLY_FRACTION`` of them:
    partly; else not reproduced)."""
    if not rows:
        return Verdict(MISSING, "the accuracy experiment has not been run on digits")
    return c5(rows)



# ---------------------------------------------------------------- convolutional nets (experiment conv)
def c3_conv(conv: dict, mlp_anil: dict | None = None) -> Verdict:
    """C3 with the CNTK (conv nets on digit images), ANIL vs MTL at infinite width, ``split="same"``.

    ``conv``: the ``c3_scope`` inputs per conv architecture (``{"conv-gap": ..., "conv-flatten": ...}``);
    the verdict is the worst of theirs (reproduced only if every pooling is), each named in the reason.  The
    MLP's rel. gap on the same images (``mlp_anil``) is reported beside it, not part of the rule."""
    conv = {a: x for a, x in conv.items() if x}
    if not conv:
        return Verdict(MISSING, "no conv closeness sweep (split='same')")
    found = {a: c3_scope(x) for a, x in conv.items()}
    status = max((v.status for v in found.values()), key=[REPRODUCED, PARTLY, NOT].index)
    text = "; ".join(f"{a}: {v.status}: {v.reason}" for a, v in found.items())
    if mlp_anil:
        text += (f"; the MLP on the same images (not in the rule): rel gap {mlp_anil['rel_first']:.3g} -> "
                 f"{mlp_anil['rel_last']:.3g}")
    return Verdict(status, text)


def c5_conv(rows: list[tuple]) -> Verdict:
    """C5 with the CNTK on digit images: the rule of ``c5`` over the conv closed-form settings."""
    if not rows:
        return Verdict(MISSING, "the conv experiment has not been run")
    return c5(rows)


# ---------------------------------------------------------------- beyond the kernel regime (muP)
def c3_mup(pairs: list[tuple]) -> Verdict:
    """C3 beyond the kernel regime: ``pairs`` of ``(label, gap_mup, gap_ntk)``, the relative gap between a trained
    GBML net and the MTL net of the same initialization at the widest width, under muP and under the NTK
    parameterization, per setting x target scale x GBML method.  Reproduced if the muP gap is at most the NTK
    one in every configuration (learned features do not pull MTL and GBML further apart than the kernel regime
    does); partly if in at least half; not otherwise."""
    pairs = [p for p in pairs if p[1] is not None and p[2] is not None]
    if not pairs:
        return Verdict(MISSING, "the feature-learning experiment has not been run under both parameterizations")
    closer = [lab for lab, mup, ntk in pairs if mup <= ntk]
    text = (f"muP's GBML-MTL gap at the widest width <= the NTK parameterization's in {len(closer)}/{len(pairs)} "
            f"configurations (rule: all reproduced, at least {C5_PARTLY_FRACTION:g} of them partly); range muP "
            f"{min(p[1] for p in pairs):.3g}-{max(p[1] for p in pairs):.3g}, NTK "
            f"{min(p[2] for p in pairs):.3g}-{max(p[2] for p in pairs):.3g}")
    if len(closer) == len(pairs):
        return Verdict(REPRODUCED, text)
    if len(closer) >= C5_PARTLY_FRACTION * len(pairs):
        return Verdict(PARTLY, text)
    return Verdict(NOT, text)


def c5_mup(rows: list[tuple]) -> Verdict:
    """C5 with learned features: ``rows`` of ``(setting, mtl, best_gbml, no_transfer)``, test accuracies under muP
    at the widest width and the largest target scale, per digits setting.  Two rules, both printed: transfer
    beats no transfer (the better of MTL and the best GBML above no transfer) and C5 (MTL within
    ``C5_ACC_MARGIN`` of the best GBML).  Reproduced if both hold in every setting; partly if one of them does in
    every setting, or both in some; not otherwise."""
    if not rows:
        return Verdict(MISSING, "the feature-learning experiment has no digits setting under muP")
    beats = [r[0] for r in rows if max(r[1], r[2]) > r[3]]
    within = [r[0] for r in rows if c5_within("accuracy", r[1], r[2])]
    text = (f"transfer beats no transfer in {len(beats)}/{len(rows)} digits settings"
            f"{' (' + ', '.join(beats) + ')' if beats else ''}; MTL within {C5_ACC_MARGIN:g} of the best GBML in "
            f"{len(within)}/{len(rows)}; " + "; ".join(f"{f}: MTL {m:.3f}, best GBML {g:.3f}, no transfer {b:.3f}"
                                                       for f, m, g, b in rows))
    n = len(rows)
    if len(beats) == n and len(within) == n:
        return Verdict(REPRODUCED, text)
    if len(beats) == n or len(within) == n or set(beats) & set(within):
        return Verdict(PARTLY, text)
    return Verdict(NOT, text)


# Hanin & Nica: E[Theta(x,x)^2] / E[Theta(x,x)]^2 ≃ exp(5 L/n); the fitted k of log(that) = k L/n.
HANIN_NICA_K = 5.0


def hanin_nica(whole: tuple | None, head: tuple | None = None, head_exact: float | None = None) -> Verdict:
    """``whole``, ``head``: ``(k, lo, hi)`` fitted for the whole diagonal and for the head's part (``None``: not
    measured); ``head_exact``: the head's exact k.  Reproduced if 5 lies in the whole diagonal's interval; partly
    if not, but the head's part (the per-layer factor ``1 + 5/n``) matches its exact value; otherwise not."""
    if whole is None:
        return Verdict(MISSING, "the ntk-fluctuation experiment has not been run")
    k, lo, hi = whole
    txt = f"whole diagonal k = {k:.3g} [{lo:.3g}, {hi:.3g}]"
    if lo <= HANIN_NICA_K <= hi:
        return Verdict(REPRODUCED, f"{txt} contains {HANIN_NICA_K:g}")
    head_ok = head is not None and head_exact is not None and head[1] <= head_exact <= head[2]
    head_txt = ("head's part not measured" if head is None else
                f"head's part k = {head[0]:.3g} [{head[1]:.3g}, {head[2]:.3g}] "
                f"{'contains' if head_ok else 'misses'} its exact {head_exact:.3g} (the per-layer 1 + 5/n)")
    return Verdict(PARTLY if head_ok else NOT, f"{txt} excludes {HANIN_NICA_K:g}; {head_txt}")
