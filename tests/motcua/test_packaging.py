"""The services as wheels, as the container image and ``pip install`` get them (not the
editable install the tests run from): each carries its Alembic scripts inside its
package, where its ``migrations_dir()`` finds them, so ``motcua migrate`` works there.

Before, the scripts stayed beside the package in the source tree, and an image built
from ``deploy/Containerfile`` failed at ``motcua migrate`` ("Path doesn't exist").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[2]
#: Workspace member → its package.
SERVICES = {"intake": "motcua_intake", "workflow": "motcua_workflow",
            "payments": "motcua_payments", "identity-bridge": "motcua_identity",
            "metrics": "motcua_metrics"}


def _head(migrations: Path) -> str | None:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    return ScriptDirectory.from_config(config).get_current_head()


def test_every_wheel_carries_the_migrations_where_the_service_looks(
        tmp_path: Path) -> None:
    """One test building every wheel (a fixture per module would build them once per
    xdist worker)."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        pytest.skip("needs uv (the README's test command runs the tests through it)")
    wheels, site = tmp_path / "wheels", tmp_path / "site-packages"
    for service in SERVICES:
        subprocess.run([uv, "build", "--wheel", "--package", f"motcua-{service}",
                        "--out-dir", str(wheels), "--quiet"], cwd=ROOT, check=True,
                       timeout=300)
    built = sorted(wheels.glob("*.whl"))
    assert len(built) == len(SERVICES), built
    for wheel in built:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    for service, package in SERVICES.items():
        source = ROOT / "services" / service / "migrations"
        scripts = sorted(p.relative_to(source) for p in source.rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts)
        inside = site / package / "migrations"
        assert scripts and sorted(p.relative_to(inside) for p in inside.rglob("*")
                                  if p.is_file()) == scripts, service
        # The unpacked package, imported on its own, names that directory.
        found = subprocess.run(
            [sys.executable, "-c", f"import {package}; print({package}.migrations_dir())"],
            env={**os.environ, "PYTHONPATH": str(site)}, cwd=site,
            capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        assert Path(found) == inside, service
        assert _head(inside) == _head(source) is not None, service
