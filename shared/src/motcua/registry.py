"""How the `motcua` command finds the services: the ``motcua.services`` entry points.

Each service package declares one :class:`ServiceSpec`; the kit never imports a service
by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from motcua.config import ServiceSettings

#: Start order (also the port order 8101–8105).
ORDER = ("intake", "workflow", "payments", "identity-bridge", "metrics")


@dataclass(frozen=True)
class ServiceSpec:
    """What the command needs to know about one service."""

    name: str
    settings: type[ServiceSettings]
    create_app: Callable[..., FastAPI]
    migrations_dir: Path
    seed: Callable[[ServiceSettings], Awaitable[Any]] | None = None
    #: Operator commands: `motcua <service> <task> [args…]` calls ``tasks[task](args)``.
    tasks: dict[str, Callable[[list[str]], int]] = field(default_factory=dict)


def discover() -> dict[str, ServiceSpec]:
    """All installed services, in start order."""
    found: dict[str, ServiceSpec] = {}
    for ep in entry_points(group="motcua.services"):
        spec = ep.load()
        found[spec.name] = spec
    return {name: found[name] for name in sorted(found, key=_order)}


def discover_extras() -> dict[str, Any]:
    """Companion apps (``motcua.extras`` entry points), e.g. the payment gateway simulator.

    Each has ``settings`` and ``create_app`` like a service, but no database or events of
    the mesh; `motcua up` starts them after the services.
    """
    return {ep.name: ep.load() for ep in entry_points(group="motcua.extras")}


def load(name: str) -> ServiceSpec | Any | None:
    """One service or companion app by name, importing nothing else (a process serving
    one service should not import, and run the import-time hooks of, the others)."""
    for group in ("motcua.services", "motcua.extras"):
        for ep in entry_points(group=group, name=name):
            return ep.load()
    return None


def names() -> list[str]:
    """The names of all installed services and companion apps (nothing imported)."""
    found = {ep.name for group in ("motcua.services", "motcua.extras")
             for ep in entry_points(group=group)}
    return sorted(found, key=_order)


def _order(name: str) -> int:
    return ORDER.index(name) if name in ORDER else len(ORDER)
