"""How the `motcua` command runs metrics."""

from motcua.registry import ServiceSpec

from motcua_metrics import migrations_dir
from motcua_metrics.config import Settings
from motcua_metrics.main import create_app

SERVICE = ServiceSpec("metrics", Settings, create_app, migrations_dir())
