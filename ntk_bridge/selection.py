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
    """Several summaries of one experiment and kind, and ``selection.json`` names none of them."""


def on_digits(record: dict) -> bool:
    """Whether a record's tasks are all real images: the ``digits`` family (``tasks.family``,
    ``family``) or accuracy settings named ``digits*`` (``families``)."""
    config = record.get("config") or {}
    if isinstance(config.get("tasks"), dict):
        families = [config["tasks"].get("family")]
    elif config.get("families"):
        families = list(config["families"])
    else:
        families = [config.get("family")]
    return all(isinstance(f, str) and f.startswith("digits") for f in families)


def key(experiment: str, digits: bool = False) -> str:
    """The entry of ``selection.json`` for ``experiment`` on synthetic data or (``digits``) on digits."""
    return f"{experiment}@digits" if digits else experiment


def read(root) -> dict[str, str]:
    """``{key: summary hash}`` from ``<root>/selection.json`` (``{}`` when there is none).

    Raises:
      ValueError: the file is not a JSON object of strings (names the file and how to rewrite it).
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
    """Name ``summary`` (a stored summary record) as its experiment's on its kind of data; returns the key."""
    if not isinstance(summary, dict) or summary.get("kind") != "summary":
        raise ValueError("summary must be a summary record (store.load(..., kind='summary'))")
    k = key(summary["experiment"], on_digits(summary))
    table = dict(read(root), **{k: summary["config_hash"]})
    atomic.write_text(Path(root) / FILE, json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    return k


def candidates(root, experiment: str, digits: bool = False) -> list[dict]:
    """Every summary of ``experiment`` under ``root`` on the given kind of data, oldest first."""
    return [s for s in store.load(root, experiment, kind="summary") if on_digits(s) == digits]


def describe(record: dict) -> str:
    """One line naming a summary: hash, date, what it swept."""
    config = record.get("config") or {}
    axes = ", ".join(f"{k}={config[k]}" for k in ("depths", "widths", "seeds", "methods") if k in config)
    return f"{record['config_hash']} ({record['created'][:16]}{'; ' + axes if axes else ''})"


def summary(root, experiment: str, digits: bool = False) -> dict | None:
    """The summary record of ``experiment`` a report reads under ``root``, or ``None`` if there is none.

    Raises:
      Ambiguous: several candidates and ``selection.json`` names none (the message lists them).
      store.MissingRecords: ``selection.json`` names a summary that is not stored (or damaged).
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

    ``experiments``: the experiment names to look at (their kinds with a stored summary).
    """
    out = []
    for experiment in experiments:
        for digits in (False, True):
            try:
                summary(root, experiment, digits)
            except (Ambiguous, store.MissingRecords) as exc:
                out.append(str(exc))
    return out
