"""How the `motcua` command runs payments."""

from motcua.registry import ServiceSpec
from motcua_payments import migrations_dir
from motcua_payments.config import Settings
from motcua_payments.main import create_app

SERVICE = ServiceSpec("payments", Settings, create_app, migrations_dir())
