"""The CloudEvents-style envelope and the base class of every event contract.

An event's ``type`` is versioned (``vn.motcua.intake.dossier.received.v1``); within a
version, changes are additive only. Its NATS subject is
``motcua.<province>.<service>.<aggregate>.<event>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from motcua.db import utcnow
from motcua.ids import new_id
from motcua.logging import causation_id_var, correlation_id_var


class EventData(BaseModel):
    """Base class of an event payload; subclasses set the class variables below."""

    model_config = ConfigDict(extra="allow", frozen=True)

    service: ClassVar[str]
    aggregate: ClassVar[str]
    event: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        """The versioned CloudEvents type."""
        return f"vn.motcua.{cls.service}.{cls.aggregate}.{cls.event}.v{cls.version}"

    @classmethod
    def subject(cls, province: str) -> str:
        """The NATS subject this event is published on."""
        return subject(province, cls.service, cls.aggregate, cls.event)


def subject(province: str, service: str, aggregate: str, event: str) -> str:
    """``motcua.<province>.<service>.<aggregate>.<event>``."""
    return f"motcua.{province}.{service}.{aggregate}.{event}"


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes in JSON, plus correlation, causation and aggregate sequence."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str
    type: str
    source: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    causationid: str | None = None
    #: Version of the aggregate after this change, so consumers can order and skip stale events.
    sequence: int | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(cls, data: EventData, *, province: str, key: str,
             sequence: int | None = None) -> Envelope:
        """Envelope an event about aggregate ``key``, carrying the current correlation."""
        event_id = new_id()
        return cls(
            id=event_id,
            type=data.event_type(),
            source=f"/motcua/{province}/{data.service}",
            subject=key,
            time=utcnow(),
            correlationid=correlation_id_var.get() or event_id,
            causationid=causation_id_var.get(),
            sequence=sequence,
            data=data.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Parse and validate an envelope."""
        return cls.model_validate_json(raw)
