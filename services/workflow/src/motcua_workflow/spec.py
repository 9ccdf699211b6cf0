"""How the `motcua` command runs workflow."""

from motcua.registry import ServiceSpec

from motcua_workflow import migrations_dir
from motcua_workflow.config import Settings
from motcua_workflow.main import create_app

SERVICE = ServiceSpec("workflow", Settings, create_app, migrations_dir())
