"""How the `motcua` command runs workflow."""

from __future__ import annotations

from motcua.config import ServiceSettings
from motcua.db import create_engine, session_factory
from motcua.registry import ServiceSpec
from motcua_workflow import migrations_dir
from motcua_workflow.config import Settings
from motcua_workflow.context import Workflow
from motcua_workflow.definitions import service as definitions
from motcua_workflow.main import create_app


async def seed(settings: ServiceSettings) -> str:
    """Store the default process definitions of the seeded procedures (idempotent)."""
    wf = Workflow.build(settings if isinstance(settings, Settings)
                        else Settings(**settings.model_dump()))
    engine = create_engine(settings.resolved_database_url())
    try:
        async with session_factory(engine)() as session, session.begin():
            added = await definitions.seed_defaults(session, now=wf.clock.now())
    finally:
        await engine.dispose()
    return f"{added} default process definition(s) added"


SERVICE = ServiceSpec("workflow", Settings, create_app, migrations_dir(), seed=seed)
