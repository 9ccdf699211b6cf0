"""Declarative base of payments (its own metadata: each service owns its database)."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from motcua.db import NAMING


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
