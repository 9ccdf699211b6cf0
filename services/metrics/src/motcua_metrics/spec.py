"""How the `motcua` command runs metrics."""

from motcua.registry import ServiceSpec
from motcua_metrics import migrations_dir
from motcua_metrics.config import Settings
from motcua_metrics.main import create_app
from motcua_metrics.rebuild import main as rebuild_main

#: Commands the kit's CLI dispatches as ``motcua metrics <task> [args]`` (argv → exit code).
TASKS = {"rebuild": rebuild_main}

SERVICE = ServiceSpec("metrics", Settings, create_app, migrations_dir(), tasks=TASKS)
