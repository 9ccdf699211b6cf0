"""Versioned event payloads, one module per producing service.

A consumer imports the contract, never the producer's code. :data:`REGISTRY` maps each
``type`` to its payload class.
"""

from motcua.contracts import identity, intake, metrics, payments, workflow
from motcua.events import EventData

_MODULES = (intake, workflow, payments, identity, metrics)

REGISTRY: dict[str, type[EventData]] = {
    cls.event_type(): cls
    for module in _MODULES
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, EventData) and cls is not EventData
    and hasattr(cls, "event")
}

__all__ = ["REGISTRY", "identity", "intake", "metrics", "payments", "workflow"]
