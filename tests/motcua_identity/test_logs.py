"""No personal ID number is ever handed to a logger by identity-bridge.

The kit's log processor masks digit runs as a backstop; this checks the source: every
logger of identity-bridge and motcua.auth is replaced by a recorder while a sign-in,
lookups (found, missing, invalid, refused) and data-store calls run.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest

import motcua_identity
from motcua.testing import Mesh
from tests.motcua_identity.conftest import PID_AN, PID_BINH
from tests.motcua_identity.helpers import bearer, service_token, sign_in, start_identity
from tests.motcua_identity.test_documents import document
from tests.motcua_identity.test_results import completed, envelope, handled, publish


class Recorder:
    """Stands in for a structlog logger and keeps every call."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __getattr__(self, level: str) -> Any:
        def log(event: str = "", *args: Any, **fields: Any) -> Recorder:
            self.lines.append(f"{level} {event} {args!r} {fields!r}")
            return self
        return log


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    modules = ["motcua.auth"] + [
        m.name for m in pkgutil.walk_packages(motcua_identity.__path__, "motcua_identity.")]
    for name in modules:
        module = importlib.import_module(name)
        if hasattr(module, "log"):
            monkeypatch.setattr(module, "log", rec)
    return rec


async def test_no_personal_id_reaches_a_logger(mesh: Mesh, provider, recorder) -> None:
    bridge = await start_identity(mesh, provider, population_rate_limit=4)
    citizen = (await sign_in(bridge, "vneid-an")).json()["access_token"]
    assert (await sign_in(bridge, "vneid-binh", min_assurance=2)).status_code == 403
    intake = await service_token(bridge, "intake")
    for pid in (PID_AN, PID_BINH, "001203004567", "999095001234", PID_AN, PID_AN):
        await bridge.client.post("/v1/population/lookups", headers=bearer(intake),
                                 json={"personal_id": pid, "purpose": "prefill"})
    agency = f"000.01.17.{mesh.province}"
    stored = await bridge.client.post("/v1/documents", headers=bearer(intake),
                                      json=document(agency))
    await bridge.client.post(f"/v1/documents/{stored.json()['id']}/reuses",
                             headers=bearer(citizen),
                             json={"dossier_code": f"{agency}-261122-0001"})
    await bridge.client.get("/v1/documents", headers=bearer(citizen),
                            params={"owner_personal_id": PID_BINH})
    # Results filed from workflow's events (and one that cannot be filed).
    await publish(mesh, envelope(mesh, completed(mesh, bridge)),
                  envelope(mesh, completed(mesh, bridge, pid=None,
                                           dossier=f"{agency}-261118-0043")))
    await handled(bridge, 2)
    await bridge.client.get("/v1/me/documents", headers=bearer(citizen))
    assert any("case_result_filed" in line for line in recorder.lines)
    assert any("case_result_not_filed" in line for line in recorder.lines)
    assert any("population_lookup" in line for line in recorder.lines)
    assert any("citizen_signed_in" in line for line in recorder.lines)
    for line in recorder.lines:
        for pid in (PID_AN, PID_BINH, "001203004567", "999095001234"):
            assert pid not in line, line
