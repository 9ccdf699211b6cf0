"""How the `motcua` command runs identity-bridge."""

from motcua.registry import ServiceSpec
from motcua_identity import migrations_dir
from motcua_identity.config import Settings
from motcua_identity.main import create_app
from motcua_identity.sample import seed

#: ``seed`` adds the sample officers of the sample agencies (development only).
SERVICE = ServiceSpec("identity-bridge", Settings, create_app, migrations_dir(), seed=seed)
