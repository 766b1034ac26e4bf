"""The documentation's tutorials (docs/tutorials/*.py) and the getting-started example, run at small sizes.

Each test runs a tutorial's ``main`` (or the page's code block) and checks what it computed against a
second, independent computation: a spec-level closed form and a NumPy norm, the kernel module's
recursion, kernel regression written out by hand, the raw JSON record a figure was drawn from.
"""
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ntk_bridge as nb

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "docs" / "tutorials"
REFERENCE = REPO / "results" / "reference"


def _tutorial(name):
    spec = importlib.util.spec_from_file_location(f"tutorial_{name}", TUTORIALS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png(path):
    with Image.open(path) as image:
        return image.size, dict(image.info)


def test_every_tutorial_script_is_tested_and_has_a_page_showing_its_figure():
    scripts = sorted(p.stem for p in TUTORIALS.glob("*.py"))
    tested = sorted(re.findall(r'_tutorial\("(\w+)"\)', Path(__file__).read_text(encoding="utf-8")))
    assert scripts == sorted(set(tested)), "every docs/tutorials/*.py is run by a test here"
    pages = {p.name: p.read_text(encoding="utf-8") for p in TUTORIALS.glob("*.md")}
    for name in scripts:
        page = [text for text in pages.values() if f'--8<-- "docs/tutorials/{name}.py"' in text]
        assert len(page) == 1, f"one page includes docs/tutorials/{name}.py"
        figure = re.search(r"!\[[^]]*\]\(([^)]+\.png)\)", page[0])
        assert figure, f"{name}'s page shows a figure"
        site_path = (TUTORIALS / figure.group(1)).resolve().relative_to(REPO / "docs")
        # docs/hooks.py serves results/reference/... from the repository root
        source = REPO / site_path if site_path.parts[:2] == ("results", "reference") else REPO / "docs" / site_path
        assert source.is_file(), f"{name}'s page shows {source}, which does not exist"


def test_ablation_plots_the_closed_form_gap(tmp_path):
    out = _tutorial("ablation").main(tmp_path, small=True)
    gaps = out["gaps"]
    assert gaps.shape == (len(out["depths"]), len(out["lrs"]))
    for i, depth in enumerate(out["depths"]):
        spec = nb.MLPSpec(depth=depth)
        for j, lr in enumerate(out["lrs"]):
            adapt = nb.Adaptation(lr=lr, steps=out["steps"])
            anil = nb.predict.gbml(spec, out["train"], out["test"], algo="anil", adapt=adapt, split="same")
            mtl = nb.predict.mtl(spec, out["train"], out["test"], heads="shared", adapt=adapt)
            assert gaps[i, j] == pytest.approx(np.linalg.norm(mtl - anil) / np.linalg.norm(anil), rel=1e-10)
    assert np.all(gaps[-1] < 0.5 * gaps[0]), "the gap falls with depth (C3) at every learning rate"
    size, _ = _png(out["figure"])
    assert size[0] > 500 and size[1] > 200


def test_custom_kernel_equals_the_built_in_ntk_and_the_empirical_kernel_approaches_it(tmp_path):
    tutorial = _tutorial("custom_kernel")
    out = tutorial.main(tmp_path, small=True)
    spec, train, test = out["spec"], out["train"], out["test"]
    x = np.concatenate([train.xs.reshape(-1, train.dim), test.xq.reshape(-1, test.dim)])
    mine, builtin = tutorial.relu_ntk(spec.depth)(x[:20], x[20:45]), nb.kernels.kernels(spec, x[:20], x[20:45])
    np.testing.assert_allclose(mine.theta, builtin.theta, rtol=1e-10)
    np.testing.assert_allclose(mine.sigma, builtin.sigma, rtol=1e-10)
    expected = nb.predict.gbml(spec, train, test, algo="anil", adapt=out["adapt"], split="same")
    np.testing.assert_allclose(out["builtin"], expected, rtol=1e-12)
    assert np.linalg.norm(out["mine"] - expected) / np.linalg.norm(expected) < 1e-7
    errors = out["errors"].mean(0)
    assert errors[-1] < errors[0] < 1.0, "the empirical kernel's closed form approaches the analytic one with width"
    assert _png(out["figure"])[0][0] > 300


def test_task_family_follows_its_law_and_no_transfer_is_kernel_regression(tmp_path):
    tutorial = _tutorial("task_family")
    out = tutorial.main(tmp_path, small=True)
    test, params, u = out["test"], out["test_params"], out["u"]
    for split_x, split_y in ((test.xs, test.ys), (test.xq, test.yq)):
        law = params[:, 0, None] * np.cos(tutorial.OMEGA * split_x @ u + params[:, 1, None])
        np.testing.assert_allclose(split_y[..., 0], law, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(test.xs, axis=-1), 1.0, rtol=1e-12)
    lr, steps = out["adapt"].lr, out["adapt"].steps
    for depth, pred in zip(out["depths"], out["preds"]["no-transfer"]):
        spec = nb.MLPSpec(depth=depth)
        for i in range(test.n_tasks):                          # Sigma(X', X) Sigma^-1 (I - (I - lr Sigma)^s) Y
            sigma = nb.kernels.kernels(spec, test.xs[i]).sigma
            sigma_qs = nb.kernels.kernels(spec, test.xq[i], test.xs[i]).sigma
            decay = np.linalg.matrix_power(np.eye(len(sigma)) - lr * sigma, steps)
            by_hand = sigma_qs @ np.linalg.solve(sigma, (np.eye(len(sigma)) - decay) @ test.ys[i])
            np.testing.assert_allclose(pred[i], by_hand, rtol=1e-8, atol=1e-10)
    for m, preds in out["preds"].items():
        assert out["mse"][m] == pytest.approx([np.mean((p - test.yq) ** 2) for p in preds], rel=1e-12)
    mtl, anil = out["preds"]["mtl-shared"], out["preds"]["anil-same"]
    assert out["gaps"] == pytest.approx([np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(mtl, anil)])
    with pytest.raises(ValueError, match="TaskSet.yq"):
        nb.TaskSet(test.xs, test.ys, test.xq, test.yq[:, :-1])


def test_reproduced_figure_names_the_selected_reference_summary(tmp_path):
    out = _tutorial("reproduce_figure").main(tmp_path)
    assert out["png"] == tmp_path / "closeness.png" and out["pdf"].is_file()
    selected = json.loads((REFERENCE / "selection.json").read_text(encoding="utf-8"))["closeness"]
    raw = json.loads((REFERENCE / "closeness" / f"{selected}.json").read_text(encoding="utf-8"))
    size, info = _png(out["png"])
    assert info["Description"] == f"ntk_bridge closeness summary {selected} ({raw['created']})"
    assert size == _png(REFERENCE / "figures" / "closeness.png")[0]
    stats = dict((tuple(key), value) for key, value in raw["result"]["gaps"])[("same", "anil", "rel_gap")]
    assert list(out["gaps"]) == raw["result"]["depths"]
    assert list(out["gaps"].values()) == [s["mean"] for s in stats]


def test_getting_started_code_block_runs():
    """The ten lines of docs/getting-started.md: a closed form, and a trained net near it."""
    page = (REPO / "docs" / "getting-started.md").read_text(encoding="utf-8")
    block = re.search(r"## A first closed form.*?```python\n(.*?)```", page, re.S).group(1)
    namespace = {}
    exec(compile(block, "docs/getting-started.md", "exec"), namespace)
    anil, mtl, net = namespace["anil"], namespace["mtl"], namespace["net"]
    assert anil.shape == mtl.shape == net.shape == (5, 10, 1)
    assert 0 < nb.metrics.rel_gap(mtl, anil) < 0.5
    assert nb.metrics.rel_gap(net, anil) < 0.35, "a trained width-256 net lands near its closed form"
