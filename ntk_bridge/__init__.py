"""ntk_bridge: MTL and gradient-based meta-learning in the NTK regime, closed form and finite width."""
from . import kernels, metrics, tasks
from .spec import MLPSpec
from .tasks import TaskSet

__all__ = ["MLPSpec", "TaskSet", "kernels", "metrics", "tasks"]
__version__ = "0.1.0"
