"""Which summary of an experiment a report reads: named explicitly, never "the newest".

A results folder may hold several summaries of one experiment (a quick run and a full one, an
ad-hoc sweep beside the reference).  Figures, the appendix and ``paper_repro.md`` read, per
experiment and *kind* of data (synthetic, or the real-image ``digits`` family: ``on_digits``),
the summary that ``<root>/selection.json`` names::

    {"closeness": "1f1199580204e005", "closeness@digits": "3563c3ab74049095", ...}

A kind with one summary needs no entry; a kind with several and no entry is ``Ambiguous``
(the message lists them and the command that picks one).  The file is written by
``ntk-bridge reproduce`` (the summaries it made), by an experiment command run with
``--select``, and by ``ntk-bridge select``; a sweep run from Python selects nothing, so an
ad-hoc sweep into a folder never changes what its reports show.

    key(experiment, digits)        -> "closeness" | "closeness@digits"
    on_digits(record)              -> whether a record's tasks are all digits
    read(root)                     -> {key: summary hash}
    select(root, summary)          -> name ``summary`` (a record) in selection.json
    candidates(root, experiment, digits) -> the summaries a key could name, oldest first
    summary(root, experiment, digits=False) -> the selected summary record, or None if none exists
    unresolved(root, experiments)  -> why a report could not tell which summary to read
"""
from __future__ import annotations

import json
from pathlib import Path

from . import atomic, store

FILE = "selection.json"


class Ambiguous(ValueError):
    """Several summaries of one experiment and kind, and ``selection.json`` names none of them.

    Raised by ``summary``; the message lists the candidates (``describe``), oldest first, and the
    ``ntk-bridge select`` command that names one.  A ``ValueError``.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import selection, store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> for seeds in (2, 3):
      ...     _ = store.save(root, "demo", {"seeds": seeds}, {"points": []}, kind="summary")
      >>> selection.summary(root, "demo")
      Traceback (most recent call last):
      ...
      ntk_bridge.selection.Ambiguous: .../demo holds 2 demo summaries and selection.json names none: pick one
      with `ntk-bridge select --results ... demo=HASH` (or rerun its command with --select); candidates, oldest
      first: ... (...; seeds=2); ... (...; seeds=3)
      >>> issubclass(selection.Ambiguous, ValueError)
      True
      >>> tmp.cleanup()
    """


def on_digits(record: dict) -> bool:
    """Whether a record's tasks are all real images: the ``digits`` family (``tasks.family``,
    ``family``) or accuracy settings named ``digits*`` (``families``).

    Looks at the record's config: ``config["tasks"]["family"]`` when ``tasks`` is a dict, else every
    entry of ``config["families"]`` when non-empty, else ``config["family"]``; each must be a string
    starting with ``"digits"``.

    Args:
      record: a stored record (a dict with a ``"config"``; a missing config counts as synthetic).

    Returns:
      ``True`` when every family named is a ``digits*`` one, else ``False``.

    Examples:
      >>> from ntk_bridge import selection
      >>> selection.on_digits({"config": {"tasks": {"family": "digits"}}})
      True
      >>> selection.on_digits({"config": {"families": ["digits", "sine"]}}), selection.on_digits({"config": {}})
      (False, False)
      >>> rec = selection.summary("results/reference", "closeness", digits=True)
      >>> selection.on_digits(rec), rec["config"]["tasks"]["family"]
      (True, 'digits')
    """
    config = record.get("config") or {}
    if isinstance(config.get("tasks"), dict):
        families = [config["tasks"].get("family")]
    elif config.get("families"):
        families = list(config["families"])
    else:
        families = [config.get("family")]
    return all(isinstance(f, str) and f.startswith("digits") for f in families)


def key(experiment: str, digits: bool = False) -> str:
    """The entry of ``selection.json`` for ``experiment`` on synthetic data or (``digits``) on digits.

    Args:
      experiment: the experiment's name.
      digits: ``True`` for its summaries on the real-image ``digits`` family (``on_digits``).

    Returns:
      ``experiment``, or ``f"{experiment}@digits"``.

    Examples:
      >>> from ntk_bridge import selection
      >>> selection.key("closeness"), selection.key("closeness", digits=True)
      ('closeness', 'closeness@digits')
    """
    return f"{experiment}@digits" if digits else experiment


def read(root) -> dict[str, str]:
    """``{key: summary hash}`` from ``<root>/selection.json`` (``{}`` when there is none).

    Args:
      root: the results root.

    Returns:
      ``{key (see ``key``): summary hash (16 hex digits)}``, as stored; ``{}`` when ``root`` has no
      ``selection.json``.

    Raises:
      ValueError: when the file cannot be read or is not JSON, or is not a JSON object of strings (the
        message names the file and how to rewrite it).

    Examples:
      >>> import tempfile
      >>> from pathlib import Path
      >>> from ntk_bridge import selection
      >>> table = selection.read("results/reference")
      >>> table["closeness"] == selection.summary("results/reference", "closeness")["config_hash"]
      True
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> selection.read(root)
      {}
      >>> _ = (Path(root) / "selection.json").write_text('["closeness"]')
      >>> selection.read(root)
      Traceback (most recent call last):
      ...
      ValueError: .../selection.json must map experiment names to summary hashes (strings); delete it and rerun
      `ntk-bridge select --results ... EXPERIMENT=HASH`
      >>> tmp.cleanup()
    """
    path = Path(root) / FILE
    if not path.is_file():
        return {}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); delete it and rerun `ntk-bridge select "
                         f"--results {root} EXPERIMENT=HASH`") from None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise ValueError(f"{path} must map experiment names to summary hashes (strings); delete it and rerun "
                         f"`ntk-bridge select --results {root} EXPERIMENT=HASH`")
    return table


def select(root, summary: dict) -> str:
    """Name ``summary`` (a stored summary record) as its experiment's on its kind of data; returns the key.

    Rewrites ``<root>/selection.json`` atomically with ``key(summary["experiment"], on_digits(summary))``
    set to ``summary["config_hash"]`` (other entries kept, keys sorted).  Whether that summary is stored
    under ``root`` is not checked here (``summary`` raises ``MissingRecords`` later if it is not).

    Args:
      root: the results root (it must exist).
      summary: a summary record (``store.load(root, experiment, kind="summary")``, ``candidates``).

    Returns:
      The key written (``"closeness"`` or ``"closeness@digits"``).

    Raises:
      ValueError: when ``summary`` is not a summary record (a dict of ``kind`` ``"summary"``) or is not
        stored under ``root``; (from ``read``) when the existing ``selection.json`` is unreadable.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import selection, store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> first, second = (store.save(root, "demo", {"seeds": s}, {"points": []}, kind="summary") for s in (2, 3))
      >>> selection.select(root, second)
      'demo'
      >>> selection.read(root) == {"demo": second["config_hash"]}, selection.summary(root, "demo") == second
      (True, True)
      >>> selection.select(root, {"kind": "point"})
      Traceback (most recent call last):
      ...
      ValueError: summary must be a summary record (store.load(..., kind='summary'))
      >>> tmp.cleanup()
    """
    if not isinstance(summary, dict) or summary.get("kind") != "summary":
        raise ValueError("summary must be a summary record (store.load(..., kind='summary'))")
    path = store.path_of(root, summary["experiment"], summary["config_hash"])
    if not path.is_file():
        raise ValueError(f"summary {summary['experiment']} {summary['config_hash']} is not stored under {root} "
                         f"(no {path}): select a summary of this results folder")
    k = key(summary["experiment"], on_digits(summary))
    table = dict(read(root), **{k: summary["config_hash"]})
    atomic.write_text(Path(root) / FILE, json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    return k


def candidates(root, experiment: str, digits: bool = False) -> list[dict]:
    """Every summary of ``experiment`` under ``root`` on the given kind of data, oldest first.

    ``store.load(root, experiment, kind="summary")`` restricted to those with ``on_digits(s) == digits``
    (damaged records are moved aside and left out, unless within ``store.read_only``).

    Args:
      root: the results root.
      experiment: the experiment's name.
      digits: ``True`` for the summaries on the ``digits`` family, ``False`` for the synthetic ones.

    Returns:
      A list of summary records (dicts), oldest first.

    Raises:
      ValueError: (from ``store.load``) when ``experiment`` is not a plain folder name.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import selection, store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> for family in ("sine", "digits", "sine"):
      ...     _ = store.save(root, "demo", {"family": family}, {"points": []}, kind="summary")
      >>> len(selection.candidates(root, "demo")), len(selection.candidates(root, "demo", digits=True))
      (1, 1)
      >>> tmp.cleanup()
    """
    return [s for s in store.load(root, experiment, kind="summary") if on_digits(s) == digits]


def describe(record: dict) -> str:
    """One line naming a summary: hash, date, what it swept.

    ``"<config_hash> (<created, to the minute>; depths=..., widths=..., seeds=..., methods=...)"``,
    naming only those of the four config entries the summary has.

    Args:
      record: a summary record (it needs ``config_hash`` and ``created``).

    Returns:
      The line (``str``).

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import selection, store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> rec = store.save(root, "demo", {"depths": [1, 2], "seeds": 3, "lr": 0.1}, {"points": []}, kind="summary")
      >>> line = selection.describe(rec)
      >>> line.startswith(rec["config_hash"] + " (" + rec["created"][:16]), line.endswith("; depths=[1, 2], seeds=3)")
      (True, True)
      >>> tmp.cleanup()
    """
    config = record.get("config") or {}
    axes = ", ".join(f"{k}={config[k]}" for k in ("depths", "widths", "seeds", "methods") if k in config)
    return f"{record['config_hash']} ({record['created'][:16]}{'; ' + axes if axes else ''})"


def summary(root, experiment: str, digits: bool = False) -> dict | None:
    """The summary record of ``experiment`` a report reads under ``root``, or ``None`` if there is none.

    The one ``selection.json`` names under ``key(experiment, digits)``; without an entry, the only
    candidate (``candidates``), if there is exactly one.

    Args:
      root: the results root.
      experiment: the experiment's name.
      digits: ``True`` for its summary on the ``digits`` family, ``False`` for the synthetic one.

    Returns:
      The summary record (a dict), or ``None`` when no summary of that kind is stored and none is named.

    Raises:
      Ambiguous: when there are several candidates and ``selection.json`` names none (the message lists them).
      store.MissingRecords: when ``selection.json`` names a summary that is not stored (or damaged).
      ValueError: (from ``read``) when ``selection.json`` is unreadable.

    Examples:
      >>> from ntk_bridge import selection
      >>> rec = selection.summary("results/reference", "closeness")
      >>> rec["experiment"], rec["kind"], selection.on_digits(rec)
      ('closeness', 'summary', False)
      >>> rec["config_hash"] == selection.read("results/reference")["closeness"]
      True
      >>> selection.summary("results/reference", "cost", digits=True) is None   # cost never ran on digits
      True
    """
    k = key(experiment, digits)
    named = read(root).get(k)
    found = candidates(root, experiment, digits)
    if named is not None:
        for record in found:
            if record["config_hash"] == named:
                return record
        raise store.MissingRecords(f"{Path(root) / FILE} names {k} summary {named}, which is not stored under "
                                   f"{Path(root) / experiment} (deleted or damaged): rerun that sweep, or select "
                                   f"another with `ntk-bridge select --results {root} {k}=HASH`")
    if len(found) <= 1:
        return found[0] if found else None
    listing = "; ".join(describe(r) for r in found)
    raise Ambiguous(f"{Path(root) / experiment} holds {len(found)} {k} summaries and {FILE} names none: pick one "
                    f"with `ntk-bridge select --results {root} {k}=HASH` (or rerun its command with --select); "
                    f"candidates, oldest first: {listing}")


def unresolved(root, experiments) -> list[str]:
    """Why a report cannot tell which summary to read, one line per experiment and kind (``[]``: none).

    Calls ``summary`` for each experiment on synthetic data and on digits and collects the messages of
    ``Ambiguous`` and ``store.MissingRecords``.

    Args:
      root: the results root.
      experiments: the experiment names to look at (an iterable of ``str``).

    Returns:
      One message (``str``) per unresolved experiment and kind, in order; ``[]`` when every report can
      tell.

    Raises:
      ValueError: (from ``read``) when ``selection.json`` is unreadable.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import selection, store
      >>> selection.unresolved("results/reference", ["closeness", "kernel-share"])
      []
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> first, second = (store.save(root, "demo", {"seeds": s}, {"points": []}, kind="summary") for s in (2, 3))
      >>> [line.split(":")[0] for line in selection.unresolved(root, ["demo"])]
      ['.../demo holds 2 demo summaries and selection.json names none']
      >>> _ = selection.select(root, first)
      >>> selection.unresolved(root, ["demo"])
      []
      >>> tmp.cleanup()
    """
    out = []
    for experiment in experiments:
        for digits in (False, True):
            try:
                summary(root, experiment, digits)
            except (Ambiguous, store.MissingRecords) as exc:
                out.append(str(exc))
    return out
