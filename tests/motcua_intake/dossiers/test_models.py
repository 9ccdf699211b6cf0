"""The one-stop rules as model methods (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from motcua_intake.dossiers.errors import DossierAlreadyRated, DossierWrongStatus
from motcua_intake.dossiers.models import Dossier

NOW = datetime(2026, 11, 23, 3, tzinfo=UTC)


def dossier(status: int = 1) -> Dossier:
    return Dossier(code="X-261123-0001", status=status, version=1, case_sequence=0,
                   supplement_count=0)


class TestDossier:
    def test_receive_only_once_and_only_when_submitted(self) -> None:
        d = dossier()
        d.receive(at=NOW, due_at=NOW, statutory_time={}, explanation={}, by=None)
        assert (d.status, d.version) == (2, 2)
        with pytest.raises(DossierWrongStatus):
            d.receive(at=NOW, due_at=NOW, statutory_time={}, explanation={}, by=None)
        with pytest.raises(DossierWrongStatus):
            d.refuse(["x"], at=NOW, by=None)

    @pytest.mark.parametrize("status", [3, 7, 8, 9, 10])
    def test_cannot_withdraw_a_closed_dossier(self, status: int) -> None:
        with pytest.raises(DossierWrongStatus):
            dossier(status).withdraw(None, at=NOW)

    def test_rate_once_after_the_result(self) -> None:
        with pytest.raises(DossierWrongStatus):
            dossier(4).rate(5, complaint=False, comment=None, at=NOW)
        d = dossier(10)
        d.rate(5, complaint=False, comment=None, at=NOW)
        with pytest.raises(DossierAlreadyRated):
            d.rate(1, complaint=True, comment=None, at=NOW)

    def test_mirror_ignores_stale_foreign_and_final(self) -> None:
        d = dossier(2)
        assert d.mirror_case(3, at=NOW, status=5, awaited=[])
        assert not d.mirror_case(2, at=NOW, status=4)  # older case version
        assert not d.mirror_case(3, at=NOW, status=2)  # intake's own status
        assert d.mirror_case(3, at=NOW, awaited=[{"kind": "supplement"}])  # same version
        assert d.status == 5
        d.supplement(at=NOW)
        assert d.status == 4 and d.supplement_count == 1
        assert d.mirror_case(4, at=NOW, due_at=NOW)  # the ledger moved the appointment
        d.withdraw(None, at=NOW)
        assert not d.mirror_case(10, at=NOW, status=9)  # withdrawn stays withdrawn
        assert not dossier(1).mirror_case(1, at=NOW, status=4)  # not received yet
