"""Alembic environment for intake (run through `motcua migrate`)."""

from motcua.migrate import run_env
from motcua_intake.db import Base
from motcua_intake.models import load_all

load_all()
run_env(Base.metadata)
