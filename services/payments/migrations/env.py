"""Alembic environment for payments (run through `motcua migrate`)."""

from motcua.migrate import run_env
from motcua_payments.db import Base
from motcua_payments.models import load_all

load_all()
run_env(Base.metadata)
