"""A resumable sweep: compute the points not stored yet and store each one as soon as it is done.

Experiments call ``run``; where the points are computed is the current executor's business
(``ntk_bridge.executor``, chosen by a ``with executor.use(...)`` block), how records are
written and read back ``ntk_bridge.store``'s.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterable

from . import store
from .executor import current


def run(root, experiment: str, configs: Iterable[Any], compute: Callable[[Any], dict], *,
        seed_of: Callable[[Any], int | None] = lambda c: (c.get("seed") if isinstance(c, dict)
                                                          else getattr(c, "seed", None)),
        desc: str | None = None, executor=None) -> list[dict]:
    """Run ``compute(config) -> result`` for each config not yet stored; return all records, in ``configs`` order.

    Resumable: points whose record exists are read back, not recomputed (except records made
    before seals existed, which are recomputed and overwritten, and damaged ones, which
    ``ntk_bridge.store.get`` moves aside and which are recomputed).  The others are
    computed by ``executor`` (default ``ntk_bridge.executor.current``: this process,
    or the Ray tasks of an ``executor.use`` block) and each record is written here, by
    this process, as soon as its point is done, so an interrupted sweep loses only the
    points in flight; a rerun says on stderr how many stored points it reused.  A config
    listed twice is computed once.  Each new record stores
    ``timings["total_s"]``, the wall time of its ``compute`` call, and the ``device`` and
    ``versions`` of the process that computed it.  A progress bar (tqdm) is shown on stderr
    when it is a terminal.

    Args:
      root: the results root (path-like); records go to ``<root>/<experiment>/<config_hash>.json``.
      experiment: the experiment's name (its folder under ``root``, and the Ray tasks' label).
      configs: the points' configurations (anything ``ntk_bridge.store.canonical`` accepts); consumed
        once, so a generator is fine.
      compute: the function of one config returning its result (finite numbers only, as
        ``ntk_bridge.store.save`` requires); with the Ray executor it must be picklable.
      seed_of: the seed stored with a new record, from its config (default: its ``seed`` key or
        attribute, ``None`` without one).
      desc: the progress bar's and stderr message's label (default ``experiment``).
      executor: where the points are computed (``Local()``, ``Ray(...)``); default
        ``ntk_bridge.executor.current()``.  It is not closed here.

    Returns:
      One record (a dict, as ``ntk_bridge.store.get`` returns it; its ``result`` is the JSON form of
      what ``compute`` returned) per config, in ``configs`` order; positions of a config listed
      twice hold equal records (the same dict when it was computed by this call).

    Raises:
      ValueError: (from ``ntk_bridge.store``) when ``experiment`` is not a plain folder name, a config
        cannot be stored as JSON, or a result holds a non-finite number; the records written before
        stay.
      Exception: whatever ``compute`` raises, re-raised here (the executor runs no further points;
        the records already written stay, and a rerun resumes from them).

    Examples:
      >>> import contextlib, io, tempfile
      >>> from ntk_bridge import sweep
      >>> tmp = tempfile.TemporaryDirectory()
      >>> square = lambda config: {"square": config["n"] ** 2}
      >>> records = sweep.run(tmp.name, "demo-sweep", [{"n": 2}, {"n": 3}, {"n": 2}], square)
      >>> [r["result"]["square"] for r in records], records[0] is records[2]   # {"n": 2} computed once
      ([4, 9, 4], True)
      >>> records[0]["config"], records[0]["seed"], sorted(records[0]["timings"])
      ({'n': 2}, None, ['total_s'])
      >>> stderr = io.StringIO()
      >>> with contextlib.redirect_stderr(stderr):
      ...     again = sweep.run(tmp.name, "demo-sweep", [{"n": 2}, {"n": 4}], square)
      >>> print(stderr.getvalue())
      demo-sweep: 1 of 2 points already stored under ..., reused; 1 to compute
      >>> again[0] == records[0], again[1]["result"]
      (True, {'square': 16})
      >>> tmp.cleanup()
    """
    from tqdm.auto import tqdm

    run_on = current() if executor is None else executor
    configs = list(configs)
    records = [store.get(root, experiment, config) for config in configs]
    records = [r if r is not None and "digest" in r else None for r in records]   # unsealed: recomputed
    todo: dict[str, list[int]] = {}  # hash -> indices of the configs with that hash, not stored yet
    for i, (config, record) in enumerate(zip(configs, records)):
        if record is None:
            todo.setdefault(store.config_hash(experiment, config), []).append(i)
    first = [indices[0] for indices in todo.values()]
    reused = len(configs) - sum(map(len, todo.values()))
    if reused:
        print(f"{desc or experiment}: {reused} of {len(configs)} points already stored under {root}, reused; "
              f"{len(first)} to compute", file=sys.stderr, flush=True)
    with tqdm(total=len(configs), initial=len(configs) - sum(map(len, todo.values())), desc=desc or experiment,
              unit="pt", disable=None, leave=False) as bar:
        for done in run_on.map(compute, [configs[i] for i in first], label=experiment):
            i = first[done.index]
            record = store.save(root, experiment, configs[i], done.result, seed=seed_of(configs[i]),
                                timings={"total_s": done.total_s}, device=done.device, versions=done.versions)
            indices = todo[record["config_hash"]]
            for j in indices:
                records[j] = record
            bar.update(len(indices))
    return records
