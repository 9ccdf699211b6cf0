"""What happens to each simulated dossier, drawn up front from the seed.

A plan is drawn from ``random.Random(f"{seed}/{index}")`` alone, so dossier *n* of a
seed always gets the same procedure, channel, applicant and story, however the run's
concurrency interleaves them. The mix of stories (:data:`OUTCOMES`) and channels is a
plausible day of a provincial one-stop shop, not official figures.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from motcua.simulate.catalog import Agency, Procedure, due_before_processing, exemptions_of
from motcua.simulate.people import Citizen

#: Story → weight. Every story but the last three ends with the result returned (10).
OUTCOMES: dict[str, float] = {
    "returned": 0.55,          # received, processed along the definition, returned
    "supplemented": 0.12,      # one supplement request answered, then returned
    "late": 0.03,              # two supplement requests (late by rule), then returned
    "transferred": 0.08,       # transferred to another agency (liên thông), returned there
    "extended": 0.05,          # apology slip and extension, then returned
    "in_progress": 0.07,       # left with the approver at the end of the run (status 4)
    "refused": 0.04,           # refused at reception (status 3)
    "stopped": 0.03,           # processing stopped with reasons (status 8)
    "withdrawn": 0.03,         # withdrawn by the applicant after reception (status 7)
}
#: National status each story ends in.
FINAL_STATUS = {"returned": 10, "supplemented": 10, "late": 10, "transferred": 10,
                "extended": 10, "in_progress": 4, "refused": 3, "stopped": 8, "withdrawn": 7}
CHANNELS = {"online": 0.45, "direct": 0.45, "postal": 0.10}
#: Rating scores 1..5 and their weights (most citizens who rate are satisfied).
SCORES = (0.04, 0.06, 0.10, 0.30, 0.50)
_LEVEL_WEIGHT = {"commune": 3.0, "province": 1.5}

_REFUSAL_REASONS = (
    "Hồ sơ chưa đủ thành phần theo quy định",
    "Thủ tục không thuộc thẩm quyền giải quyết của cơ quan",
    "Giấy tờ tùy thân đã hết hạn sử dụng",
)
_STOP_REASONS = (
    "Người yêu cầu không đủ điều kiện theo quy định",
    "Kết quả xác minh không khớp với thông tin kê khai",
)
_COMMENTS = ("Cán bộ hướng dẫn nhiệt tình.", "Thời gian chờ hơi lâu.",
             "Thủ tục nhanh gọn.", "Cần hướng dẫn rõ hơn về giấy tờ.", None, None)


@dataclass(frozen=True)
class Plan:
    """The story of one dossier."""

    index: int
    outcome: str
    procedure: Procedure
    channel: str
    agency_code: str
    #: The desk that receives it (direct and postal); None online.
    reception_point: str | None
    citizen: Citizen
    result_delivery: str
    exemptions: tuple[str, ...]
    #: Optional components handed in as well.
    optional_components: tuple[str, ...]
    #: Components taken from the citizen data store instead of uploaded (online).
    from_data_store: tuple[str, ...]
    #: VND the catalog says is due before processing (0: no payment expected first).
    due_before: int
    #: "online" (gateway) or "counter" (cash or transfer at the desk).
    pay_by: str
    pay_method: str
    #: The first online attempt is cancelled on the gateway's page, then paid.
    abandon_first_payment: bool
    #: The approver sends the case back to the processor once.
    send_back: bool
    #: How the approver hands the case on: "approve" or "sign".
    approval: str
    supplements: int
    transfer_to: Agency | None
    rating: int | None
    complaint: bool
    comment: str | None
    reasons: tuple[str, ...] = field(default=())

    @property
    def final_status(self) -> int:
        """The national status the story ends in."""
        return FINAL_STATUS[self.outcome]


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def draw(seed: int | str, index: int, procedures: list[Procedure],
         agencies: dict[str, Agency], citizens: list[Citizen], today: date, *,
         outcome: str | None = None) -> Plan:
    """The plan of dossier ``index`` (``outcome`` forces the story)."""
    rng = random.Random(f"{seed}/{index}")
    story = outcome or _weighted(rng, OUTCOMES)
    candidates = procedures
    if story in ("supplemented", "late"):
        # A supplement names a component of the procedure.
        candidates = [p for p in procedures if p.components] or procedures
    procedure = rng.choices(candidates, weights=[_LEVEL_WEIGHT.get(p.level, 1.0)
                                                 for p in candidates])[0]
    if not procedure.components and story in ("supplemented", "late"):
        story = "returned"
    channel = _weighted(rng, CHANNELS)
    citizen = rng.choice(citizens)
    if channel == "online":
        reception_point = None
        agency_code = rng.choice(procedure.agencies)
    else:
        reception_point = rng.choice(procedure.reception_points)
        agency_code = reception_point if reception_point in procedure.agencies \
            else rng.choice(procedure.agencies)
    delivery = {"online": rng.choice(("online", "desk")), "direct": "desk",
                "postal": "postal"}[channel]
    due = due_before_processing(procedure, channel, today)
    # Exemptions are claimed only where nothing priced is payable (the exemption rules
    # are payments' configuration, not published): the wait for payment stays predictable.
    exemptions = tuple(rng.sample(exemptions_of(procedure), 1)) \
        if due == 0 and exemptions_of(procedure) and rng.random() < 0.2 else ()
    optional = tuple(c["code"] for c in procedure.optional() if rng.random() < 0.3)
    from_store = tuple(c["code"] for c in procedure.components
                       if c.get("from_data_store") and rng.random() < 0.5)
    pay_by = "online" if channel != "direct" or rng.random() < 0.3 else "counter"
    others = [a for code, a in sorted(agencies.items()) if code != agency_code]
    transfer_to = rng.choice(others) if story == "transferred" and others else None
    if story == "transferred" and transfer_to is None:
        story = "returned"
    rated = FINAL_STATUS[story] == 10 and rng.random() < 0.6
    score = rng.choices(range(1, 6), weights=SCORES)[0] if rated else None
    reasons = ()
    if story == "refused":
        reasons = tuple(rng.sample(_REFUSAL_REASONS, rng.randint(1, 2)))
    elif story == "stopped":
        reasons = (rng.choice(_STOP_REASONS),)
    return Plan(
        index=index, outcome=story, procedure=procedure, channel=channel,
        agency_code=agency_code, reception_point=reception_point, citizen=citizen,
        result_delivery=delivery, exemptions=exemptions, optional_components=optional,
        from_data_store=from_store, due_before=due, pay_by=pay_by,
        pay_method=rng.choice(("cash", "cash", "transfer")),
        abandon_first_payment=rng.random() < 0.1, send_back=rng.random() < 0.08,
        approval=rng.choice(("approve", "sign")),
        supplements={"supplemented": 1, "late": 2}.get(story, 0), transfer_to=transfer_to,
        rating=score, complaint=bool(score is not None and score <= 2 and rng.random() < 0.5),
        comment=rng.choice(_COMMENTS) if score is not None else None, reasons=reasons)
