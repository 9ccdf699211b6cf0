"""Alembic environment for metrics (run through `motcua migrate`)."""

from motcua.migrate import run_env
from motcua_metrics.db import Base
from motcua_metrics.models import load_all

load_all()
run_env(Base.metadata)
