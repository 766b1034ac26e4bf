"""Compiled programs against the per-process mapping limit (ntk_bridge.code_maps).

The one-process test suite on jax 0.10.2 died with a segmentation fault in XLA's
``backend_compile_and_load`` at 65,131 memory mappings (``vm.max_map_count`` = 65,530): every
compiled program keeps its code in mappings of its own and JAX never drops a program.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import code_maps

needs_proc = pytest.mark.skipif(code_maps.mapping_count() is None or code_maps.mapping_limit() is None,
                                reason="needs /proc/self/maps and /proc/sys/vm/max_map_count (Linux)")


def _fit(width, seed=0):
    train = nb.tasks.make("shared-feature", 3, n_support=2, n_query=2, dim=4, seed=0)
    test = nb.tasks.make("shared-feature", 2, n_support=2, n_query=2, dim=4, seed=1)
    return nb.finite.fit_predict(nb.MLPSpec(depth=1, width=width), train, test, method="mtl-shared",
                                 adapt=nb.Adaptation(lr=0.1, steps=2), seed=seed, outer_steps=50)


@needs_proc
def test_counts_are_read():
    assert code_maps.mapping_count() > 10
    assert code_maps.mapping_limit() > 1000


@needs_proc
def test_headroom_clears_compiled_programs_and_results_do_not_change(monkeypatch):
    before = _fit(20)
    held = code_maps.mapping_count()
    assert not code_maps.ensure_headroom()            # far below half the real limit
    # a limit whose half is what the process holds now: the next check must clear
    monkeypatch.setattr(code_maps, "mapping_limit", lambda: int(held / code_maps.FRACTION) - 1)
    cleared = code_maps.times_cleared()
    assert code_maps.ensure_headroom()
    assert code_maps.times_cleared() == cleared + 1
    assert code_maps.mapping_count() < held           # the compiled programs' mappings were released
    monkeypatch.undo()
    np.testing.assert_array_equal(_fit(20), before)   # recompiled, the same numbers


@needs_proc
def test_every_fit_checks_headroom(monkeypatch):
    calls = []
    monkeypatch.setattr(code_maps, "ensure_headroom", lambda *a, **k: calls.append(1) or False)
    _fit(20)
    assert calls


@pytest.mark.slow
@needs_proc
def test_many_shapes_in_one_process_stay_below_the_limit():
    """Replays what crashed: nets of many shapes trained in one process, more mappings than the limit in all.

    The child trains MAML and MTL nets of new widths until the mappings its fits added (summed as if
    never released) exceed ``vm.max_map_count``; without ``ensure_headroom`` it would have died.  Where
    a fit adds too few mappings to reach the limit in 60 fits (jaxlib 0.4.30), it stops and says so.
    """
    script = textwrap.dedent("""
        import ntk_bridge as nb
        from ntk_bridge import code_maps
        limit, added, width, fits = code_maps.mapping_limit(), 0, 8, 0
        train = nb.tasks.make("shared-feature", 3, n_support=2, n_query=2, dim=4, seed=0)
        test = nb.tasks.make("shared-feature", 2, n_support=2, n_query=2, dim=4, seed=1)
        while added <= limit and fits < 60:
            for method in ("maml", "mtl-shared"):
                before = code_maps.mapping_count()
                nb.finite.fit_predict(nb.MLPSpec(depth=2, width=width), train, test, method=method,
                                      adapt=nb.Adaptation(lr=0.1, steps=2), outer_steps=20)
                added += max(code_maps.mapping_count() - before, 0)
                fits += 1
            width += 1
            if fits == 4 and added * 15 < limit:   # 60 fits would not reach it
                break
        print(added, limit, code_maps.times_cleared(), code_maps.mapping_count())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=3000)
    assert out.returncode == 0, out.stderr[-2000:]
    added, limit, cleared, held = map(int, out.stdout.split()[-4:])
    if added <= limit:
        pytest.skip(f"this JAX adds few mappings per program ({added} in all): the limit was never in reach")
    assert cleared >= 1 and held < limit
