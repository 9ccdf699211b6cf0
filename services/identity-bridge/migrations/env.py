"""Alembic environment for identity-bridge (run through `motcua migrate`)."""

from motcua.migrate import run_env
from motcua_identity.db import Base
from motcua_identity.models import load_all

load_all()
run_env(Base.metadata)
