"""Intake's declarative base (its own metadata: intake owns its database)."""

from motcua.db import NAMING
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
