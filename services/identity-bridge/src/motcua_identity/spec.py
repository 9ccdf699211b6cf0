"""How the `motcua` command runs identity-bridge."""

from motcua.registry import ServiceSpec
from motcua_identity import migrations_dir
from motcua_identity.config import Settings
from motcua_identity.main import create_app

SERVICE = ServiceSpec("identity-bridge", Settings, create_app, migrations_dir())
