"""Section "Kernels": the head's share of the NTK against depth (experiment ``kernel-share``)."""
from __future__ import annotations

from ..context import Context, fit_cells, stat_num
from ..render import Math, Num, Para, Section, Table

TITLE = "Kernels: the head's share"
NAMES = {"offdiag_share": "off-diagonal share", "ntk_corr_std": "NTK correlation spread"}


def build(ctx: Context) -> Section:
    blocks = [Para(["For ReLU with ", Math(r"w_{\mathrm{std}}=\sqrt2, b_{\mathrm{std}}=0"),
                    " the head's share of the NTK diagonal is exactly ", Math(r"\Sigma(x,x)/\Theta(x,x) = 1/(L+1)"),
                    "; off the diagonal both kernels flatten toward constants as depth grows. This is the mechanism "
                    "behind claim C3: the inner loop of ANIL moves only the head, whose share of the kernel vanishes."])]
    s = ctx.read("kernel-share")
    if s is None:
        return Section("kernels", TITLE, blocks + [ctx.missing("kernel-share")])
    cfg = s.config
    rows = [[Num(r.depth), Num(r.theory_diag_share), stat_num(r.diag_share), Num(r.diag_share_max_dev),
             stat_num(r.offdiag_share), stat_num(r.ntk_corr_std)] for r in s.rows]
    blocks.append(Table("kernel-share", ["Head share of the NTK vs depth ", Math("L"), " (", Num(cfg["n_points"]),
                                         " points on the unit sphere in ", Num(cfg["dim"]), " dimensions; mean ",
                                         Math(r"\pm"), " std over ", Num(cfg["seeds"]), " seeds). Max dev.: largest ",
                                         Math(r"|\Sigma(x,x)/\Theta(x,x) - 1/(L+1)|"), " over points and seeds."],
                        ["L", "1/(L+1)", "diag. share", "max dev.", "off-diag. share", "NTK corr. spread"], rows))
    rows = [[NAMES.get(k, k), *fit_cells(f, s.depths)] for k, f in s.fits.items()]
    if rows:
        level = next((f.level for f in s.fits.values() if f.ok), None)
        blocks.append(Table("kernel-share-fit", ["Fitted decay ", Math(r"c\,L^{-r}"), " of the off-diagonal "
                                                 "quantities with depth, bootstrap interval over seeds (level ",
                                                 Num(level), ")."],
                            ["quantity", "r", "interval of r", "c", "depths"], rows, align="lrrrl"))
    blocks.append(Para(ctx.record_info(s)))
    return Section("kernels", TITLE, blocks + ctx.figures_for("kernels"))
