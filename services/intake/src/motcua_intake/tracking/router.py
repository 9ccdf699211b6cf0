"""Public tracking: ``GET /v1/tracking/{code}?factor=`` (JSON) and ``/tracking`` (a page).

Both are public and rate-limited (see ``tracking/ratelimit.py``). The page posts its
form so the second factor never lands in URLs, browser history or access logs; the QR
code on the printed slips opens it with the code filled in.
"""

from __future__ import annotations

import math
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from motcua.auth import PUBLIC
from motcua.calendar import TIMEZONE
from motcua.errors import problems
from motcua.service import SessionDep
from motcua_intake.tracking import service
from motcua_intake.tracking.service import TrackingNotFound, TrackingRateLimited, TrackingView

router = APIRouter(tags=["tracking"])

Factor = Annotated[str, Query(pattern=r"^\d{4}$", description="Last 4 digits of the "
                                                             "applicant's ID number or phone")]


def _client(request: Request) -> str:
    # Behind an ingress the peer is the proxy; deployments put the limit at the ingress
    # or run intake with uvicorn --proxy-headers so this is the real client.
    return request.client.host if request.client else "unknown"


def _limit(request: Request, code: str) -> None:
    """Raise TrackingRateLimited when the client or the code is over its limit."""
    limits = request.app.state.tracking_limits
    wait = max(limits["ip"].take(_client(request)), limits["code"].locked(code))
    if wait > 0:
        raise TrackingRateLimited(f"retry in {math.ceil(wait)} s",
                                  retry_after=max(1, math.ceil(wait)))


async def _lookup(request: Request, session, code: str, factor: str) -> TrackingView:
    _limit(request, code)
    found = await service.view(session, code, factor)
    lock = request.app.state.tracking_limits["code"]
    if found is None:
        lock.fail(code)
        raise TrackingNotFound("check the dossier code and the last four digits")
    lock.succeed(code)
    return found


@router.get("/v1/tracking/{code}", operation_id="trackDossier", dependencies=[PUBLIC],
            responses=problems(TrackingNotFound, TrackingRateLimited))
async def track_dossier(request: Request, session: SessionDep,
                        code: Annotated[str, Path(max_length=60)],
                        factor: Factor) -> TrackingView:
    """A dossier's statuses, appointment and what is awaited. Public, rate-limited."""
    return await _lookup(request, session, code, factor)


@router.get("/tracking", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[PUBLIC])
async def tracking_page(code: Annotated[str, Query(max_length=60)] = "") -> HTMLResponse:
    """The citizen's tracking page (form). Public."""
    return HTMLResponse(_page(code=code))


@router.post("/tracking", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[PUBLIC])
async def tracking_result(request: Request, session: SessionDep,
                          code: Annotated[str, Form(max_length=60)],
                          factor: Annotated[str, Form(max_length=10)]) -> HTMLResponse:
    """The citizen's tracking page with the result. Public, rate-limited."""
    if not (len(factor) == 4 and factor.isdigit()):
        return HTMLResponse(_page(code=code, error="Nhập đúng 4 chữ số cuối. / "
                                  "Enter exactly four digits."), status_code=422)
    try:
        found = await _lookup(request, session, code.strip(), factor)
    except TrackingRateLimited as exc:
        return HTMLResponse(_page(code=code, error="Quá nhiều lượt tra cứu, vui lòng thử lại "
                                  "sau. / Too many attempts, try again later."),
                            status_code=429,
                            headers={"Retry-After": str(exc.extra["retry_after"])})
    except TrackingNotFound:
        return HTMLResponse(_page(code=code, error="Không tìm thấy hồ sơ với mã và 4 chữ số "
                                  "này. / No dossier matches this code and these digits."),
                            status_code=404)
    return HTMLResponse(_page(code=code, view=found))


def _when(at) -> str:  # type: ignore[no-untyped-def]
    return f"{at.astimezone(TIMEZONE):%H:%M %d/%m/%Y}" if at else "—"


def _page(*, code: str = "", error: str | None = None, view: TrackingView | None = None) -> str:
    parts = [f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tra cứu hồ sơ / Track a dossier</title>
<style>
body{{font-family:system-ui,"Noto Sans",sans-serif;max-width:42rem;margin:2rem auto;
padding:0 1rem;color:#1a1a1a;line-height:1.5}}
label{{display:block;margin-top:.8rem;font-weight:600}}
input{{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}}
button{{margin-top:1rem;font-size:1rem;padding:.5rem 1.2rem}}
.error{{background:#fde8e8;padding:.6rem;border-left:4px solid #c00}}
.status{{font-size:1.2rem;font-weight:700}} li{{margin:.3rem 0}} small{{color:#555}}
</style></head><body>
<h1>Tra cứu tình trạng hồ sơ <small>/ Track a dossier</small></h1>
<form method="post" action="/tracking">
<label for="code">Mã hồ sơ / Dossier code</label>
<input id="code" name="code" required maxlength="60" value="{escape(code)}">
<label for="factor">4 chữ số cuối của số định danh hoặc số điện thoại /
last 4 digits of the ID number or phone</label>
<input id="factor" name="factor" required inputmode="numeric" pattern="[0-9]{{4}}"
maxlength="4" autocomplete="off">
<button type="submit">Tra cứu / Track</button>
</form>"""]
    if error:
        parts.append(f'<p class="error" role="alert">{escape(error)}</p>')
    if view:
        parts.append(f"""<h2>{escape(view.code)}</h2>
<p>{escape(view.procedure_name_vi)}<br><small>{escape(view.procedure_name_en or "")}</small></p>
<p class="status">{escape(view.status_label_vi)} <small>/ {escape(view.status_label_en)}</small></p>
<p>Ngày nộp / Submitted: {_when(view.submitted_at)}<br>
Ngày tiếp nhận / Received: {_when(view.received_at)}<br>
Ngày hẹn trả / Appointment: <strong>{_when(view.due_at)}</strong></p>""")
        if view.awaited:
            parts.append("<h3>Cần thực hiện / What you need to do</h3><ul>")
            parts += [f"<li>{escape(a.text_vi)}<br><small>{escape(a.text_en)}</small></li>"
                      for a in view.awaited]
            parts.append("</ul>")
        parts.append("<h3>Quá trình / Timeline</h3><ol>")
        for t in view.timeline:
            note = f"<br>{escape(t.note_vi)}" if t.note_vi and t.note_vi != t.label_vi else ""
            parts.append(f"<li>{_when(t.at)} — {escape(t.label_vi)} "
                         f"<small>/ {escape(t.label_en)}</small>{note}</li>")
        parts.append("</ol>")
    parts.append("</body></html>")
    return "\n".join(parts)
