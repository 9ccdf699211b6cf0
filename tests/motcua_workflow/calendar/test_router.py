"""The public calendar API against real 2025–2026 Vietnamese calendars.

Each row is a hand count (see tests/motcua/calendar/test_calendar_vietnam_cases.py for the
library's own table); here they go through HTTP as a desk or citizen front end sends them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from motcua_workflow.config import Settings
from motcua_workflow.main import create_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    # The calendar routes need neither the database nor NATS: no lifespan is run.
    path = tmp_path_factory.mktemp("cal") / "workflow.db"
    return create_app(Settings(database_url=f"sqlite+aiosqlite:///{path}",
                               agency_office_hours={"000.09.17.H56": "07:30-11:30, 13:00-17:00"}))


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://workflow") as c:
        yield c


# (start, amount, unit, cutoff, expected due) — real 2025–2026 calendars.
CASES = [
    # Tết 2025: Sat 25/01–Sun 02/02 off; Fri 10:00 + 2 working days → Tue 04/02 10:00.
    ("2025-01-24T10:00:00+07:00", 2, "working_days", None, "2025-02-04T10:00:00+07:00"),
    # The same arrival sent in UTC.
    ("2025-01-24T03:00:00Z", 2, "working_days", None, "2025-02-04T10:00:00+07:00"),
    # Tết 2025 with the 15:00 cut-off: counted from Mon 03/02 07:00, due 17:00 that day.
    ("2025-01-24T15:30:00+07:00", 1, "working_days", "15:00", "2025-02-03T17:00:00+07:00"),
    # Tết 2026 (Mon 16/02–Fri 20/02): Fri 13/02 16:00 + 3 working days → Wed 25/02 16:00.
    ("2026-02-13T16:00:00+07:00", 3, "working_days", None, "2026-02-25T16:00:00+07:00"),
    # Calendar days ending in Tết 2026 move to the next working day's closing time.
    ("2026-02-11T09:00:00+07:00", 5, "calendar_days", None, "2026-02-23T17:00:00+07:00"),
    # Hùng Kings 2025 (Mon 07/04): Fri 04/04 14:00 + 8 working hours → Tue 08/04 14:00.
    ("2025-04-04T14:00:00+07:00", 8, "working_hours", None, "2025-04-08T14:00:00+07:00"),
    # Hùng Kings 2026 on Sunday, observed Monday 27/04: Fri 17:00 → Tue 28/04 17:00.
    ("2026-04-24T17:00:00+07:00", 1, "working_days", None, "2026-04-28T17:00:00+07:00"),
    # 30/4–1/5 2025 with Sat 26/04 worked: Thu 24/04 10:00 + 3 days → Mon 28/04 10:00.
    ("2025-04-24T10:00:00+07:00", 3, "working_days", None, "2025-04-28T10:00:00+07:00"),
    # Across the five-day 2025 break: Tue 29/04 09:00 + 2 days → Tue 06/05 09:00.
    ("2025-04-29T09:00:00+07:00", 2, "working_days", None, "2025-05-06T09:00:00+07:00"),
    # Calendar days ending on the working Saturday 26/04/2025.
    ("2025-04-21T09:00:00+07:00", 5, "calendar_days", None, "2025-04-26T17:00:00+07:00"),
    # 2/9 2025 (Mon 01/09 + Tue 02/09): Fri 29/08 10:00 + 2 days → Thu 04/09 10:00.
    ("2025-08-29T10:00:00+07:00", 2, "working_days", None, "2025-09-04T10:00:00+07:00"),
    # 2/9 2026 with Mon 31/08 swapped for Sat 22/08: Fri 28/08 09:00 + 2 → Fri 04/09 09:00.
    ("2026-08-28T09:00:00+07:00", 2, "working_days", None, "2026-09-04T09:00:00+07:00"),
    # The working Saturday 22/08/2026 counts: Fri 21/08 16:30 + 1 day → Sat 22/08 16:30.
    ("2026-08-21T16:30:00+07:00", 1, "working_days", None, "2026-08-22T16:30:00+07:00"),
    # Lunch arrival counts from 13:30.
    ("2025-03-12T12:15:00+07:00", 2, "working_hours", None, "2025-03-12T15:30:00+07:00"),
    # After hours on a Friday: Mon 07:00 + 1 h.
    ("2025-03-07T18:45:00+07:00", 1, "working_hours", None, "2025-03-10T08:00:00+07:00"),
    # The cut-off: 14:59 counts today, 15:00 tomorrow.
    ("2025-03-13T14:59:00+07:00", 4, "working_hours", "15:00", "2025-03-14T08:59:00+07:00"),
    ("2025-03-13T15:00:00+07:00", 4, "working_hours", "15:00", "2025-03-14T11:00:00+07:00"),
    # Calendar days ending on a Saturday → Monday's closing.
    ("2025-03-03T10:00:00+07:00", 5, "calendar_days", None, "2025-03-10T17:00:00+07:00"),
    # Vietnam Culture Day, Tue 24/11/2026.
    ("2026-11-23T17:30:00+07:00", 1, "working_days", None, "2026-11-25T17:00:00+07:00"),
    # New Year 2026.
    ("2025-12-31T16:00:00+07:00", 1, "working_days", None, "2026-01-02T16:00:00+07:00"),
]


class TestDueDate:
    @pytest.mark.parametrize(("start", "amount", "unit", "cutoff", "due"), CASES,
                             ids=[f"{c[0][:10]}-{c[1]}{c[2][0]}{'-cut' if c[3] else ''}"
                                  for c in CASES])
    async def test_matches_the_hand_count(self, client, start, amount, unit, cutoff, due):
        params = {"start": start, "amount": amount, "unit": unit}
        if cutoff:
            params["cutoff"] = cutoff
        response = await client.get("/v1/calendar/due-date", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["due_at"] == due
        assert body["explanation"]["vi"].splitlines()[-1].startswith("Hạn trả:")

    async def test_explains_every_skipped_day(self, client):
        response = await client.get("/v1/calendar/due-date", params={
            "start": "2026-02-13T16:00:00+07:00", "amount": 3, "unit": "working_days"})
        body = response.json()
        assert [d["date"] for d in body["skipped_days"]] == [
            f"2026-02-{d:02d}" for d in range(14, 23)]
        assert {d["kind"] for d in body["skipped_days"]} == {"weekend", "holiday"}
        assert body["steps"][0]["kind"] == "received"
        assert body["steps"][-1]["kind"] == "due"
        assert body["office_hours"] == "07:00-11:30, 13:30-17:00"

    async def test_uses_the_agency_office_hours(self, client):
        # 12:00 is lunch; this agency resumes at 13:00, the default at 13:30.
        params = {"start": "2025-03-10T12:00:00+07:00", "amount": 1, "unit": "working_hours"}
        own = await client.get("/v1/calendar/due-date", params={**params,
                                                                 "agency": "000.09.17.H56"})
        other = await client.get("/v1/calendar/due-date", params={**params,
                                                                   "agency": "000.01.17.H56"})
        assert own.json()["due_at"] == "2025-03-10T14:00:00+07:00"
        assert other.json()["due_at"] == "2025-03-10T14:30:00+07:00"

    @pytest.mark.parametrize(("params", "field"), [
        ({"start": "2025-03-10T09:00:00", "amount": 1, "unit": "working_days"}, "query.start"),
        ({"start": "2025-03-10T09:00:00+07:00", "amount": -1, "unit": "working_days"},
         "query.amount"),
        ({"start": "2025-03-10T09:00:00+07:00", "amount": 1, "unit": "fortnights"},
         "query.unit"),
        ({"start": "2025-03-10T09:00:00+07:00", "amount": 1, "unit": "working_days",
          "cutoff": "25:00"}, "query.cutoff"),
        ({"start": "2025-03-10T09:00:00+07:00", "amount": 1, "unit": "working_days",
          "cutoff": "3pm"}, "query.cutoff"),
        ({"start": "not a date", "amount": 1, "unit": "working_days"}, "query.start"),
        ({"amount": 1, "unit": "working_days"}, "query.start"),
        ({"start": "2025-03-10T09:00:00+07:00", "amount": 10**9, "unit": "working_days"},
         "query.amount"),
        ({"start": "2025-03-10T09:00:00+07:00", "amount": 1, "unit": "working_days",
          "agency": "bad code!"}, "query.agency"),
    ])
    async def test_refuses_invalid_input_as_problem_json(self, client, params, field):
        response = await client.get("/v1/calendar/due-date", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "request.validation_failed"
        assert field in [e["field"] for e in body["errors"]]


class TestWorkingTimeAndDaysOff:
    async def test_working_time_skips_tet(self, client):
        response = await client.get("/v1/calendar/working-time", params={
            "start": "2026-02-13T16:00:00+07:00", "end": "2026-02-23T09:00:00+07:00"})
        assert response.status_code == 200
        assert response.json()["working_minutes"] == 180

    async def test_days_off_name_the_holidays(self, client):
        response = await client.get("/v1/calendar/days-off",
                                    params={"first": "2025-04-26", "last": "2025-05-04"})
        body = response.json()
        assert body["working_days"] == 3  # Sat 26/04 (make-up), Mon 28, Tue 29
        assert [d["date"] for d in body["days_off"]][:2] == ["2025-04-27", "2025-04-30"]

    async def test_refuses_an_inverted_range(self, client):
        response = await client.get("/v1/calendar/days-off",
                                    params={"first": "2025-05-04", "last": "2025-04-26"})
        assert response.status_code == 422
        assert response.json()["code"] == "calendar.range_invalid"


class TestDeploymentOverrides:
    async def test_the_overrides_file_changes_the_api(self, tmp_path):
        overrides = tmp_path / "calendar-overrides.toml"
        overrides.write_text('[[day_off]]\ndate = 2026-02-13\n'
                             'reason = "Thông báo 12/TB-UBND: nghỉ thêm trước Tết"\n')
        app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
                                  calendar_overrides_path=overrides))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://workflow") as client:
            response = await client.get("/v1/calendar/due-date", params={
                "start": "2026-02-12T16:00:00+07:00", "amount": 2, "unit": "working_hours"})
        body = response.json()
        # Thu 12/02 16:00–17:00 is 1 h; Fri 13/02 is now off, then Tết: Mon 23/02 08:00.
        assert body["due_at"] == "2026-02-23T08:00:00+07:00"
        assert body["skipped_days"][0]["kind"] == "override"
        assert "12/TB-UBND" in body["skipped_days"][0]["reason_vi"]
