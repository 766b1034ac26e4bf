"""Typed summary results (experiments.schema): JSON by their fields, read back to equal values (#24)."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from ntk_bridge.experiments import schema, width
from ntk_bridge.experiments.common import TaskConfig
from ntk_bridge.experiments.stats import PowerFit, Stat


@dataclasses.dataclass(frozen=True)
class Inner:
    x: float
    n: int | float = 0


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str
    flag: bool
    maybe: Inner | None
    items: tuple[Inner, ...]
    pair: tuple[int, str]
    by_key: dict[tuple[int, str], Stat | None]
    by_name: dict[str, tuple[float | None, ...]]
    by_float: dict[float, int]
    fit: PowerFit | None = None


def _outer():
    return Outer("a", True, None, (Inner(1.5, 2), Inner(math.nan, 2.5)), (3, "b"),
                 {(1, "anil"): Stat(0.1, 0.01, 3, excluded=1), (2, "mtl-shared"): None},
                 {"x": (1.0, None)}, {0.1: 1, 0.05: 2}, PowerFit(error="too few points"))


def test_round_trip_through_json_text():
    value = _outer()
    text = json.dumps(schema.to_json(value), allow_nan=False)   # finite JSON: NaN is written as null
    back = schema.from_json(Outer, json.loads(text))
    assert back.items[1].n == 2.5 and isinstance(back.items[0].n, int) and math.isnan(back.items[1].x)
    assert back.fit.error == "too few points" and math.isnan(back.fit.r)
    assert dataclasses.replace(back, items=value.items, fit=value.fit) == value


def test_keys_the_type_lacks_are_ignored_and_missing_fields_take_defaults():
    data = schema.to_json(Inner(2.0))
    data.pop("n")
    assert schema.from_json(Inner, dict(data, points=["abc"])) == Inner(2.0, 0)


@pytest.mark.parametrize("data, where", [
    ({"x": "two"}, "result.x"),
    ({"x": True}, "result.x"),
    ([1.0], "result"),
])
def test_a_wrong_shape_names_its_path(data, where):
    with pytest.raises(ValueError, match=where.replace(".", r"\.")):
        schema.from_json(Inner, data)


def test_numpy_values_are_plain_json():
    assert schema.to_json({"a": (np.float64(0.5), np.int64(3))}) == {"a": [0.5, 3]}


def test_a_width_summary_is_its_typed_result_and_nothing_else(tmp_path, monkeypatch):
    """What ``run`` stores is exactly ``to_json`` of what ``read`` returns (the schema, written once)."""
    def fake(p):
        rng = np.random.default_rng([p["seed"], p["width"]])
        inf = rng.standard_normal((2, 3, 1))
        pred = inf + p["width"] ** -0.5 * rng.standard_normal(inf.shape)
        return {"err": float(np.linalg.norm(pred - inf) / np.linalg.norm(inf)), "converged": p["seed"] != 1,
                "steps": 10, "final_loss": 1e-9, "initial_loss": 1.0, "train_s": 0.0, "pred": pred,
                "pred_infinite": inf}

    monkeypatch.setattr(width, "_compute", fake)
    cfg = width.Config(tasks=TaskConfig(n_train=3, n_test=2, n_support=3, n_query=3), depths=(1,),
                       widths=(64, 256), methods=("mtl-shared", "anil"), seeds=3, n_boot=20)
    record = width.run(cfg, tmp_path)
    stored = {k: v for k, v in record["result"].items() if k != "points"}
    assert schema.to_json(width.read(record).result) == stored
    assert set(stored) == {f.name for f in dataclasses.fields(width.WidthResult)}


def test_a_summary_in_an_older_layout_is_named_stale_and_told_how_to_rebuild(tmp_path, capsys):
    """A sealed, current-algorithm summary whose result is not this code's layout (as written before the
    typed results): verify reports it stale, the reports name it with the command that rebuilds it."""
    from ntk_bridge import cli, experiments, store

    cfg = width.Config(depths=(1,), widths=(64, 256), methods=("anil",), seeds=1)
    old = store.save(tmp_path, "width", cfg, {"widths": [64, 256], "1/anil/err": [None, None], "points": []},
                     kind="summary")
    with pytest.raises(experiments.UnreadableSummary, match=f"width summary {old['config_hash']}.*rerun"):
        experiments.read(old)
    assert cli.main(["verify", "--results", str(tmp_path)]) == 1
    assert "another summary layout" in capsys.readouterr().err
    assert cli.main(["figures", "--results", str(tmp_path), "--out", str(tmp_path / "figs")]) == 1
    assert "written in another layout" in capsys.readouterr().err


def test_a_record_of_no_known_experiment_is_named_as_such_not_as_an_old_layout():
    """A record naming no registered experiment, or none at all, is a ValueError saying so (not the
    'written in another layout, rerun' of a stale summary, whose advice would not help)."""
    from ntk_bridge import experiments

    with pytest.raises(ValueError, match="experiment must be one of") as info:
        experiments.read({"experiment": "nope", "result": {}})
    assert not isinstance(info.value, experiments.UnreadableSummary)
    with pytest.raises(ValueError, match="no 'experiment'"):
        experiments.read({"result": {}})
