"""Simulator settings: ``MOTCUA_PAYMENTS_SIMULATOR_*`` then ``MOTCUA_*``."""

from __future__ import annotations

from pydantic import Field, model_validator

from motcua.config import DEFAULT_PORTS, service_settings

#: The simulator's checksum secret: public, refused by payments in production.
DEV_GATEWAY_SECRET = "motcua-dev-secret"


class NotForProduction(ValueError):
    """The simulator refuses to run in production."""

_Base = service_settings("payments-simulator")

#: Where ``motcua up`` runs the simulator (next to the services' 8101–8105).
SIMULATOR_PORT = 8110


class SimulatorSettings(_Base):  # type: ignore[misc, valid-type]
    """How the simulated platform behaves."""

    port: int = SIMULATOR_PORT
    #: The checksum secret any partner code may use (development) …
    secret: str = DEV_GATEWAY_SECRET
    #: … unless partners are listed: partner code (MaDoiTac) → its secret.
    partners: dict[str, str] = Field(default_factory=dict)
    #: Where browsers reach it (by default this host at its port).
    public_url: str = f"http://127.0.0.1:{SIMULATOR_PORT}"
    #: IPN target when INIT names none (by default payments on this host, at its port).
    default_ipn_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['payments']}/v1/gateway/ipn"
    #: Delays between IPN retries while the partner answers 5xx or cannot be reached.
    ipn_retry_delays_s: list[float] = [1.0, 5.0, 30.0, 120.0, 600.0]

    @model_validator(mode="after")
    def _not_in_production(self) -> SimulatorSettings:
        if self.environment == "production":
            raise NotForProduction("the payment platform simulator is for development and "
                                   "tests only (its secret is public)")
        return self

    @model_validator(mode="after")
    def _at_configured_ports(self) -> SimulatorSettings:
        # Defaults that follow the ports `motcua up` is given (its own,
        # MOTCUA_PAYMENTS_PORT) rather than the port table's.
        if "public_url" not in self.model_fields_set:
            self.public_url = self.local_url(self.resolved_port())
        if "default_ipn_url" not in self.model_fields_set:
            payments = service_settings("payments")().resolved_port()
            self.default_ipn_url = f"{self.local_url(payments)}/v1/gateway/ipn"
        return self
