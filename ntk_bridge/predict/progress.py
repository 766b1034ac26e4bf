"""Progress of a long closed form: one line on stderr per stage, once it has run ``AFTER_S`` seconds.

A closed form spends its time in a few stages (blocked assembly, test rows, one LAPACK
factorization that reports nothing while it runs), so a bar would stand still; instead::

    ntk_bridge.predict: meta-NTK Phi (maml, split='disjoint'), 4500 x 4500: Cholesky factorization (3.0 s)
    ntk_bridge.predict: meta-NTK Phi (maml, split='disjoint'), 4500 x 4500: done in 7.4 s

Nothing is printed for a computation that ends within ``AFTER_S`` seconds.  A watcher thread
prints the stage running when ``AFTER_S`` is reached; every later stage is printed as it starts.
"""
from __future__ import annotations

import sys
import threading
import time

AFTER_S = 3.0   # seconds of silence before the first line (read at each use: a test sets it to 0)


class Progress:
    """Context manager reporting the stages of one computation ``what`` on stderr, once it is long.

    ``stage(name)`` marks the start of the next stage; the first is named at construction.
    """

    def __init__(self, what: str, first_stage: str):
        self._what, self._start, self._after = what, time.perf_counter(), AFTER_S
        self._lock, self._done = threading.Lock(), threading.Event()
        self._stage, self._reporting = first_stage, False
        self.stage(first_stage)
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._done.set()
        self._watcher.join()
        with self._lock:
            if self._reporting:
                self._print("done" if exc_type is None else f"stopped ({exc_type.__name__})")

    def stage(self, name: str) -> None:
        """Start stage ``name``; printed now if the computation has already run ``AFTER_S`` seconds."""
        with self._lock:
            self._stage = name
            if self._reporting or time.perf_counter() - self._start >= self._after:
                self._reporting = True
                self._print(name)

    def _watch(self) -> None:
        if self._done.wait(self._after):
            return
        with self._lock:
            if not self._reporting:
                self._reporting = True
                self._print(self._stage)

    def _print(self, what: str) -> None:
        elapsed = time.perf_counter() - self._start
        note = f"in {elapsed:.1f} s" if what == "done" else f"({elapsed:.1f} s)"
        print(f"ntk_bridge.predict: {self._what}: {what} {note}", file=sys.stderr, flush=True)
