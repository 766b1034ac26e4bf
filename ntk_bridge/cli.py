"""The ``ntk-bridge`` command line.

    ntk-bridge closeness|width|kernel-share|accuracy|cost|ablate|finite-closeness|conditioning
               [--quick] [--results DIR] [--seeds N] [--depths L ...] [--widths N ...] [--family F]
               [--backend native|nt] ... [--executor local|ray] [--address ADDR] [--gpus-per-point G]
               [--select]  (each experiment takes exactly the options its Config has; its --help lists them)
    ntk-bridge select    [--quick] [--results DIR] [EXPERIMENT[@digits]=HASH ...]
    ntk-bridge figures   [--quick] [--results DIR] [--out DIR]
    ntk-bridge check     [proofs_checks options, e.g. --fast]
    ntk-bridge appendix  --out DIR [appendix options]
    ntk-bridge reproduce --quick [--results DIR] [--out DIR] [--jobs N] [--executor local|ray] [--address ADDR]
    ntk-bridge verify    [--quick] [--results DIR] [--manifest] [--remove-stale]

Results go to ``results/`` (``results/quick/`` with ``--quick``), figures to
``out/figures`` (``out/quick/figures``).  Bad arguments exit with status 2 and a one-line
message, no traceback; so does a ``--results`` that is not a directory (or, for ``verify``,
does not exist), or ``--executor ray`` without Ray installed.  Ctrl-C ends a sweep with one
line (records stored, how to resume) and status 130.  A results folder that cannot be written (read-only, full disk) ends
the command with status 1 and one line.  ``--executor ray`` computes the sweep points as Ray
tasks (a local Ray instance, or the cluster at ``--address``) with the same records
(``ntk_bridge.executor``).

Figures and the appendix read, per experiment, the summary ``DIR/selection.json`` names
(``ntk_bridge.selection``), or the only one there is; ``reproduce`` names the summaries it
made, an experiment command with ``--select`` its own, ``ntk-bridge select`` lists and sets them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import experiments
from .tasks import FAMILIES

DELEGATES = {"check": "proofs_checks", "appendix": "ntk_bridge.appendix"}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _executor_options(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--address``, ``--gpus-per-point``: where sweep points run (ntk_bridge.executor)."""
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="compute points in this process (default) or as Ray tasks (needs the ray extra)")
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster to use with --executor ray ('auto', HOST:6379, ray://HOST:10001); "
                        "default: start a local Ray instance")
    p.add_argument("--gpus-per-point", type=float, metavar="G",
                   help="GPUs each point reserves with --executor ray (default: 1 for device=gpu points, else 0)")


def _make_executor(args):
    """The executor the options ask for (ValueError/ImportError, reported with status 2)."""
    from . import executor

    return executor.make(args.executor, address=args.address, gpus_per_point=args.gpus_per_point)


# Options that override a field of an experiment's Config: (flag, field, argparse keywords).  Each
# experiment's parser lists exactly those whose field its Config has (``family`` sets
# ``tasks.family`` or ``families``: experiments.configure).
_SWEEP_OPTIONS = (
    ("--seeds", "seeds", dict(type=_positive_int, metavar="N", help="number of task-sampling seeds")),
    ("--depths", "depths", dict(type=_positive_int, nargs="+", metavar="L", help="network depths (>= 1)")),
    ("--widths", "widths", dict(type=_positive_int, nargs="+", metavar="N", help="finite widths (>= 1)")),
    ("--family", "family", dict(choices=sorted(FAMILIES), help="task family")),
    ("--methods", "methods", dict(nargs="+", metavar="M", help="finite-width methods")),
    ("--backend", "backend", dict(choices=("native", "nt"), help="kernel backend (default native)")),
    ("--splits", "splits", dict(nargs="+", choices=("same", "disjoint"), help="GBML splits")),
    ("--protocols", "protocols", dict(nargs="+", choices=("trained", "fresh"), help="test-time head protocols")),
    ("--ensembles", "ensembles", dict(type=_positive_int, nargs="+", metavar="M",
                                      help="ensemble sizes of centered nets")),
)


def _config_fields(name: str) -> set[str]:
    """The field names of experiment ``name``'s Config."""
    import dataclasses

    return {f.name for f in dataclasses.fields(experiments.module(name).Config)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ntk-bridge", description=(
        "Bridging MTL and meta-learning in the NTK regime: experiments, figures, checks, appendix."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in experiments.names():
        p = sub.add_parser(name, help=f"run the {name} experiment (resumable)")
        p.add_argument("--quick", action="store_true", help="the small configuration (minutes on a laptop)")
        p.add_argument("--results", type=Path, metavar="DIR", help="results root (default results/, or results/quick/)")
        fields = _config_fields(name)
        for flag, field, kwargs in _SWEEP_OPTIONS:
            if field in fields or (field == "family" and fields & {"tasks", "families"}):
                p.add_argument(flag, **kwargs)
        p.add_argument("--select", action="store_true",
                       help="name this run's summary in DIR/selection.json: the one figures and the appendix read")
        _executor_options(p)
    p = sub.add_parser("select", help="which summary of each experiment figures and the appendix read "
                                      "(DIR/selection.json): list, or set with KEY=HASH")
    p.add_argument("--quick", action="store_true", help="read results/quick/ (default results/)")
    p.add_argument("--results", type=Path, metavar="DIR")
    p.add_argument("pairs", nargs="*", metavar="KEY=HASH",
                   help="KEY: an experiment, or EXPERIMENT@digits for its sweep on digits; HASH: a summary's hash")
    p = sub.add_parser("figures", help="draw every figure from stored records")
    p.add_argument("--quick", action="store_true", help="read results/quick/ (default results/)")
    p.add_argument("--results", type=Path, metavar="DIR")
    p.add_argument("--out", type=Path, metavar="DIR", help="default out/figures (out/quick/figures)")
    # Listed for --help only: main() hands their arguments to the delegate untouched.
    sub.add_parser("check", help="numerical proofs of the theory contract (proofs_checks; try --fast, --help)")
    sub.add_parser("appendix", help="the paper appendix from stored records (ntk_bridge.appendix; try --help)")
    p = sub.add_parser("verify", help="check every stored record (JSON, hashes, seals, finite results, "
                                      "summaries' points, code identity)")
    p.add_argument("--quick", action="store_true", help="read results/quick/ (default results/)")
    p.add_argument("--results", type=Path, metavar="DIR")
    p.add_argument("--manifest", action="store_true",
                   help="also write DIR/manifest.json: every summary with its code identity, device and date")
    p.add_argument("--remove-stale", action="store_true",
                   help="delete the records made by another algorithm version of their experiment")
    p = sub.add_parser("reproduce", help="experiments, then figures, fast checks and the appendix")
    p.add_argument("--quick", action="store_true", help="the quick configuration (< 10 minutes)")
    p.add_argument("--results", type=Path, metavar="DIR")
    p.add_argument("--out", type=Path, metavar="DIR", help="figures and appendix (default out/ or out/quick/)")
    p.add_argument("--jobs", type=_positive_int, metavar="N",
                   help="experiments run in N processes at once with the local executor (default: the CPU "
                        "count, at most 4)")
    _executor_options(p)
    return parser


def _roots(args) -> tuple[Path, Path]:
    from .store import DEFAULT_ROOT, QUICK_ROOT

    results = args.results or (QUICK_ROOT if args.quick else DEFAULT_ROOT)
    out = getattr(args, "out", None) or (Path("out/quick") if args.quick else Path("out"))
    return results, out


def run_experiment(name: str, config, results: Path) -> dict:
    """Run one configured experiment, print where its summary went; return the summary record."""
    start = time.perf_counter()
    summary = experiments.run(name, config, results)
    n = len(summary["result"]["points"])
    print(f"{name}: {n} points, summary {results / name / (summary['config_hash'] + '.json')} "
          f"({time.perf_counter() - start:.1f} s)", flush=True)
    return summary


def _figures(results: Path, out: Path) -> int:
    """Draw every figure (``ntk_bridge.figures``) from the records under ``results`` into ``out``.

    0; 1 if a figure failed; 2 with one line if ``results`` is missing or holds no summary.
    """
    from . import figures

    return figures.main(results, out)


def _load(module_name: str):
    """The module, or ``None`` if it does not exist (yet)."""
    import importlib

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name and exc.name != module_name.split(".")[0]:
            raise  # the module exists but one of its imports is missing
        return None


def _delegate(mod, argv: list[str], label: str | None = None) -> int:
    try:
        return int(mod.main(argv) or 0)
    except SystemExit as exc:  # an argparse error inside the delegate
        return exc.code if isinstance(exc.code, int) else 2
    except OSError as exc:  # an unwritable --out or --results: one line, like the other commands
        print(f"ntk-bridge {label or mod.__name__}: error: {_os_error(exc)}", file=sys.stderr)
        return 1


def _os_error(exc: OSError) -> str:
    """One line for a file-system error: what failed, on which path."""
    if exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
    return str(exc) or type(exc).__name__


def verify(results: Path, remove_stale: bool = False) -> int:
    """Print what ``results`` holds per experiment, every problem and every stale record; 1 if any.

    Stale: made by another algorithm version of its experiment than this code's (``store.stale``), or
    a summary in a layout this code's typed reader cannot read; ``remove_stale`` deletes those files
    instead (then they do not count).
    """
    from . import selection, store

    counts, problems, notes = store.verify(results)
    with store.read_only():  # what the reports would read: a named summary that is gone is a problem
        for name in counts:
            for digits in (False, True):
                try:
                    selection.summary(results, name, digits)
                except selection.Ambiguous as exc:
                    notes.append(str(exc))
                except (store.MissingRecords, ValueError) as exc:
                    problems.append(str(exc))
    stale = store.stale(results, experiments.algorithms())
    known = set(experiments.names())
    flagged = {path for path, _ in stale}
    with store.read_only():  # a current summary in a layout this code cannot read is stale too
        for name in sorted(known & set(counts)):
            for record in store.load(results, name, kind="summary"):
                path = results / name / f"{record['config_hash']}.json"
                if path in flagged:
                    continue
                try:
                    experiments.read(record)
                except experiments.UnreadableSummary:
                    stale.append((path, "written in another summary layout than this code reads: rerun its "
                                        "experiment to rebuild it from its stored points"))
    print(f"verify {results}: {sum(sum(c.values()) for c in counts.values())} valid records")
    for name, c in counts.items():
        other = "" if name in known else "  (not an ntk-bridge experiment)"
        print(f"  {name}: {c['point']} point{'s' * (c['point'] != 1)}, "
              f"{c['summary']} summar{'y' if c['summary'] == 1 else 'ies'}{other}")
    for note in notes:
        print(f"note: {note}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if remove_stale:
        for path, _ in stale:
            path.unlink()
        print(f"verify: removed {len(stale)} stale records")
        stale = []
    for path, why in stale:
        print(f"stale: {path}: {why}", file=sys.stderr)
    if stale:
        print(f"verify: {len(stale)} stale records: rerun their experiments with this code to refresh them "
              f"(stored points of the current version are reused)", file=sys.stderr)
    print(f"verify: {len(problems)} problems, {len(stale)} stale" if problems or stale else "verify: ok")
    return 1 if problems or stale else 0


def select(results: Path, pairs: list[str]) -> int:
    """Set ``KEY=HASH`` entries of ``results/selection.json`` (each checked), then list every experiment's
    summaries, the selected one marked; 2 with one line on a malformed pair or an unknown summary."""
    from . import selection

    for pair in pairs:
        key, sep, hash_ = pair.partition("=")
        experiment, _, kind = key.partition("@")
        if not sep or not hash_ or kind not in ("", "digits") or experiment not in experiments.names():
            print(f"ntk-bridge select: error: {pair!r} is not KEY=HASH with KEY one of "
                  f"{', '.join(experiments.names())} "
                  f"(EXPERIMENT@digits for a sweep on digits)", file=sys.stderr)
            return 2
        found = [r for r in selection.candidates(results, experiment, kind == "digits") if r["config_hash"] == hash_]
        if not found:
            print(f"ntk-bridge select: error: no {key} summary {hash_} under {results / experiment} "
                  f"(run `ntk-bridge select --results {results}` to list them)", file=sys.stderr)
            return 2
        selection.select(results, found[0])
    table = selection.read(results)
    for experiment in experiments.names():
        for digits in (False, True):
            found = selection.candidates(results, experiment, digits)
            if not found:
                continue
            key = selection.key(experiment, digits)
            named = table.get(key) or (found[0]["config_hash"] if len(found) == 1 else None)
            print(f"{key}:" + ("" if named else "  (several, none selected: figures and the appendix stop)"))
            for record in found:
                print(f"  {'*' if record['config_hash'] == named else ' '} {selection.describe(record)}")
    return 0


def main(argv=None) -> int:
    """Entry point of ``ntk-bridge``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATES:  # every further argument belongs to the delegate's own parser
        name = DELEGATES[argv[0]]
        mod = _load(name)
        if mod is None:
            print(f"ntk-bridge {argv[0]}: error: {name} is not available (not installed or not written yet)",
                  file=sys.stderr)
            return 2
        return _delegate(mod, argv[1:], argv[0])
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage and the message
        return exc.code if isinstance(exc.code, int) else 2
    cmd = args.command
    results, out = _roots(args)
    if results.exists() and not results.is_dir():
        print(f"ntk-bridge {cmd}: error: --results {results} is not a directory", file=sys.stderr)
        return 2
    if cmd in ("verify", "select") and not results.exists():
        print(f"ntk-bridge {cmd}: error: results folder {results} does not exist", file=sys.stderr)
        return 2
    try:
        return _run(cmd, args, results, out)
    except OSError as exc:  # unwritable or vanished results: one line, not a traceback (bugs still raise)
        print(f"ntk-bridge {cmd}: error: {_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: what is stored and how to go on, not a traceback from inside JAX
        print(f"\nntk-bridge {cmd}: interrupted; {_stored(results, cmd)} records stored under {results}; "
              f"run the same command again to resume (stored points are reused)", file=sys.stderr)
        return 130


def _stored(results: Path, cmd: str) -> int:
    """How many record files an interrupted ``cmd`` leaves under ``results`` (its experiment's folder, or all)."""
    folders = [results / cmd] if cmd in experiments.names() else [d for d in results.glob("*") if d.is_dir()]
    return sum(len(list(f.glob("*.json"))) for f in folders if f.is_dir())


def _run(cmd: str, args, results: Path, out: Path) -> int:
    if cmd == "verify":
        status = verify(results, args.remove_stale)
        if args.manifest and results.is_dir():
            from . import atomic, selection, store

            doc = dict(store.manifest(results, experiments.algorithms()), selection=selection.read(results))
            atomic.write_text(results / "manifest.json", json.dumps(doc, indent=1) + "\n")
            print(f"manifest: {len(doc['summaries'])} summaries -> {results / 'manifest.json'}")
        return status
    if cmd == "figures":
        return _figures(results, args.out or out / "figures")
    if cmd == "select":
        return select(results, args.pairs)
    from . import executor

    try:
        ex = _make_executor(args)  # reproduce or an experiment: both run sweeps
    except (ValueError, ImportError) as exc:
        print(f"ntk-bridge {cmd}: error: {exc}", file=sys.stderr)
        return 2
    if cmd == "reproduce":
        if args.executor == "local":
            import os

            return reproduce(args.quick, results, out, None, args.jobs or max(1, min(os.cpu_count() or 1, 4)))
        return reproduce(args.quick, results, out, ex)

    overrides = {field: tuple(v) if isinstance(v, list) else v for _, field, _ in _SWEEP_OPTIONS
                 if (v := getattr(args, field, None)) is not None}
    try:
        config = experiments.configure(cmd, quick=args.quick, **overrides)
        if getattr(config, "backend", None) == "nt":
            from .spec import neural_tangents

            neural_tangents()  # the optional extra: say how to install it before any work is done
    except (ValueError, ImportError) as exc:
        print(f"ntk-bridge {cmd}: error: {exc}", file=sys.stderr)
        return 2
    with executor.use(ex):
        summary = run_experiment(cmd, config, results)
    if args.select:
        from . import selection

        print(f"{cmd}: selected {selection.select(results, summary)} = {summary['config_hash']} "
              f"in {results / selection.FILE}")
    return 0




def _one_thread() -> None:
    """Worker initializer: XLA computes on one thread (the jobs share the cores; set before JAX starts);
    Ctrl-C is left to the main process, which stops the workers and says how to resume."""
    import os
    import signal
    import threading

    from tqdm.std import tqdm

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tqdm.set_lock(threading.RLock())  # not tqdm's default process-shared lock: a stopped worker leaks none
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()


def reproduce(quick: bool, results: Path, out: Path, ex=None, jobs: int = 1) -> int:
    """Every experiment, then the figures, the fast proof checks and the appendix (if available).

    Returns the worst exit status of the steps (a missing appendix module is reported, not fatal).
    ``ex``: the executor of the experiments' sweeps (default local, ``ntk_bridge.executor``).
    ``jobs``: with the local executor, experiments run in that many worker processes at once
    (each experiment in one process, so each compiles its own programs; the records are the same).
    """
    from . import executor, selection

    start = time.perf_counter()
    summaries = []
    plan = experiments.reproduce_plan(quick)  # with one digits closeness sweep
    if jobs > 1 and ex is None:
        import multiprocessing

        # longest first (each module's QUICK_S): each free worker takes the next (largest-first scheduling)
        order = sorted(plan, key=lambda nc: -getattr(experiments.module(nc[0]), "QUICK_S", 0))
        pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_one_thread)  # JAX must not be forked
        try:
            for job in [pool.apply_async(run_experiment, (name, config, results)) for name, config in order]:
                summaries.append(job.get())  # an experiment's error ends reproduce, as in one process
        finally:  # also on Ctrl-C: the workers ignore it (one message, from main), so stop them here
            pool.terminate()
            pool.join()
    else:
        with executor.use(ex or executor.Local()):
            for name, config in plan:
                summaries.append(run_experiment(name, config, results))
    for summary in summaries:  # the reports read what this run made, whatever else the folder holds
        selection.select(results, summary)
    status = {"figures": _figures(results, out / "figures")}
    steps = {"checks": ("proofs_checks", ["--fast", "--out", str(results / "checks.json")]),
             "appendix": ("ntk_bridge.appendix", ["--results", str(results), "--out", str(out / "appendix"),
                                                  "--paper-repro", str(out / "paper_repro.md"),
                                                  *(["--figures", str(out / "figures")] if status["figures"] == 0
                                                    else [])])}
    for step, (name, argv) in steps.items():
        mod = _load(name)
        if mod is None:
            print(f"reproduce: {step} skipped: {name} is not available", file=sys.stderr)
            continue
        status[step] = _delegate(mod, argv, f"reproduce: {step}")
    print(f"reproduce: done in {time.perf_counter() - start:.0f} s; exit status per step: {status}", flush=True)
    return max(status.values())


if __name__ == "__main__":
    raise SystemExit(main())
