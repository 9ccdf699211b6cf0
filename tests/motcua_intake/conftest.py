"""Fixtures of intake's tests (the mesh fixtures come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from motcua.testing import Mesh, RunningService
from tests.motcua_intake.helpers import start_intake


@pytest.fixture
async def intake(mesh: Mesh, tmp_path: Path) -> RunningService:
    """A seeded intake (SQLite and PostgreSQL) with a small attachment limit."""
    return await start_intake(mesh, attachment_max_bytes=64 * 1024,
                              attachment_dir=str(tmp_path / "attachments"))
