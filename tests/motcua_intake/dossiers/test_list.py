"""Officer lists: filters, sorting and cursor pagination on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from motcua.db import utcnow
from motcua.testing import Mesh
from motcua_intake.dossiers.models import Dossier
from tests.e2e.helpers import dossier_body
from tests.motcua_intake.helpers import act, centre, commune, desk, problem, staff, submit, ward


async def _codes(intake, who, **params) -> list[str]:  # type: ignore[no-untyped-def]
    r = await intake.client.get("/v1/dossiers", params=params, headers=who)
    assert r.status_code == 200, r.text
    return [d["code"] for d in r.json()["items"]]


class TestOfficerList:
    async def test_filters_sorting_and_pages(self, mesh: Mesh, intake) -> None:
        paper = [{"component_code": c, "source": "paper"}
                 for c in ("to_khai_khai_sinh", "giay_chung_sinh", "giay_to_tuy_than")]
        a = (await submit(intake, dossier_body(ward(mesh)), desk(mesh)))["code"]
        b = (await submit(intake, dossier_body(ward(mesh), receive_now=True),
                          desk(mesh)))["code"]
        c = (await submit(intake, dossier_body(commune(mesh), channel="postal",
                                               reception_point=centre(mesh),
                                               documents=paper), desk(mesh, centre(mesh))))["code"]
        d = (await submit(intake, dossier_body(commune(mesh), receive_now=True,
                                               reception_point=commune(mesh)),
                          desk(mesh, commune(mesh))))["code"]
        await act(intake, a, "refusal", {"reasons": ["Thiếu giấy tờ"]}, who=desk(mesh))

        who = staff(mesh)  # an officer of all three sample agencies
        assert await _codes(intake, who) == [d, c, b, a]  # newest first by default
        assert await _codes(intake, who, sort="submitted_at") == [a, b, c, d]
        assert await _codes(intake, who, status=[2]) == [d, b]
        assert await _codes(intake, who, status=[1, 3], sort="code") == sorted([a, c])
        assert await _codes(intake, who, channel="postal") == [c]
        assert await _codes(intake, who, agency=centre(mesh)) == [c]  # as reception point
        assert await _codes(intake, who, agency=commune(mesh)) == [d, c]
        assert await _codes(intake, who, procedure="1.004222") == []
        now = utcnow()
        assert await _codes(intake, who,
                            submitted_from=(now - timedelta(hours=1)).isoformat(),
                            submitted_to=(now + timedelta(hours=1)).isoformat()) == [d, c, b, a]
        assert await _codes(intake, who,
                            submitted_from=(now + timedelta(hours=1)).isoformat()) == []

        # due_at: received ones by appointment, the rest after them
        by_due = await _codes(intake, who, sort="due_at")
        assert set(by_due[:2]) == {b, d} and set(by_due[2:]) == {a, c}
        assert set((await _codes(intake, who, sort="-due_at"))[:2]) == {b, d}

        # cursor pages add up to the whole list, in order, for every sort
        for sort in ("-submitted_at", "submitted_at", "due_at", "-due_at", "code", "-code"):
            whole = await _codes(intake, who, sort=sort)
            paged, cursor = [], None
            while True:
                params = {"sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
                page = (await intake.client.get("/v1/dossiers", params=params,
                                                headers=who)).json()
                paged += [x["code"] for x in page["items"]]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            assert paged == whole, sort

        # overdue and due soon look at open dossiers' appointments
        async with intake.runtime.sessions() as session, session.begin():
            await session.execute(update(Dossier).where(Dossier.code == b)
                                  .values(due_at=now - timedelta(hours=2)))
            await session.execute(update(Dossier).where(Dossier.code == d)
                                  .values(due_at=now + timedelta(hours=3)))
        assert await _codes(intake, who, overdue="true") == [b]
        assert await _codes(intake, who, due_soon="true") == [d, b]

    async def test_bad_list_parameters(self, mesh: Mesh, intake) -> None:
        who = staff(mesh)
        for params, field in (({"sort": "name"}, "query.sort"),
                              ({"limit": 0}, "query.limit"),
                              ({"status": 11}, "query.status"),
                              ({"submitted_from": "2026-01-01T00:00:00"}, "query.submitted_from"),
                              ({"channel": "fax"}, "query.channel.0")):
            body = problem(await intake.client.get("/v1/dossiers", params=params, headers=who),
                           422, "request.validation_failed")
            assert body["errors"][0]["field"] == field, params
        problem(await intake.client.get("/v1/dossiers", params={"cursor": "bm9wZQ"},
                                        headers=who), 422, "pagination.cursor_invalid")
