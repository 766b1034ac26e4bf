"""ntk_bridge: MTL and gradient-based meta-learning in the NTK regime, closed form and finite width."""
import importlib

from . import conditioning, kernels, methods, metrics, predict, probe, tasks
from .methods import Method
from .predict import Adaptation
from .spec import ConvSpec, MLPSpec
from .tasks import TaskSet

__all__ = ["Adaptation", "ConvSpec", "MLPSpec", "Method", "TaskSet", "conditioning", "experiments", "finite", "kernels",
           "methods", "metrics", "probe", "predict", "store", "tasks"]
__version__ = "0.1.0"
_LAZY = ("experiments", "finite", "store")  # import JAX/optax only when used


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ntk_bridge' has no attribute {name!r}")
