"""The one registry (#24): an experiment declared in one module reaches the CLI, reproduce, verify,
the figures and the appendix, with nothing else to edit."""
import sys
import types

import pytest

from ntk_bridge import cli, experiments, figures, store
from ntk_bridge.appendix import build, sections

TOY = '''
"""A toy experiment: the squares of 0..n-1, one point each."""
import dataclasses
import time

from ntk_bridge import store, sweep
from ntk_bridge.experiments.common import point, save_summary
from ntk_bridge.experiments.stats import Stat, Summary

NAME = "toy"
ALGORITHM = 1
store.register(NAME, ALGORITHM)
FIGURES = ("toy_plugin.toy_figure",)
SECTIONS = ("toy_plugin.toy_section",)
QUICK_S = 0


@dataclasses.dataclass(frozen=True)
class Config:
    AXES = ("n",)
    n: int = 4
    scale: float = 1.0

    @classmethod
    def quick(cls):
        return cls(n=3)


def _compute(p):
    return {"square": p["scale"] * p["i"] ** 2}


def run(config, root=store.DEFAULT_ROOT):
    start = time.perf_counter()
    records = sweep.run(root, NAME, [point(config, i=i) for i in range(config.n)], _compute, seed_of=lambda p: None)
    total = sum(r["result"]["square"] for r in records)
    return save_summary(root, NAME, config, records, {"total": total}, start)


@dataclasses.dataclass(frozen=True)
class ToySummary(Summary):
    total: float = 0.0


def read(record):
    return ToySummary(record, float(record["result"]["total"]))
'''

FIGURE = '''
"""The toy figure."""
EXPERIMENT = "toy"
SECTION = "toy_section"
CAPTION = "The toy experiment's total: the sum of the squares of 0..n-1, drawn as one bar for the registry test."


def main(results_dir, out_dir):
    import matplotlib.pyplot as plt
    from ntk_bridge.figures import common

    s = common.summary(results_dir, EXPERIMENT)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.bar([0], [s.total])
    return common.save(fig, out_dir, "toy_figure", s)
'''

SECTION = '''
"""The toy section."""
from ntk_bridge.appendix.render import Num, Para, Section


def build(ctx):
    s = ctx.read("toy")
    if s is None:
        return Section("toy_section", "Toy", [ctx.missing("toy")])
    return Section("toy_section", "Toy", [Para(["The toy total is ", Num(s.total), "."]),
                                                    *ctx.figures_for("toy_section")])
'''


@pytest.fixture
def toy(monkeypatch):
    """Register the toy experiment (modules made from source, as a plug-in's would be)."""
    monkeypatch.setitem(sys.modules, "toy_plugin", types.ModuleType("toy_plugin"))
    for name, source in (("toy_plugin.toy_experiment", TOY), ("toy_plugin.toy_figure", FIGURE),
                         ("toy_plugin.toy_section", SECTION)):
        mod = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, mod)
        exec(compile(source, f"<{name}>", "exec"), mod.__dict__)
    monkeypatch.setattr(experiments, "MODULES", dict(experiments.MODULES))
    experiments.register("toy", "toy_plugin.toy_experiment")
    return sys.modules["toy_plugin.toy_experiment"]


def test_a_registered_experiment_reaches_every_floor(toy, tmp_path, capsys, monkeypatch):
    root = tmp_path / "results"
    assert "toy" in experiments.names() and "toy_figure" in figures.names()
    assert "toy_section" in [name for name, _ in sections.builders()]
    assert ("toy", toy.Config.quick()) in experiments.reproduce_plan(quick=True)
    # the CLI: a subcommand with the Config's options, a summary, verify knows it
    assert cli.main(["toy", "--quick", "--results", str(root)]) == 0
    summary = store.load(root, "toy", kind="summary")[0]
    assert summary["result"]["total"] == 0 + 1 + 4
    capsys.readouterr()
    assert cli.main(["verify", "--results", str(root)]) == 0
    out = capsys.readouterr().out
    assert "toy: 3 points, 1 summary" in out and "not an ntk-bridge experiment" not in out
    # the figures and the appendix, drawn and written from the stored summary
    assert cli.main(["figures", "--results", str(root), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "toy_figure.png").is_file()
    res = build(root, tmp_path / "app", checks=None, figures_from=tmp_path / "figs", pdf=False)
    text = res["md"].read_text()
    assert "The toy total is 5" in text and "toy_figure" in text
    # reproduce runs it with the others (the others stubbed out: this test is about the registry)
    monkeypatch.setattr(experiments, "reproduce_plan", lambda quick: [("toy", toy.Config(n=5))])
    monkeypatch.setattr(cli, "_load", lambda name: None)
    assert cli.reproduce(True, tmp_path / "r2", tmp_path / "o2") == 0
    assert store.load(tmp_path / "r2", "toy", kind="summary")[0]["result"]["total"] == 30
    assert (tmp_path / "o2" / "figures" / "toy_figure.png").is_file()


def test_register_refuses_a_clash_and_bad_names(toy):
    with pytest.raises(ValueError, match="already registered"):
        experiments.register("closeness", "somewhere.else")
    for bad in ("", "a/b", "-x", 3):
        with pytest.raises(ValueError, match="plain command name"):
            experiments.register(bad, "m")


def test_the_package_registry_derives_the_report_order():
    """Figures and sections come from the experiments' own declarations, in the experiments' order."""
    declared = [f for name in experiments.names() for f in experiments.module(name).FIGURES]
    assert list(figures.names()) == declared + list(experiments.SHARED_FIGURES)
    declared = [x for name in experiments.names() for x in experiments.module(name).SECTIONS]
    assert [n for n, _ in sections.builders()] == [*experiments.SECTIONS_BEFORE, *declared,
                                                    *experiments.SECTIONS_AFTER]
    for name in experiments.names():
        mod = experiments.module(name)
        assert mod.NAME == name and isinstance(mod.QUICK_S, (int, float))
        for fig in mod.FIGURES:
            assert figures.module(fig).EXPERIMENT == name
