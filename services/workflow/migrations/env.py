"""Alembic environment for workflow (run through `motcua migrate`)."""

from motcua.migrate import run_env
from motcua_workflow.db import Base
from motcua_workflow.models import load_all

load_all()
run_env(Base.metadata)
