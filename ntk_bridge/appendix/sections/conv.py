"""Section "Convolutional nets": the CNTK's closed forms and trained conv nets on digit images (experiment ``conv``)."""
from __future__ import annotations

from ...experiments.closeness import ALGOS, GAPS
from ...methods import parse
from ..context import Context, fit_cells, stat_num
from ..render import Code, Math, Num, Para, Section, Table
from .accuracy import family_table, probe_rows
from .closeness import GAP_SHORT, name

TITLE = "Convolutional nets on digit images: the CNTK and trained conv nets"
EXPERIMENT = "conv"
KERNEL_NAMES = {"conv-gap": "the CNTK with global average pooling", "conv-flatten": "the CNTK with flattening",
                "mlp": "the MLP's NTK on the flattened images"}


def closeness_tables(s) -> list:
    """Per architecture: the gaps GBML vs MTL against depth (split ``same`` and ``disjoint``) and their fits."""
    blocks = []
    for arch in s.archs:
        c = s.closeness(arch)
        for split in c.splits:
            rows = [[Num(L), *[stat_num(c.gap(split, algo, gap)[i]) for algo in ALGOS for gap in GAPS]]
                    for i, L in enumerate(c.depths)]
            blocks.append(Table(f"conv-closeness-{arch}-{split}", [
                "Digit images, ", KERNEL_NAMES[arch], ": gap GBML vs MTL against depth, split ", Code(split),
                ", mean ± std over seeds."],
                ["L", *[f"{name(algo, split)} {GAP_SHORT[gap]}" for algo in ALGOS for gap in GAPS]], rows))
    rows = [[arch, name(algo, split), *fit_cells(c.fit(split, algo, "rel_gap"))]
            for arch in s.archs for c in [s.closeness(arch)] for split in c.splits for algo in ALGOS
            if c.fit(split, algo, "rel_gap") is not None]
    blocks.append(Table("conv-closeness-fit", ["Fitted rate of the rel. gap, ", Math(r"\mathrm{gap} \approx c\,L^{-r}"),
                                               ", bootstrap interval over seeds, per architecture."],
                        ["arch", "method", "r", "interval of r", "c", "depths"], rows, align="lllrrl"))
    return blocks


def trained_table(s) -> list:
    cfg = s.config
    rows = []
    for m in cfg["finite_methods"]:
        for c in cfg["channels"]:
            pts = [p for p in s.trained(m) if p.channels == c]
            if not pts:   # above the method's max_channels
                continue
            kept = [p.err for p in pts if p.excluded is None]
            rows.append([parse(m).display, Num(c), ", ".join(f"{p.err:.3g}" for p in pts if p.err is not None) or "-",
                         Num(len(kept)), "; ".join(f"seed {p.seed}: {p.excluded}" for p in pts if p.excluded) or "-"])
    fits = [[parse(m).display, *fit_cells(s.channel_fit(m))] for m in cfg["finite_methods"]]
    t = cfg["finite_tasks"]
    return [Table("conv-trained", [
        "Trained centered conv nets (depth ", Num(cfg["finite_depth"]), ", ", Code(cfg["finite_pool"]), "; ",
        Num(t["n_train"]), " training episodes, ", Num(dict(t["options"])["n_way"]), "-way ", Num(t["n_support"]),
        "-shot; kernel-regime schedule, up to ", Num(cfg["outer_steps"]), " outer steps to ", Num(cfg["tol"]),
        " of the initial loss): relative error of the adapted test predictions to the CNTK closed form, per seed. "
        "The trained nets flatten, as MAML's 4-layer CNNs do; with global pooling the CNTK of a few digit images is "
        "ill conditioned, and gradient descent stops far from its limit within a CPU budget."],
        ["method", "channels", "err per seed", "kept", "excluded (why)"], rows, align="lrrrl"),
        Table("conv-trained-fit", ["The kept nets' errors fitted as ", Math(r"\mathrm{err} \approx c\,C^{-r}"),
                                   " over the channel counts C (least squares in log-log, 90% bootstrap interval "
                                   "over seeds)."],
              ["method", "r", "90% interval", "c", "channels"], fits, align="lrrrl")]


def build(ctx: Context) -> Section:
    blocks = [Para(["The paper's nets are convolutional. A ", Code("nb.ConvSpec"), " (stride-1 SAME convolutions, "
                    "ReLU, NTK parameterization with fan-in ", Math("f^2 C"), ", then global average pooling or "
                    "flattening and a dense head) has an infinite-width kernel, the CNTK (", Code("ntk_bridge.cntk"),
                    ", equal to neural-tangents' to round-off), and every closed form takes it: they are functions of ",
                    Math(r"(\Theta, \Sigma)"), " whatever produced them (theory §11). Here the digits are read as "
                    "8x8x1 images. The inner loop takes ", Math(r"\tau/\lambda_{\max}"), " of total step (", Math(
                        r"\lambda_{\max}"), " of ", Math(r"\Theta"), " on one training task): the CNTK with global "
                    "pooling is about 100 times smaller than the MLP's NTK on the same images, so a fixed step would "
                    "compare no adaptation with a large one."])]
    s = ctx.read(EXPERIMENT, digits=True)
    if s is None:
        return Section("conv", TITLE, blocks + [ctx.missing(EXPERIMENT)])
    cfg = s.config
    t = cfg["tasks"]
    blocks.append(Para(["Closeness: ", Num(dict(t["options"])["n_way"]), "-way ", Num(t["n_support"]), "-shot "
                        "episodes, ", Num(t["n_query"]), " queries per class, ", Num(t["n_train"]), " training tasks "
                        "(classes 0-4) and ", Num(t["n_test"]), " test tasks (classes 5-9), ", Math(r"\tau"), " = ",
                        Num(cfg["tau"]), " in ", Num(cfg["steps"]), " steps, ", Num(cfg["seeds"]), " seeds. ",
                        *ctx.record_info(s), "."]))
    blocks += closeness_tables(s)
    for arch in s.archs:
        acc = s.accuracy(arch)
        for fam in acc.families:
            blocks.append(family_table(acc, fam, f"conv-accuracy-{arch}-{fam}", [
                "Digits setting ", Code(fam), ", closed forms with ", KERNEL_NAMES[arch], " (", Num(cfg["n_acc"]),
                " training and test tasks, ", Num(cfg["acc_seeds"]), " seeds): test accuracy. Within: MTL within "
                "the C5 margin of the best GBML."]))
        probes = probe_rows(acc, ("mtl-shared",))
        if probes:
            blocks.append(Table(f"conv-probe-{arch}", [
                Code(arch), ": query accuracy of the authors' logistic probe (C = ", Num(cfg["probe_C"]),
                ") on the initial features (the same body for every method at infinite width)."],
                ["setting", "L", "width", "probe"], probes, align="lrrr"))
    if cfg["channels"]:
        blocks += trained_table(s)
    return Section("conv", TITLE, blocks + ctx.figures_for("conv"))
