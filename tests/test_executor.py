"""Executors of sweeps (ntk_bridge.executor) without Ray: the local default, the sweep's
bookkeeping for executors that finish points out of order, option checks, the CLI flags.

The Ray executor itself is tested in test_ray.py (skipped where Ray is not installed).
"""
import os

import pytest

from ntk_bridge import cli, executor, store, sweep


def square(c):
    return {"y": c["x"] ** 2, "pid": os.getpid()}


class Reversed(executor.Local):
    """A stand-in for a parallel executor: finishes the points last first, 'elsewhere'."""

    def __init__(self):
        self.seen = []

    def map(self, compute, configs, *, label=""):
        self.seen.append([c["x"] for c in configs])
        for i in reversed(range(len(configs))):
            yield executor.Done(i, compute(configs[i]), 0.5, device={"where": "elsewhere"},
                                versions={"ntk_bridge": "test"})


def configs(xs):
    return [{"x": x, "seed": x} for x in xs]


def test_local_is_the_default_and_runs_in_order(tmp_path):
    assert isinstance(executor.current(), executor.Local)
    order = []
    records = sweep.run(tmp_path, "toy", configs([3, 1, 2]), lambda c: order.append(c["x"]) or square(c),
                          seed_of=lambda c: c["seed"])
    assert order == [3, 1, 2]
    assert [r["result"]["y"] for r in records] == [9, 1, 4]
    assert all(r["result"]["pid"] == os.getpid() for r in records)
    assert records[0]["device"] == store.device()  # computed here: this process's device


def test_out_of_order_executor_gives_records_in_config_order(tmp_path):
    ex = Reversed()
    records = sweep.run(tmp_path, "toy", configs([0, 1, 2, 3]), square, executor=ex, seed_of=lambda c: c["seed"])
    assert [r["config"]["x"] for r in records] == [0, 1, 2, 3]
    assert [r["result"]["y"] for r in records] == [0, 1, 4, 9]
    # the worker's device and versions are kept; the record is valid on disk and equal to what was returned
    for r in records:
        assert r["device"] == {"where": "elsewhere"} and r["versions"] == {"ntk_bridge": "test"}
        assert r["timings"]["total_s"] == 0.5
        assert store.read(tmp_path / "toy" / f"{r['config_hash']}.json") == r
    # written in order of completion: the last config first
    assert [r["config"]["x"] for r in sorted(records, key=store.created_ns)] == [3, 2, 1, 0]


def test_executor_sees_only_points_not_stored_and_each_once(tmp_path):
    sweep.run(tmp_path, "toy", configs([0, 2]), square)
    before = {r["config_hash"]: r for r in store.load(tmp_path, "toy")}
    ex = Reversed()
    records = sweep.run(tmp_path, "toy", configs([0, 1, 2, 1, 3]), square, executor=ex)
    assert ex.seen == [[1, 3]]  # stored points read back; the duplicate config computed once
    assert records[1] is records[3]
    assert [r["result"]["y"] for r in records] == [0, 1, 4, 1, 9]
    for r in records:
        if r["config_hash"] in before:
            assert r == before[r["config_hash"]]  # not rewritten
    assert store.verify(tmp_path)[1] == []
    # everything stored: the executor is not even asked
    ex = Reversed()
    again = sweep.run(tmp_path, "toy", configs([0, 1, 2, 3]), square, executor=ex)
    assert ex.seen == [[]] and [r["created_ns"] for r in again] == [records[i]["created_ns"] for i in (0, 1, 2, 4)]


def test_use_sets_the_executor_for_sweeps_inside_the_block(tmp_path):
    ex = Reversed()
    with executor.use(ex) as active:
        assert active is ex and executor.current() is ex
        sweep.run(tmp_path, "toy", configs([5]), square)
    assert ex.seen == [[5]]
    assert isinstance(executor.current(), executor.Local)


def test_an_error_in_a_point_propagates_and_keeps_the_records_done(tmp_path):
    def compute(c):
        if c["x"] == 2:
            raise ValueError("x: bad point")
        return square(c)

    with pytest.raises(ValueError, match="bad point"):
        sweep.run(tmp_path, "toy", configs([0, 1, 2, 3]), compute)
    assert sorted(r["config"]["x"] for r in store.load(tmp_path, "toy")) == [0, 1]


@pytest.mark.parametrize("kwargs, field", [
    ({"name": "dask"}, "executor"),
    ({"name": "local", "address": "auto"}, "address"),
    ({"name": "local", "gpus_per_point": 1}, "gpus_per_point"),
])
def test_bad_options_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        executor.make(**kwargs)


def test_use_wants_an_executor_not_a_name():
    with pytest.raises(ValueError, match="executor"):
        with executor.use("ray"):
            pass


def test_ray_without_ray_installed_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr(executor, "ray_installed", lambda: False)
    with pytest.raises(ImportError, match=r"ntk-bridge\[ray\]"):
        executor.make("ray")
    assert cli.main(["closeness", "--quick", "--executor", "ray"]) == 2
    assert "ntk-bridge[ray]" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["closeness", "--quick", "--address", "auto"], "address"),
    (["reproduce", "--quick", "--gpus-per-point", "1"], "gpus_per_point"),
    (["width", "--quick", "--executor", "dask"], "--executor"),
])
def test_cli_rejects_bad_executor_options(argv, needle, capsys, tmp_path):
    assert cli.main(argv + ["--results", str(tmp_path)]) == 2
    assert needle in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing ran
