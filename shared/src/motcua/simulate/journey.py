"""The life of one simulated dossier, played by the people involved.

The applicant (a signed-in citizen) or a receptionist submits; a receptionist receives
or refuses; whoever pays waits until the dossier asks for payment, then pays online at
the gateway or at the counter; then the case moves along its process definition, one
task at a time: the journey waits for the task in the inbox of the agency holding the
case, signs in as the officer with the task's role there, claims the task, reads the
case and its step, and does what the story says among the actions the step allows
(forward / approve / sign / send back / request a supplement / transfer / refuse /
complete / return the result; acknowledge a transfer). Supplement requests are answered
by the citizen online or at the desk; a late case gets the apology and extension.
Finally the citizen rates the service.

Waiting is polling of reads that always exist (the dossier in intake, the agency's
inbox), so no request fails because an event has not arrived yet.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from motcua.simulate.catalog import Agency
from motcua.simulate.documents import sha256, tiny_pdf
from motcua.simulate.http import BROWSER, Api, ApiError, new_key
from motcua.simulate.inbox import Inboxes, WaitTimeout
from motcua.simulate.people import SignIn
from motcua.simulate.plan import Plan

#: Case statuses in which officers wait rather than act.
PAYMENT = 6
SUPPLEMENT = 5
FINISHED = 9
RETURNED = 10
CLOSED = (3, 7, 8, 10)
_RETURN_CHANNEL = {"desk": "direct", "postal": "postal", "online": "online"}


@dataclass
class World:
    """What every journey shares."""

    api: Api
    signin: SignIn
    inboxes: Inboxes
    agencies: dict[str, Agency]
    wait_timeout_s: float
    poll_s: float
    #: How long a payer waits for the dossier to ask for payment (status 6) before
    #: reading the assessment anyway.
    hold_wait_s: float = 30.0
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    features: Counter[str] = field(default_factory=Counter)
    definitions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)


class JourneyFailed(Exception):
    """The story could not be played to its end."""


class Journey:
    """One dossier from submission to its end."""

    def __init__(self, world: World, plan: Plan) -> None:
        self.world = world
        self.plan = plan
        self.api = world.api
        self.code: str | None = None
        #: The story actually played to its end (None until then, or on failure).
        self.outcome: str | None = None
        self.error: str | None = None
        self.stage = "planned"
        self.correlation = str(uuid.uuid4())
        self.holder = plan.agency_code
        self.handled: set[str] = set()
        self.supplements_left = plan.supplements
        self.transfer_pending = plan.transfer_to is not None
        self.extension_pending = plan.outcome == "extended"
        self.send_back_pending = plan.send_back
        self.paid = plan.due_before == 0
        self.handed_over = False
        self.seconds = 0.0
        #: The dossier as intake shows it after the run (status, channel).
        self.final: dict[str, Any] | None = None

    # -- plumbing --------------------------------------------------------------------

    async def _call(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("dossier", self.code)
        kwargs.setdefault("correlation", self.correlation)
        if method == "POST" and service != BROWSER and "key" not in kwargs:
            kwargs["key"] = new_key()
        return await self.api.call(service, method, path, **kwargs)

    async def _json(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        return (await self._call(service, method, path, **kwargs)).json()

    def _feature(self, name: str, n: int = 1) -> None:
        self.world.features[name] += n

    async def _citizen(self) -> str:
        return await self.world.signin.citizen(self.plan.citizen)

    async def _officer(self, agency: str, role: str) -> str:
        return await self.world.signin.officer(agency, role)

    @property
    def desk(self) -> str:
        """The desk handling the applicant: the reception point, or the competent
        agency for an online dossier."""
        return self.plan.reception_point or self.plan.agency_code

    async def _until(self, read: Callable[[], Any], done: Callable[[Any], bool],
                     what: str, *, timeout: float | None = None) -> Any:
        timeout = self.world.wait_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            value = await read()
            if done(value):
                return value
            if time.monotonic() > deadline:
                raise WaitTimeout(f"{self.code}: {what} (after {timeout:.0f} s)")
            await asyncio.sleep(self.world.poll_s)

    async def _dossier(self, token: str) -> dict[str, Any]:
        return await self._json("intake", "GET", f"/v1/dossiers/{self.code}",
                                route="/v1/dossiers/{code}", token=token)

    async def _wait_dossier(self, token: str, done: Callable[[dict[str, Any]], bool],
                            what: str, *, timeout: float | None = None) -> dict[str, Any]:
        return await self._until(lambda: self._dossier(token), done, what, timeout=timeout)

    def _anomaly(self, kind: str, detail: str) -> None:
        """Record something the mesh got wrong (the story goes on)."""
        self.world.anomalies.append({"kind": kind, "dossier": self.code,
                                     "story": self.plan.outcome, "detail": detail})

    # -- the story -------------------------------------------------------------------

    async def run(self) -> None:
        """Play the story; failures are kept on the journey, never raised."""
        started = time.monotonic()
        try:
            await self._play()
            self.outcome = self.plan.outcome
            self.stage = "done"
        except (ApiError, WaitTimeout, JourneyFailed) as exc:
            self.error = f"{self.stage}: {exc}"
        except Exception as exc:  # a simulator bug: this dossier fails, the run goes on
            self.error = f"{self.stage}: simulator error {type(exc).__name__}: {exc}"
        finally:
            self.seconds = time.monotonic() - started

    async def _play(self) -> None:
        p = self.plan
        self.stage = "submission"
        await self._submit()
        if p.channel != "direct" or p.outcome == "refused":
            self.stage = "reception"
            await self._reception()
            if p.outcome == "refused":
                return
        if p.outcome == "withdrawn":
            self.stage = "withdrawal"
            await self._json("intake", "POST", f"/v1/dossiers/{self.code}/withdrawal",
                             route="/v1/dossiers/{code}/withdrawal",
                             token=await self._citizen(),
                             json={"reason": "Người yêu cầu không còn nhu cầu giải quyết"})
            self._feature("withdrawn")
            return
        if not self.paid:
            self.stage = "payment"
            await self._pay()
        self.stage = "processing"
        await self._process()
        if p.rating is not None:
            self.stage = "rating"
            await self._rate()

    async def _documents(self, components: list[dict[str, Any]], *, supplement: bool = False,
                         token: str | None = None) -> list[dict[str, Any]]:
        """Online: uploads (or the citizen data store); at a desk or by post: paper, and
        originals only shown at the desk."""
        p = self.plan
        documents: list[dict[str, Any]] = []
        for c in components:
            if p.channel == "online":
                if c["code"] in p.from_data_store and not supplement:
                    documents.append({"component_code": c["code"], "source": "data_store",
                                      "data_store_ref": f"kho:{uuid.uuid4()}"})
                    self._feature("documents_from_data_store")
                else:
                    documents.append({"component_code": c["code"], "source": "upload",
                                      "attachment_ids": [await self._upload(c, token)]})
            elif p.channel == "direct" and c.get("form") == "shown_only" and not supplement:
                documents.append({"component_code": c["code"], "source": "shown"})
            else:
                documents.append({"component_code": c["code"], "source": "paper"})
        return documents

    async def _upload(self, component: dict[str, Any], token: str | None) -> str:
        pdf = tiny_pdf(f"{self.plan.procedure.code} {component['code']}")
        body = await self._json(
            "intake", "POST", "/v1/attachments", route="/v1/attachments",
            token=token or await self._citizen(), ok=(201,),
            files={"file": (f"{component['code']}.pdf", pdf, "application/pdf")})
        self._feature("attachments_uploaded")
        return body["id"]

    async def _submit(self) -> None:
        p = self.plan
        chosen = [c for c in p.procedure.components
                  if c.get("required") or c["code"] in p.optional_components]
        online = p.channel == "online"
        token = await self._citizen() if online else \
            await self._officer(self.desk, "receptionist")
        body: dict[str, Any] = {
            "procedure_code": p.procedure.code, "agency_code": p.agency_code,
            "channel": p.channel,
            "applicant": {"kind": "individual", "id_number": p.citizen.personal_id,
                          "full_name": p.citizen.full_name, "phone": p.citizen.phone},
            "documents": await self._documents(chosen, token=token if online else None),
            "exemptions_claimed": list(p.exemptions), "result_delivery": p.result_delivery,
        }
        if not online:
            body["reception_point"] = p.reception_point
        if p.channel == "direct" and p.outcome != "refused":
            body["receive_now"] = True
        dossier = await self._json("intake", "POST", "/v1/dossiers", route="/v1/dossiers",
                                   token=token, json=body, ok=(201,))
        self.code = dossier["code"]
        self._feature(f"channel:{p.channel}")
        if p.exemptions:
            self._feature("exemptions_claimed")
        if dossier["status"] == 2:
            self._feature("received")

    async def _reception(self) -> None:
        p = self.plan
        token = await self._officer(self.desk, "receptionist")
        # The receptionist opens the queue of dossiers waiting for reception.
        await self._json("intake", "GET", "/v1/dossiers", route="/v1/dossiers", token=token,
                         params={"agency": self.desk, "status": 1, "limit": 20})
        if p.outcome == "refused":
            await self._json("intake", "POST", f"/v1/dossiers/{self.code}/refusal",
                             route="/v1/dossiers/{code}/refusal", token=token,
                             json={"reasons": list(p.reasons)})
            self._feature("refused_at_reception")
            return
        await self._json("intake", "POST", f"/v1/dossiers/{self.code}/reception",
                         route="/v1/dossiers/{code}/reception", token=token, json={})
        self._feature("received")

    # -- payment ---------------------------------------------------------------------

    async def _pay(self) -> None:
        """Wait until the dossier asks for payment (status 6), pay what is outstanding,
        wait until the assessment is settled."""
        p = self.plan
        counter = p.pay_by == "counter"
        token = await self._officer(p.agency_code, "receptionist") if counter \
            else await self._citizen()
        try:
            await self._wait_dossier(token, lambda d: d["status"] == PAYMENT,
                                     "the dossier never asked for payment (status 6)",
                                     timeout=self.world.hold_wait_s)
            held = True
        except WaitTimeout:
            held = False
        path = f"/v1/assessments/{self.code}"
        assessment = await self._json("payments", "GET", path,
                                      route="/v1/assessments/{code}", token=token)
        amount = assessment["outstanding_vnd"]
        if not held:
            if assessment["pay_before_processing"] and amount > 0:
                # The portal shows the fee due; the citizen pays it all the same.
                self._anomaly("payment_hold_missing",
                              f"payments asks {amount} VND before processing, but the case "
                              f"never waited for it (status 6) in "
                              f"{self.world.hold_wait_s:.0f} s")
            else:
                self._anomaly("fee_not_as_published",
                              f"the catalog announces {self.plan.due_before} VND before "
                              f"processing; payments assessed {assessment['payable_vnd']} "
                              f"VND, collect {assessment['collect']}")
        if amount > 0:
            if counter:
                body: dict[str, Any] = {"dossier_code": self.code, "method": p.pay_method,
                                        "amount_vnd": amount,
                                        "payer_name": p.citizen.full_name}
                if p.pay_method == "transfer":
                    body["transfer_reference"] = f"FT{uuid.uuid4().hex[:12].upper()}"
                await self._json("payments", "POST", "/v1/counter-payments",
                                 route="/v1/counter-payments", token=token, json=body,
                                 ok=(201,))
                self._feature("payments_counter")
                self._feature("paid_vnd_counter", amount)
            else:
                await self._pay_online(token, amount)
        await self._until(
            lambda: self._json("payments", "GET", path, route="/v1/assessments/{code}",
                               token=token),
            lambda a: a["outstanding_vnd"] == 0, "the payment was not settled")
        self.paid = True

    async def _pay_online(self, token: str, amount: int) -> None:
        abandon = self.plan.abandon_first_payment
        while True:
            payment = await self._json(
                "payments", "POST", "/v1/payments", route="/v1/payments", token=token,
                json={"dossier_code": self.code, "amount_vnd": amount,
                      "payer_name": self.plan.citizen.full_name}, ok=(201,))
            url = payment["payment_url"]
            await self._call(BROWSER, "GET", url, route="gateway GET /pay/{token}")
            action = "cancel" if abandon else "pay"
            answer = await self._call(BROWSER, "POST", url, route="gateway POST /pay/{token}",
                                      data={"action": action}, ok=(303,))
            # The gateway sends the browser back to payments with a signed RETURN.
            await self._call(BROWSER, "GET", answer.headers["location"],
                             route="payments GET /v1/gateway/return")
            if not abandon:
                self._feature("payments_online")
                self._feature("paid_vnd_online", amount)
                return
            abandon = False
            self._feature("payments_abandoned")
            path = f"/v1/payments/{payment['reference']}"
            await self._until(
                lambda path=path: self._json("payments", "GET", path,
                                             route="/v1/payments/{reference}", token=token),
                lambda x: x["status"] != "pending", "the cancelled payment stayed pending")

    # -- processing ------------------------------------------------------------------

    async def _case(self, token: str) -> dict[str, Any]:
        return await self._json("workflow", "GET", f"/v1/cases/{self.code}",
                                route="/v1/cases/{code}", token=token)

    async def _step(self, token: str, case: dict[str, Any]) -> dict[str, Any]:
        ref = case.get("definition") or {}
        key = (ref.get("procedure_code", self.plan.procedure.code), int(ref.get("version", 0)))
        definition = self.world.definitions.get(key)
        if definition is None:
            body = await self._json(
                "workflow", "GET", f"/v1/process-definitions/{key[0]}/versions/{key[1]}",
                route="/v1/process-definitions/{code}/versions/{version}", token=token)
            definition = self.world.definitions[key] = body["definition"]
        for step in definition["steps"]:
            if step["key"] == case["current_step"]:
                return step
        raise JourneyFailed(f"step {case['current_step']!r} is not in the definition")

    async def _act(self, token: str, case: dict[str, Any], body: dict[str, Any]
                   ) -> dict[str, Any]:
        # No expected_version: the timers change a case on their own (due soon, overdue),
        # and the officer acts on the claimed task whatever they recorded.
        return await self._json("workflow", "POST", f"/v1/cases/{self.code}/actions",
                                route="/v1/cases/{code}/actions", token=token, json=body)

    async def _process(self) -> None:
        """Work the case's tasks until the story's end."""
        while True:
            task = await self.world.inboxes.next_task(
                self.holder, self.code or "", exclude=self.handled,
                timeout=self.world.wait_timeout_s)
            self.handled.add(task["id"])
            if task["kind"] == "acknowledge":
                await self._acknowledge(task)
                continue
            role = task.get("role") or "processor"
            token = await self._officer(task["agency_code"], role)
            case = await self._case(token)
            if case["status"] == PAYMENT:
                case = await self._payment_hold(token)
            await self._json("workflow", "POST", f"/v1/tasks/{task['id']}/claim",
                             route="/v1/tasks/{id}/claim", token=token)
            if case["status"] == FINISHED:
                await self._act(token, case, {
                    "action": "return_result",
                    "channel": _RETURN_CHANNEL[self.plan.result_delivery]})
                self._feature("results_returned")
                return
            step = await self._step(token, case)
            if await self._decide(token, case, step):
                return

    async def _payment_hold(self, token: str) -> dict[str, Any]:
        """The case waits for payment although the catalog suggested it would not."""
        if not self.paid:
            self._feature("payments_unexpected")
            self._anomaly("fee_not_as_published",
                          f"the catalog announces {self.plan.due_before} VND before processing"
                          ", but the case waits for payment (status 6)")
            await self._pay()
        return await self._until(lambda: self._case(token),
                                 lambda c: c["status"] != PAYMENT,
                                 "the case did not resume after payment")

    async def _decide(self, token: str, case: dict[str, Any], step: dict[str, Any]) -> bool:
        """Do the story's next action at this step; True when the journey ends here."""
        p = self.plan
        actions = set(step["actions"])
        if self.supplements_left and "request_supplement" in actions:
            await self._request_supplement(token, case)
            return False
        if self.transfer_pending and "transfer" in actions and p.transfer_to is not None:
            target = p.transfer_to
            await self._act(token, case, {
                "action": "transfer", "to_agency_code": target.code,
                "to_level": "province" if target.level == "province" else "commune",
                "reason": "Cần ý kiến của cơ quan có liên quan (liên thông)"})
            self.transfer_pending = False
            self.holder = target.code
            self._feature("transfers")
            return False
        if self.extension_pending and step["role"] in ("processor", "approver"):
            await self._json("workflow", "POST", f"/v1/cases/{self.code}/extension",
                             route="/v1/cases/{code}/extension", token=token,
                             json={"reason": "Hồ sơ cần xác minh thêm, không kịp hạn trả "
                                             "kết quả"})
            self.extension_pending = False
            self._feature("extensions")
            case = await self._case(token)
        if p.outcome == "stopped" and "refuse" in actions:
            await self._act(token, case, {"action": "refuse", "reasons": list(p.reasons)})
            self._feature("stopped")
            return True
        if "complete" in actions:
            pdf = tiny_pdf(f"Ket qua {self.code}")
            await self._act(token, case, {"action": "complete", "result": {
                "name": f"Kết quả: {p.procedure.name}"[:300], "media_type": "application/pdf",
                "sha256": sha256(pdf), "size_bytes": len(pdf),
                "reference": f"motcua-sim://results/{self.code}.pdf"}})
            self._feature("results_issued")
            return False
        if self.send_back_pending and "send_back" in actions:
            await self._act(token, case, {"action": "send_back",
                                          "note": "Đề nghị thẩm định lại"})
            self.send_back_pending = False
            self._feature("sent_back")
            return False
        for action in (p.approval, "approve", "sign", "forward"):
            if action in actions:
                await self._act(token, case, {"action": action})
                self._feature(f"handed_over:{action}")
                if p.outcome == "in_progress" and action == "forward":
                    self._feature("left_in_progress")
                    return True
                return False
        raise JourneyFailed(f"nothing in {sorted(actions)} moves the story on at "
                            f"step {step['key']!r}")

    async def _request_supplement(self, token: str, case: dict[str, Any]) -> None:
        p = self.plan
        components = p.procedure.required() or list(p.procedure.components)
        wanted = components[(p.supplements - self.supplements_left) % len(components)]
        await self._act(token, case, {
            "action": "request_supplement", "items": [wanted["name_vi"][:2000]],
            "reason": "Thành phần hồ sơ chưa hợp lệ"})
        self.supplements_left -= 1
        self._feature("supplements_requested")
        # The applicant answers online; a desk records what came by hand or by post.
        online = p.channel == "online"
        answer_token = await self._citizen() if online else \
            await self._officer(self.desk, "receptionist")
        dossier = await self._wait_dossier(
            answer_token, lambda d: d["status"] == SUPPLEMENT and any(
                a.get("request_id") for a in d.get("awaited") or []),
            "the supplement request did not reach the applicant")
        request_id = [a["request_id"] for a in dossier["awaited"] if a.get("request_id")][-1]
        documents = await self._documents([wanted], supplement=True,
                                          token=answer_token if online else None)
        await self._json("intake", "POST", f"/v1/dossiers/{self.code}/supplements",
                         route="/v1/dossiers/{code}/supplements", token=answer_token,
                         json={"documents": documents, "supplement_request_id": request_id,
                               "note": "Bổ sung theo phiếu yêu cầu"})
        self._feature("supplements_supplied")

    async def _acknowledge(self, task: dict[str, Any]) -> None:
        token = await self._officer(task["agency_code"], "processor")
        await self._json("workflow", "POST", f"/v1/tasks/{task['id']}/claim",
                         route="/v1/tasks/{id}/claim", token=token)
        await self._json("workflow", "POST", f"/v1/cases/{self.code}/actions",
                         route="/v1/cases/{code}/actions", token=token,
                         json={"action": "acknowledge"})
        self._feature("transfers_acknowledged")

    # -- after the result ------------------------------------------------------------

    async def _rate(self) -> None:
        p = self.plan
        token = await self._citizen()
        # The citizen rates once the dossier shows the result handed over (10): rating
        # while intake still shows 9 would send a rating event carrying status 9 after
        # workflow's 10, which metrics takes as the dossier's current status.
        await self._wait_dossier(token, lambda d: d["status"] == RETURNED,
                                 "the returned result never showed in the dossier")
        body: dict[str, Any] = {"score": p.rating, "complaint": p.complaint}
        if p.comment:
            body["comment"] = p.comment
        await self._json("intake", "POST", f"/v1/dossiers/{self.code}/rating",
                         route="/v1/dossiers/{code}/rating", token=token, json=body)
        self._feature("ratings")
        self._feature(f"rating:{p.rating}")
        if p.complaint:
            self._feature("complaints")
