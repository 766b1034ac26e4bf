"""Which summary reports read: the one ``selection.json`` names, never the newest (issue #24)."""
import json

import pytest

from ntk_bridge import cli, selection, store
from ntk_bridge.figures import common

KS = ["kernel-share", "--quick", "--seeds", "1"]


@pytest.fixture
def two(tmp_path):
    """A results folder with two kernel-share summaries (depths 1,2 then 1,3), none selected."""
    root = tmp_path / "r"
    for depths in (["1", "2"], ["1", "3"]):
        assert cli.main(KS + ["--depths", *depths, "--results", str(root)]) == 0
    old, new = store.load(root, "kernel-share", kind="summary")
    return root, old, new


def test_one_summary_needs_no_selection(tmp_path):
    assert cli.main(KS + ["--depths", "1", "2", "--results", str(tmp_path)]) == 0
    (only,) = store.load(tmp_path, "kernel-share", kind="summary")
    assert selection.summary(tmp_path, "kernel-share") == only
    assert selection.summary(tmp_path, "kernel-share", digits=True) is None
    assert selection.summary(tmp_path, "width") is None


def test_several_and_none_named_stop_the_reports_with_the_fix(two, tmp_path, capsys):
    root, old, new = two
    with pytest.raises(selection.Ambiguous) as exc:
        selection.summary(root, "kernel-share")
    assert old["config_hash"] in str(exc.value) and new["config_hash"] in str(exc.value)
    assert "ntk-bridge select" in str(exc.value)
    capsys.readouterr()
    assert cli.main(["figures", "--results", str(root), "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ntk-bridge select" in err and not (tmp_path / "figs").exists()
    assert cli.main(["appendix", "--results", str(root), "--out", str(tmp_path / "app"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "ntk-bridge select" in err and "Traceback" not in err


def test_the_named_summary_is_read_not_the_newest(two, capsys):
    root, old, new = two
    assert cli.main(["select", "--results", str(root), f"kernel-share={old['config_hash']}"]) == 0
    listing = capsys.readouterr().out
    assert f"* {old['config_hash']}" in listing and f"  {new['config_hash']}" in listing
    assert json.loads((root / "selection.json").read_text()) == {"kernel-share": old["config_hash"]}
    assert common.summary(root, "kernel-share").record == old
    from ntk_bridge.appendix.context import Context

    assert Context(root, root / "out").summary("kernel-share") == old
    # a later run selects nothing unless asked
    assert cli.main(KS + ["--depths", "2", "--results", str(root)]) == 0
    assert selection.summary(root, "kernel-share") == old
    assert cli.main(KS + ["--depths", "3", "--results", str(root), "--select"]) == 0
    assert selection.summary(root, "kernel-share")["config"]["depths"] == [3]


@pytest.mark.parametrize("pair, message", [
    ("kernel-share", "is not KEY=HASH"),
    ("kernel_share=abc", "is not KEY=HASH"),
    ("kernel-share@imagenet=abc", "is not KEY=HASH"),
    ("kernel-share=0123456789abcdef", "no kernel-share summary 0123456789abcdef"),
    ("kernel-share@digits=0123456789abcdef", "no kernel-share@digits summary"),
])
def test_select_refuses_what_it_cannot_name(two, pair, message, capsys):
    root, _, _ = two
    assert cli.main(["select", "--results", str(root), pair]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (root / "selection.json").exists()


def test_a_selected_summary_that_is_gone_is_named(two):
    root, old, _ = two
    selection.select(root, old)
    (root / "kernel-share" / f"{old['config_hash']}.json").unlink()
    with pytest.raises(store.MissingRecords, match=f"names kernel-share summary {old['config_hash']}"):
        selection.summary(root, "kernel-share")


@pytest.mark.parametrize("text", ["{", "[1, 2]", '{"kernel-share": 3}'])
def test_a_malformed_selection_file_is_named(two, text):
    root, _, _ = two
    (root / "selection.json").write_text(text)
    with pytest.raises(ValueError, match="selection.json"):
        selection.summary(root, "kernel-share")


def test_synthetic_and_digits_are_selected_apart(two):
    root, old, _ = two
    digits = dict(old, config=dict(old["config"], family="digits"))
    assert selection.key("kernel-share", selection.on_digits(digits)) == "kernel-share@digits"
    assert selection.select(root, old) == "kernel-share"
    with pytest.raises(ValueError, match="summary record"):
        selection.select(root, {"kind": "point"})


def test_a_summary_of_another_folder_is_not_selected(two, tmp_path):
    """Selecting a summary not stored under the folder would name a record that is not there (found only later,
    as missing records): refused, and selection.json is left as it was."""
    root, old, _ = two
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ValueError, match="not stored under"):
        selection.select(other, old)
    assert not (other / selection.FILE).exists()


def test_verify_notes_an_unselected_choice_and_fails_on_a_selection_pointing_nowhere(two, capsys):
    root, old, _ = two
    assert cli.main(["verify", "--results", str(root)]) == 0
    assert "note: " in capsys.readouterr().out
    selection.select(root, old)
    assert cli.main(["verify", "--results", str(root), "--manifest"]) == 0
    assert json.loads((root / "manifest.json").read_text())["selection"] == {"kernel-share": old["config_hash"]}
    (root / "kernel-share" / f"{old['config_hash']}.json").unlink()
    capsys.readouterr()
    assert cli.main(["verify", "--results", str(root)]) == 1
    assert f"names kernel-share summary {old['config_hash']}" in capsys.readouterr().err
