"""payments settings: ``MOTCUA_PAYMENTS_*`` then ``MOTCUA_*``."""

from __future__ import annotations

from pydantic import Field, model_validator

from motcua.config import service_settings
from motcua_payments.simulator.config import DEV_GATEWAY_SECRET

_Base = service_settings("payments")

#: Applicant categories and the fee kinds they are exempt from. Placeholder defaults
#: [unconfirmed]: exemptions differ per procedure and per provincial resolution, so every
#: deployment sets its own (``MOTCUA_PAYMENTS_EXEMPTION_RULES`` as JSON).
DEFAULT_EXEMPTIONS: dict[str, list[str]] = {
    "poor_household": ["fee", "charge"],
    "person_with_merit": ["fee", "charge"],
    "ethnic_minority_disadvantaged_area": ["fee"],
    "person_with_disability": ["fee"],
}


class Settings(_Base):  # type: ignore[misc, valid-type]
    """Settings of payments: the gateway, reconciliation timing, receipts, exemptions."""

    gateway_url: str = Field("http://127.0.0.1:8110",
                             description="National payment platform (by default the "
                                         "simulator, at its port)")
    gateway_partner_code: str = Field("MOTCUA", description="MaDoiTac issued to the province")
    gateway_secret: str = Field(DEV_GATEWAY_SECRET,
                                description="Checksum secret shared with the platform")
    gateway_timeout_s: float = 10.0
    #: The guard in front of the gateway (motcua.guard): at most this many commands
    #: waiting for the platform at once, the next refused at once (503 gateway.busy).
    gateway_max_calls: int = Field(default=16, ge=1)
    #: After this many failures in a row (timeouts, refused connections, 5xx, unreadable
    #: answers; not refusals), commands are refused for ``gateway_pause_s`` (503
    #: gateway.paused), then one trial command decides whether the pause ends.
    gateway_failures_to_pause: int = Field(default=5, ge=1)
    gateway_pause_s: float = Field(default=30.0, gt=0)
    #: Base URL of this service as the gateway and citizens' browsers reach it (by
    #: default this host at payments' port).
    public_base_url: str = "http://127.0.0.1:8103"
    #: Early reconciliation: QUERY online payments still pending after this long.
    early_reconcile_after_s: float = 300.0
    #: How often the reconciliation loop wakes up.
    reconcile_poll_s: float = 60.0
    #: An online payment is written before its INIT is sent and confirmed (its URL and
    #: event recorded) after the answer, with no transaction open while the platform is
    #: waited for. One still without a URL this long after it was requested was never
    #: confirmed (payments stopped in between): it is discarded, which frees the
    #: dossier's pending slot. Until then another request for the dossier gets 409
    #: payment.already_pending with Retry-After. At least 2 × ``gateway_timeout_s`` + 30 s.
    payment_init_grace_s: float = Field(default=120.0, gt=0)
    #: An unpaid online payment request expires (fails) after this long.
    payment_expiry_s: float = 24 * 3600.0
    #: Daily statement reconciliation of the previous business day, at this local time.
    daily_reconcile_at: str = "02:00"
    daily_reconcile_enabled: bool = True
    #: Receipt template (mẫu số) and symbols (ký hiệu) per Decree 123/2020 [unconfirmed
    #: formats: configurable]; ``{yy}`` is the two-digit year of issue.
    receipt_template: str = "01BLP0-001"
    receipt_symbol: str = "BL{yy}E"
    refund_receipt_symbol: str = "HT{yy}E"
    exemption_rules: dict[str, list[str]] = Field(default_factory=lambda: dict(
        DEFAULT_EXEMPTIONS))
    #: Agencies whose auditors and agency admins oversee payments province-wide
    #: (statement reconciliation, the whole ledger, every gateway callback), e.g. the
    #: provincial Department of Finance. JSON list; empty: only services with the scope
    #: ``payments.reconcile`` see payments province-wide.
    oversight_agencies: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _grace_beyond_timeout(self) -> Settings:
        # INIT is given up after 2 × gateway_timeout_s; 30 s more covers the waits for a
        # database connection before and after it.
        least = 2 * self.gateway_timeout_s + 30
        if self.payment_init_grace_s < least:
            raise ValueError(f"payment_init_grace_s ({self.payment_init_grace_s}) must be at "
                             f"least 2 × gateway_timeout_s + 30 s ({least})")
        return self

    @model_validator(mode="after")
    def _production_gateway(self) -> Settings:
        # The defaults are the local simulator's: in production the platform's address
        # and the secret it signs with must be given (the default secret is public, and
        # with it anyone could forge a payment callback).
        if self.environment == "production":
            missing = [f"MOTCUA_PAYMENTS_{name.upper()}" for name in
                       ("gateway_url", "gateway_partner_code", "gateway_secret",
                        "public_base_url")
                       if name not in self.model_fields_set or not getattr(self, name)]
            if missing:
                raise ValueError(f"{', '.join(missing)} must be set in production (the "
                                 "defaults are the local simulator's)")
            if self.gateway_secret == DEV_GATEWAY_SECRET or len(self.gateway_secret) < 16:
                raise ValueError("MOTCUA_PAYMENTS_GATEWAY_SECRET must be the platform's "
                                 "secret (16 characters or more), not the development one")
        return self

    @model_validator(mode="after")
    def _at_configured_ports(self) -> Settings:
        # Defaults that follow the ports `motcua up` is given (MOTCUA_PAYMENTS_PORT,
        # MOTCUA_PAYMENTS_SIMULATOR_PORT) rather than the port table's.
        if "public_base_url" not in self.model_fields_set:
            self.public_base_url = self.local_url(self.resolved_port())
        if "gateway_url" not in self.model_fields_set:
            from motcua_payments.simulator.config import SimulatorSettings

            self.gateway_url = self.local_url(SimulatorSettings().resolved_port())
        return self
