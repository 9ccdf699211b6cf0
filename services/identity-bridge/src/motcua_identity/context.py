"""What identity-bridge's entry points share: settings, keys, providers, population."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from motcua_identity.config import Settings
    from motcua_identity.keys.service import KeyRing
    from motcua_identity.login.oidc import OidcClient
    from motcua_identity.population.registry import PopulationRegistry


@dataclass
class Identity:
    """Stored on ``app.state.identity``."""

    settings: Settings
    keys: KeyRing
    population: PopulationRegistry
    #: OpenID providers by audience ("citizen", "staff").
    providers: dict[str, OidcClient] = field(default_factory=dict)


async def identity(request: Request) -> Identity:
    """The service's shared context."""
    return request.app.state.identity


IdentityDep = Annotated[Identity, Depends(identity)]
