"""Declarative base of workflow (its own metadata: each service owns its database)."""

from motcua.db import NAMING
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
