"""Motcua intake: procedure catalog and dossiers from submission to reception."""

from pathlib import Path


def migrations_dir() -> Path:
    """This service's Alembic scripts (inside the package when installed as a wheel)."""
    inside = Path(__file__).parent / "migrations"
    return inside if inside.exists() else Path(__file__).resolve().parents[2] / "migrations"
