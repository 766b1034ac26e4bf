"""The ntk-bridge command line: bad arguments fail cleanly, commands run and delegate."""
import pytest

from ntk_bridge import cli, store


@pytest.mark.parametrize("argv, message", [
    (["closeness", "--depths", "0"], "--depths: must be an integer >= 1, got 0"),
    (["closeness", "--depths", "2", "-1"], "--depths: must be an integer >= 1, got -1"),
    (["width", "--widths", "0"], "--widths: must be an integer >= 1, got 0"),
    (["accuracy", "--seeds", "x"], "--seeds: must be an integer >= 1, got 'x'"),
    (["closeness", "--family", "omniglot"], "invalid choice: 'omniglot'"),
    (["kernel-share", "--family", "sinusoid"], "has no option --family"),
    (["kernel-share", "--widths", "64"], "has no option --widths"),
    (["train"], "invalid choice: 'train'"),
    ([], "required"),
])
def test_bad_arguments_exit_nonzero_without_traceback(argv, message, capsys, tmp_path):
    status = cli.main(argv + (["--results", str(tmp_path)] if argv and argv[0] != "train" else []))
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing was computed


def test_experiment_command_runs_and_resumes(tmp_path, capsys):
    argv = ["kernel-share", "--quick", "--results", str(tmp_path), "--depths", "1", "3", "--seeds", "2"]
    assert cli.main(argv) == 0
    summary = store.latest_summary(tmp_path, "kernel-share")
    assert summary["config"]["depths"] == [1, 3] and len(summary["result"]["points"]) == 4
    assert "kernel-share: 4 points" in capsys.readouterr().out
    files = sorted(p.name for p in (tmp_path / "kernel-share").iterdir())
    assert cli.main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "kernel-share").iterdir()) == files  # resumed, nothing new


def test_delegates_and_missing_modules(capsys, monkeypatch):
    assert cli.main(["check", "--list"]) == 0
    assert "kernel" in capsys.readouterr().out.lower()
    monkeypatch.setattr(cli, "_load", lambda name: None)
    assert cli.main(["appendix", "--out", "somewhere"]) == 2
    err = capsys.readouterr().err
    assert "ntk_bridge.appendix is not available" in err and "Traceback" not in err


def test_figures_on_empty_results_skip_cleanly(tmp_path, capsys):
    assert cli.main(["figures", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "figs")]) == 0
    assert "skipped" in capsys.readouterr().err
