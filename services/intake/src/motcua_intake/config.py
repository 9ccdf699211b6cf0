"""Intake settings: ``MOTCUA_INTAKE_*`` then ``MOTCUA_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from motcua.config import service_settings


class Settings(service_settings("intake")):  # type: ignore[misc]
    """Intake's own settings on top of the kit's service settings."""

    #: Base URL citizens reach the public tracking page on (printed as a QR code);
    #: by default this host at intake's port (``MeshSettings.local_url``).
    public_base_url: str = "http://127.0.0.1:8101"
    #: Dossier code format: ``local`` (Circular 01/2018, ``<agency>-YYMMDD-XXXX``) or
    #: ``centralised`` (Circular 04/2025, ``<agency left-to-right>-YYMMDD-AAXXXX``).
    code_format: Literal["local", "centralised"] = "local"
    #: The two digits AA of the system owner in the centralised format.
    system_owner_code: str = Field("01", pattern=r"^\d{2}$")
    #: Deployment overrides of the working calendar (TOML, see motcua.calendar).
    calendar_overrides: Path | None = None
    #: Attachments: where the local store keeps files (default ``<data dir>/attachments``),
    #: the largest file accepted, and how long an upload may stay unattached.
    attachment_dir: Path | None = None
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_orphan_hours: float = 24.0
    #: Public tracking: token bucket per client IP (burst, then ``per_minute``), and wrong
    #: second factors allowed per dossier code within ``tracking_lock_minutes``.
    tracking_burst: int = 10
    tracking_per_minute: float = 10.0
    tracking_max_failures: int = 5
    tracking_lock_minutes: float = 15.0
    #: Open dossiers due within this many hours count as "due soon" in officer lists.
    due_soon_hours: int = 24

    @model_validator(mode="after")
    def _public_address_in_production(self) -> Settings:
        # The default (this host) would be printed on every receipt's QR code.
        if self.environment == "production" and (
                "public_base_url" not in self.model_fields_set or not self.public_base_url):
            raise ValueError("MOTCUA_INTAKE_PUBLIC_BASE_URL (where citizens reach the "
                             "tracking page, printed on receipts) must be set in production")
        return self

    @model_validator(mode="after")
    def _at_own_port(self) -> Settings:
        if "public_base_url" not in self.model_fields_set:
            self.public_base_url = self.local_url(self.resolved_port())
        return self

    def resolved_attachment_dir(self) -> Path:
        """The local attachment directory."""
        return (self.attachment_dir or self.data_dir / "attachments").resolve()
