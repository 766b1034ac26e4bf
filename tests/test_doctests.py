"""The examples in the public docstrings (``>>>`` lines) run and print what they say.

The API reference (docs/api/, generated from these docstrings) shows the same examples, so a
failing one here is documentation that no longer matches the code.  Every module listed must hold
at least one example, so a module whose examples were removed is noticed too.
"""
import doctest
import importlib

import pytest

MODULES = (
    "ntk_bridge.predict.method_level",
    "ntk_bridge.predict.spec_level",
    "ntk_bridge.predict.meta_learning",
    "ntk_bridge.predict.multi_task",
    "ntk_bridge.predict.inner_loop",
    "ntk_bridge.tasks",
    "ntk_bridge.metrics",
    "ntk_bridge.methods",
    "ntk_bridge.spec",
    "ntk_bridge.kernels",
    "ntk_bridge.finite.fit",
    "ntk_bridge.finite.movement",
    "ntk_bridge.store",
    "ntk_bridge.probe",
    "ntk_bridge.experiments",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False,
                             report=True)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (printed above)"
