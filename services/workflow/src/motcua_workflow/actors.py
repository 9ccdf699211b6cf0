"""Who acts on a case, as recorded in the process log and on events.

An officer's :class:`Actor` is built from their mesh token (``access.acting``): the id
is the token's subject, never a field of a request body.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Actor(BaseModel):
    """An officer acting for an agency in a role (cán bộ, công chức)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=100, description="Officer id")
    role: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$",
                      description="Role acted in, e.g. processor, approver, receptionist")
    agency_code: str = Field(pattern=r"^[0-9A-Z.]{1,35}$", description="Agency acted for")


#: Workflow itself (durable timers, bundle coordination).
SYSTEM = Actor(id="system:workflow", role="system", agency_code="SYSTEM")
#: Intake's desk, as reported by its events.
INTAKE = Actor(id="system:intake", role="system", agency_code="SYSTEM")
