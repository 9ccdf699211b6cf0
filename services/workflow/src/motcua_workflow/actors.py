"""Who acts on a case. Authentication is issue 5: until it lands, action bodies name the
officer, and these types are what a later ``CurrentOfficer`` dependency will produce."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Actor(BaseModel):
    """An officer acting for an agency in a role (cán bộ, công chức)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=100, description="Officer id")
    role: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$",
                      description="Role, e.g. specialist, leader, desk_officer")
    agency_code: str = Field(pattern=r"^[0-9A-Z.]{1,35}$", description="Agency acted for")


#: Workflow itself (durable timers, bundle coordination).
SYSTEM = Actor(id="system:workflow", role="system", agency_code="SYSTEM")
#: Intake's desk, as reported by its events.
INTAKE = Actor(id="system:intake", role="system", agency_code="SYSTEM")
