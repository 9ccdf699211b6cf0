"""Simulator settings: ``MOTCUA_PAYMENTS_SIMULATOR_*`` then ``MOTCUA_*``."""

from __future__ import annotations

from pydantic import Field

from motcua.config import service_settings

_Base = service_settings("payments-simulator")

#: Where ``motcua up`` runs the simulator (next to the services' 8101–8105).
SIMULATOR_PORT = 8110


class SimulatorSettings(_Base):  # type: ignore[misc, valid-type]
    """How the simulated platform behaves."""

    port: int = SIMULATOR_PORT
    #: The checksum secret any partner code may use (development) …
    secret: str = "motcua-dev-secret"
    #: … unless partners are listed: partner code (MaDoiTac) → its secret.
    partners: dict[str, str] = Field(default_factory=dict)
    public_url: str = f"http://127.0.0.1:{SIMULATOR_PORT}"
    #: IPN target when INIT names none.
    default_ipn_url: str = "http://127.0.0.1:8103/v1/gateway/ipn"
    #: Delays between IPN retries while the partner answers 5xx or cannot be reached.
    ipn_retry_delays_s: list[float] = [1.0, 5.0, 30.0, 120.0, 600.0]
