"""How the `motcua` command runs intake."""

from motcua.registry import ServiceSpec
from motcua_intake import migrations_dir
from motcua_intake.catalog.sample import seed
from motcua_intake.config import Settings
from motcua_intake.main import create_app

SERVICE = ServiceSpec("intake", Settings, create_app, migrations_dir(), seed)
