"""The results store never answers silently wrong: damaged records, ordering, rewrites, permissions, verify."""
import json
import logging
import stat

import pytest

from ntk_bridge import store, sweep
from ntk_bridge.experiments import common


def _square(cfg):
    return {"square": cfg["x"] ** 2}


def _sweep(root, xs=range(4)):
    return sweep.run(root, "sq", [{"x": x, "seed": 0} for x in xs], _square, seed_of=lambda c: c["seed"])


# ------------------------------------------------------------------ damaged records (issue #12.3)
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "not-an-object", "edited-config"])
def test_a_damaged_point_is_named_set_aside_and_recomputed(tmp_path, caplog, damage):
    recs = _sweep(tmp_path)
    path = tmp_path / "sq" / f"{recs[2]['config_hash']}.json"
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[:300])                         # what `truncate -s 300` leaves
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff garbage \x80")
    elif damage == "empty":
        path.write_text("")
    elif damage == "not-an-object":
        path.write_text("[1, 2, 3]")
    else:                                                   # valid JSON whose config no longer hashes to its name
        rec = json.loads(text)
        rec["config"]["x"] = 99
        path.write_text(json.dumps(rec))
    with caplog.at_level(logging.WARNING, logger="ntk_bridge.store"):
        again = _sweep(tmp_path)
    assert [r["result"]["square"] for r in again] == [0, 1, 4, 9]
    assert json.loads(path.read_text())["result"] == {"square": 4}         # recomputed, valid again
    assert (tmp_path / "sq" / (path.name + ".corrupt")).exists()          # the damaged bytes kept aside
    (message,) = [r.getMessage() for r in caplog.records]
    assert str(path) in message and "moved to" in message and "\n" not in message


def test_loaders_skip_a_damaged_summary_in_one_line(tmp_path, caplog):
    recs = _sweep(tmp_path)
    old = store.save(tmp_path, "sq", {"sweep": 1}, {"points": [r["config_hash"] for r in recs]}, kind="summary")
    new = store.save(tmp_path, "sq", {"sweep": 2}, {"points": [r["config_hash"] for r in recs]}, kind="summary")
    bad = tmp_path / "sq" / f"{new['config_hash']}.json"
    bad.write_text(bad.read_text()[:300])
    with caplog.at_level(logging.WARNING, logger="ntk_bridge.store"):
        assert store.load(tmp_path, "sq", kind="summary") == [old]
    assert len(caplog.records) == 1 and str(bad) in caplog.records[0].getMessage()
    assert [r["config_hash"] for r in store.load(tmp_path, "sq")] == [r["config_hash"] for r in recs + [old]]


def test_points_of_names_a_damaged_point(tmp_path):
    recs = _sweep(tmp_path)
    summary = store.save(tmp_path, "sq", {"sweep": 1}, {"points": [r["config_hash"] for r in recs]}, kind="summary")
    bad = tmp_path / "sq" / f"{recs[1]['config_hash']}.json"
    bad.write_text(bad.read_text()[:300])
    with pytest.raises(store.MissingRecords) as info:
        store.points_of(tmp_path, summary)
    message = str(info.value)
    assert str(bad) in message and "rerun" in message and "\n" not in message
    assert isinstance(info.value, FileNotFoundError)


def test_a_damaged_record_in_a_read_only_folder_is_reported_not_moved(tmp_path, caplog, read_only):
    recs = _sweep(tmp_path)
    bad = tmp_path / "sq" / f"{recs[0]['config_hash']}.json"
    bad.write_text("{")
    read_only(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ntk_bridge.store"):
        assert [r["config_hash"] for r in store.load(tmp_path, "sq")] == [r["config_hash"] for r in recs[1:]]
    assert bad.exists() and "cannot move it aside" in caplog.records[0].getMessage()


# ------------------------------------------------------------------ ordering (issue #12.6)
def test_records_load_in_save_order_even_within_one_second(tmp_path):
    configs = sorted(({"sweep": i} for i in range(6)),
                     key=lambda c: store.config_hash("demo", c, "summary"), reverse=True)  # hash order != save order
    saved = [store.save(tmp_path, "demo", c, {"points": []}, kind="summary") for c in configs]
    assert len({r["created"][:19] for r in saved}) <= 2                   # all within a second or two
    assert [r["config"] for r in store.load(tmp_path, "demo")] == configs
    ns = [r["created_ns"] for r in saved]
    assert ns == sorted(ns) and len(set(ns)) == len(ns)
    assert all(len(r["created"]) == len("2021-07-18T12:00:00.123456+00:00") for r in saved)


def test_records_of_the_old_format_still_order_by_created(tmp_path):
    for i, created in enumerate(["2021-07-18T12:00:05+00:00", "2021-07-18T12:00:01+00:00"]):
        rec = store.save(tmp_path, "demo", {"sweep": i}, {"points": []}, kind="summary")
        for field in ("created_ns", "digest", "point_digests"):   # the old format had none of these
            rec.pop(field)
        rec["created"] = created
        (tmp_path / "demo" / f"{rec['config_hash']}.json").write_text(json.dumps(rec))
    assert [r["config"] for r in store.load(tmp_path, "demo")] == [{"sweep": 1}, {"sweep": 0}]


# ------------------------------------------------------------------ summaries rewritten only on change
@pytest.mark.parametrize("result", [{"gap": 0.1}, {"points": "0123456789abcdef"}, [1, 2]])
def test_a_summary_without_its_list_of_points_is_refused_before_writing(tmp_path, result):
    """The loaders reject a summary without ``points`` as damaged and set it aside: save refuses to write one."""
    with pytest.raises(ValueError, match="summary must hold 'points'"):
        store.save(tmp_path, "demo", {"s": 1}, result, kind="summary")
    assert not list(tmp_path.rglob("*.json"))


def test_an_unchanged_summary_is_not_rewritten(tmp_path):
    recs = _sweep(tmp_path)
    first = common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"fit": 1.0}, start=0.0)
    path = tmp_path / "sq" / f"{first['config_hash']}.json"
    before = path.stat().st_mtime_ns, path.read_bytes()
    assert common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"fit": 1.0}, start=0.0) == first
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    more = _sweep(tmp_path, range(5))                                      # other points: a new summary
    assert common.save_summary(tmp_path, "sq", {"sweep": 1}, more, {"fit": 2.0}, start=0.0)["created_ns"] > \
        first["created_ns"]


def test_a_summary_is_rewritten_when_one_of_its_points_was_recomputed(tmp_path):
    recs = _sweep(tmp_path)
    first = common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"fit": 1.0}, start=0.0)
    (tmp_path / "sq" / f"{recs[1]['config_hash']}.json").write_text("{")   # damaged: recomputed below
    again = common.save_summary(tmp_path, "sq", {"sweep": 1}, _sweep(tmp_path), {"fit": 1.0}, start=0.0)
    assert again["result"]["points"] == first["result"]["points"] and again["created_ns"] > first["created_ns"]


def test_a_rerun_keeps_its_summary_whatever_was_saved_since_and_selects_nothing(tmp_path):
    recs = _sweep(tmp_path)
    a = common.save_summary(tmp_path, "sq", {"sweep": "a"}, recs, {}, start=0.0)
    common.save_summary(tmp_path, "sq", {"sweep": "b"}, recs, {}, start=0.0)
    again = common.save_summary(tmp_path, "sq", {"sweep": "a"}, recs, {}, start=0.0)
    assert again == a                                   # same points: kept as it is, not rewritten
    assert not (tmp_path / "selection.json").exists()   # which one reports read is named apart


def test_a_finished_sweep_reruns_in_a_read_only_folder(tmp_path, read_only):
    recs = _sweep(tmp_path)
    common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"fit": 1.0}, start=0.0)
    snapshot = {p.name: p.read_bytes() for p in (tmp_path / "sq").iterdir()}
    read_only(tmp_path)
    again = _sweep(tmp_path)
    assert common.save_summary(tmp_path, "sq", {"sweep": 1}, again, {"fit": 1.0}, start=0.0)["config"] == \
        {"sweep": 1}
    assert {p.name: p.read_bytes() for p in (tmp_path / "sq").iterdir()} == snapshot
    with pytest.raises(PermissionError):                                  # new work still fails loudly
        _sweep(tmp_path, [7])


# ------------------------------------------------------------------ permissions
def test_records_are_readable_by_everyone(tmp_path):
    rec = store.save(tmp_path, "demo", {"k": 1}, {"v": 1})
    mode = stat.S_IMODE((tmp_path / "demo" / f"{rec['config_hash']}.json").stat().st_mode)
    assert mode == 0o644


# ------------------------------------------------------------------ verify
def test_verify_counts_a_clean_store(tmp_path):
    recs = _sweep(tmp_path)
    store.save(tmp_path, "sq", {"sweep": 1}, {"points": [r["config_hash"] for r in recs]}, kind="summary")
    counts, problems, notes = store.verify(tmp_path)
    assert counts == {"sq": {"point": 4, "summary": 1}} and problems == [] and notes == []


def test_verify_reports_every_problem_and_changes_nothing(tmp_path):
    recs = _sweep(tmp_path)
    store.save(tmp_path, "sq", {"sweep": 1}, {"points": [r["config_hash"] for r in recs]}, kind="summary")
    folder = tmp_path / "sq"
    paths = [folder / f"{r['config_hash']}.json" for r in recs]
    paths[0].write_text(paths[0].read_text()[:300])                       # truncated
    edited = json.loads(paths[1].read_text())
    edited["config"]["x"] = 42
    paths[1].write_text(json.dumps(edited))                               # hash no longer matches
    no_result = json.loads(paths[2].read_text())
    del no_result["result"]
    paths[2].write_text(json.dumps(no_result))                            # a required field missing
    paths[3].unlink()                                                     # listed by the summary, gone
    before = sorted(p.name for p in folder.iterdir())
    counts, problems, _ = store.verify(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == before               # nothing moved
    assert counts == {"sq": {"point": 0, "summary": 1}}
    text = "\n".join(problems)
    assert f"{paths[0]}: not valid JSON" in text
    assert f"{paths[1]}: config_hash" in text and "does not match its config" in text
    assert f"{paths[2]}: missing fields ['result']" in text
    assert "summary lists 4 point records that are missing or invalid" in text
    assert len(problems) == 4


def test_verify_of_an_empty_or_missing_folder_is_a_problem(tmp_path):
    assert store.verify(tmp_path)[1] == [f"{tmp_path}: no records (no <experiment>/<hash>.json files)"]
    assert store.verify(tmp_path / "nope")[1] == [f"{tmp_path / 'nope'}: not a directory"]


# ------------------------------------------------------------------ code identity: stale records (issue #22)
@pytest.fixture
def registered(monkeypatch):
    """``sq`` registered at algorithm version 1 (restored afterwards)."""
    monkeypatch.setattr(store, "ALGORITHMS", dict(store.ALGORITHMS))
    store.register("sq", 1)
    return lambda n: store.register("sq", n)


def test_records_carry_their_code_identity_and_a_bump_recomputes(tmp_path, registered):
    calls = []
    first = sweep.run(tmp_path, "sq", [{"x": 3}], lambda c: calls.append(c) or _square(c))
    assert first[0]["code"] == {"ntk_bridge": store.versions()["ntk_bridge"], "algorithm": 1}
    assert first[0]["config_hash"] == store.config_hash("sq", {"x": 3}, algorithm=1) != \
        store.config_hash("sq", {"x": 3}, algorithm=None)
    assert store.stale(tmp_path) == [] and not store.verify(tmp_path)[1]
    sweep.run(tmp_path, "sq", [{"x": 3}], lambda c: calls.append(c) or _square(c))
    assert len(calls) == 1                                   # same algorithm: read back
    registered(2)
    again = sweep.run(tmp_path, "sq", [{"x": 3}], lambda c: calls.append(c) or _square(c))
    assert len(calls) == 2 and again[0]["code"]["algorithm"] == 2   # bumped: computed anew
    ((path, why),) = store.stale(tmp_path)
    assert path.stem == first[0]["config_hash"] and "algorithm version 1, the current is 2" in why
    assert not store.verify(tmp_path)[1]                     # stale is not damaged


def test_a_record_without_code_identity_is_stale_and_an_edited_one_damaged(tmp_path, registered):
    old = sweep.run(tmp_path, "sq", [{"x": 1}], _square)[0]
    store.ALGORITHMS.pop("sq")
    legacy = sweep.run(tmp_path, "sq", [{"x": 2}], _square)[0]    # as before code identities existed
    assert legacy["code"] is None
    registered(1)
    ((path, why),) = store.stale(tmp_path)
    assert path.stem == legacy["config_hash"] and "no code identity" in why
    path = tmp_path / "sq" / f"{old['config_hash']}.json"
    rec = json.loads(path.read_text())
    rec["code"]["algorithm"] = 7                             # hand-edited identity: the hash no longer matches
    path.write_text(json.dumps(rec))
    assert any("does not match" in p for p in store.verify(tmp_path)[1])


def test_cli_verify_fails_on_a_stale_record(tmp_path, capsys):
    from ntk_bridge import cli, experiments

    experiments.algorithms()                                 # registers every experiment
    rec = store.save(tmp_path, "cost", {"x": 1}, {"y": 1})
    assert rec["code"]["algorithm"] >= 1 and cli.main(["verify", "--results", str(tmp_path)]) == 0
    path = tmp_path / "cost" / f"{rec['config_hash']}.json"
    legacy = {k: v for k, v in rec.items() if k not in ("code", "digest")}   # as before either existed
    legacy["config_hash"] = store.config_hash("cost", {"x": 1}, algorithm=None)
    path.unlink()
    (tmp_path / "cost" / f"{legacy['config_hash']}.json").write_text(json.dumps(legacy))
    assert cli.main(["verify", "--results", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stale:" in err and "no code identity" in err
    assert cli.main(["verify", "--results", str(tmp_path), "--remove-stale"]) == 0
    assert not list((tmp_path / "cost").glob("*.json"))


def test_manifest_lists_each_summary_with_its_code_identity(tmp_path, registered):
    from ntk_bridge import cli

    pts = sweep.run(tmp_path, "sq", [{"x": 1}, {"x": 2}], _square)
    summary = store.save(tmp_path, "sq", {"xs": [1, 2]}, {"points": [p["config_hash"] for p in pts]}, kind="summary")
    (row,) = store.manifest(tmp_path)["summaries"]
    assert (row["experiment"], row["summary"], row["points"], row["current"]) == ("sq", summary["config_hash"], 2, True)
    assert row["code"] == summary["code"] and row["device"] == summary["device"]
    registered(2)
    assert store.manifest(tmp_path)["summaries"][0]["current"] is False
    assert cli.main(["verify", "--results", str(tmp_path), "--manifest"]) == 0   # "sq" is no experiment of the CLI
    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert doc["summaries"][0]["summary"] == summary["config_hash"] and "closeness" in doc["code"]["algorithms"]


# ------------------------------------------------------------------ seals: edited results (issue #23.1)
def _edit(path, change):
    rec = json.loads(path.read_text())
    change(rec)
    path.write_text(json.dumps(rec, indent=1, sort_keys=True))


def test_an_edited_point_result_is_caught_by_verify_and_recomputed(tmp_path):
    recs = _sweep(tmp_path)
    first = common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"total": 14}, start=0.0)
    path = tmp_path / "sq" / f"{recs[2]['config_hash']}.json"
    _edit(path, lambda r: r["result"].update(square=5))                  # hash left alone
    _, problems, _ = store.verify(tmp_path)
    assert problems[0] == f"{path}: its content was changed after it was written (the digest does not match)"
    assert len(problems) == 2 and "summary lists 1 point records that are missing or invalid" in problems[1]
    again = _sweep(tmp_path)                                             # recomputed, not read back
    assert [r["result"]["square"] for r in again] == [0, 1, 4, 9]
    rebuilt = common.save_summary(tmp_path, "sq", {"sweep": 1}, again, {"total": 14}, start=0.0)
    assert rebuilt["created_ns"] > first["created_ns"] and store.verify(tmp_path)[1] == []


def test_an_edited_summary_value_is_caught_and_rebuilt(tmp_path):
    recs = _sweep(tmp_path)
    first = common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"total": 14}, start=0.0)
    path = tmp_path / "sq" / f"{first['config_hash']}.json"
    _edit(path, lambda r: r["result"].update(total=9.99))
    _, problems, _ = store.verify(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: its content was changed")
    again = common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"total": 14}, start=0.0)
    assert again["result"]["total"] == 14 and json.loads(path.read_text())["result"]["total"] == 14


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_results_are_reported(tmp_path, value):
    recs = _sweep(tmp_path)
    path = tmp_path / "sq" / f"{recs[1]['config_hash']}.json"
    text = path.read_text()
    path.write_text(text.replace('"square": 1', f'"square": {value}'))
    _, problems, _ = store.verify(tmp_path)
    assert problems == [f"{path}: result.square is not a finite number"]


def test_a_summary_whose_points_changed_is_flagged_and_refused(tmp_path):
    """A point recomputed (validly sealed) after its summary: verify names the summary, readers refuse it."""
    recs = _sweep(tmp_path)
    summary = common.save_summary(tmp_path, "sq", {"sweep": 1}, recs, {"total": 14}, start=0.0)
    store.save(tmp_path, "sq", {"x": 3, "seed": 0}, {"square": 9}, seed=0)   # the same point, written anew
    _, problems, _ = store.verify(tmp_path)
    spath = tmp_path / "sq" / f"{summary['config_hash']}.json"
    assert problems == [f"{spath}: 1 of its points changed after the summary was built "
                        f"(first: {recs[3]['config_hash']}.json); rerun the experiment to rebuild it"]
    with pytest.raises(store.MissingRecords, match="changed after it was built"):
        store.points_of(tmp_path, summary)
    rebuilt = common.save_summary(tmp_path, "sq", {"sweep": 1}, _sweep(tmp_path), {"total": 14}, start=0.0)
    assert rebuilt["created_ns"] > summary["created_ns"] and store.verify(tmp_path)[1] == []


def test_the_seal_covers_every_field_and_is_recomputable(tmp_path):
    import hashlib

    rec = _sweep(tmp_path, [3])[0]
    body = {k: v for k, v in rec.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))     # independent canonical form
    assert rec["digest"] == hashlib.sha256(text.encode()).hexdigest()
    path = tmp_path / "sq" / f"{rec['config_hash']}.json"
    for field, value in [("timings", {"total_s": 123.0}), ("seed", 5), ("created", "2020-01-01T00:00:00+00:00")]:
        saved = path.read_text()
        _edit(path, lambda r: r.update({field: value}))
        assert store.problems(json.loads(path.read_text()), path), field
        path.write_text(saved)


def test_records_without_a_seal_load_and_are_stale(tmp_path, registered):
    rec = sweep.run(tmp_path, "sq", [{"x": 2}], _square)[0]
    path = tmp_path / "sq" / f"{rec['config_hash']}.json"
    _edit(path, lambda r: r.pop("digest"))                                 # as written before seals existed
    assert store.get(tmp_path, "sq", {"x": 2})["result"] == {"square": 4}
    ((where, why),) = store.stale(tmp_path)
    assert where == path and "not sealed" in why
    again = sweep.run(tmp_path, "sq", [{"x": 2}], _square)[0]           # a rerun recomputes it, sealed
    assert "digest" in again and store.stale(tmp_path) == []


def test_read_only_loaders_leave_damaged_records_in_place(tmp_path, caplog):
    recs = _sweep(tmp_path)
    path = tmp_path / "sq" / f"{recs[0]['config_hash']}.json"
    _edit(path, lambda r: r["result"].update(square=-1))
    with store.read_only(), caplog.at_level(logging.WARNING, logger="ntk_bridge.store"):
        assert len(store.load(tmp_path, "sq")) == 3
    assert path.exists() and not list((tmp_path / "sq").glob("*.corrupt"))
    assert "left in place" in caplog.records[0].getMessage()
    store.load(tmp_path, "sq")                                             # outside the block: set aside
    assert not path.exists()


def test_a_resumed_sweep_says_how_many_points_it_reused(tmp_path, capsys):
    _sweep(tmp_path, range(3))
    capsys.readouterr()
    _sweep(tmp_path, range(5))
    err = capsys.readouterr().err
    assert f"sq: 3 of 5 points already stored under {tmp_path}, reused; 2 to compute" in err


def test_a_sweep_of_dict_points_stores_each_points_seed_by_default(tmp_path):
    recs = sweep.run(tmp_path, "sq", [{"x": 2, "seed": 3}, {"x": 1}], _square)
    assert [r["seed"] for r in recs] == [3, None]
