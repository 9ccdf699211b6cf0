"""How the `motcua` command can run the simulator next to the services (see docs/payments.md).

Registered under the ``motcua.extras`` entry-point group: an app with no database and no
NATS, started by ``motcua up`` before the services and by ``motcua serve NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from motcua_payments.simulator.app import create_app
from motcua_payments.simulator.config import NotForProduction, SimulatorSettings


@dataclass(frozen=True)
class ExtraSpec:
    """An auxiliary app: name, settings class (with its port), app factory."""

    name: str
    settings: type[Any]
    create_app: Any

    def available(self) -> bool:
        """Whether it runs here: not in production, where its settings refuse it
        (`motcua up` skips it there). Settings refused for another reason are raised."""
        try:
            self.settings()
        except ValidationError as exc:
            if all(isinstance(e.get("ctx", {}).get("error"), NotForProduction)
                   for e in exc.errors()):
                return False
            raise
        return True


SIMULATOR = ExtraSpec("payments-simulator", SimulatorSettings, create_app)
