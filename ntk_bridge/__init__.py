"""ntk_bridge: MTL and gradient-based meta-learning in the NTK regime, closed form and finite width."""
from . import kernels, metrics, predict, tasks
from .predict import Adaptation
from .spec import MLPSpec
from .tasks import TaskSet

__all__ = ["Adaptation", "MLPSpec", "TaskSet", "kernels", "metrics", "predict", "tasks"]
__version__ = "0.1.0"
