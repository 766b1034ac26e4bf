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
        seed_of: Callable[[Any], int | None] = lambda c: getattr(c, "seed", None),
        desc: str | None = None, executor=None) -> list[dict]:
    """Run ``compute(config) -> result`` for each config not yet stored; return all records, in ``configs`` order.

    Resumable: points whose record exists are read back, not recomputed (except records made
    before seals existed, which are recomputed and overwritten).  The others are
    computed by ``executor`` (default ``ntk_bridge.executor.current``: this process,
    or the Ray tasks of an ``executor.use`` block) and each record is written here, by
    this process, as soon as its point is done, so an interrupted sweep loses only the
    points in flight; a rerun says on stderr how many stored points it reused.  A config
    listed twice is computed once.  Each new record stores
    ``timings["total_s"]``, the wall time of its ``compute`` call.
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
