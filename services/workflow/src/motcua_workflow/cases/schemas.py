"""Response bodies of the case endpoints."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CaseRead(BaseModel):
    """A case."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    dossier_code: str
    agency_code: str
    procedure_code: str
    status: int
    opened_at: datetime
    version: int
